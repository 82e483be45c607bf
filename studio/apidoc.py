"""The `generate` endpoint described for API and MCP clients, written from wiro.spec.

Gradio's MCP server names a tool after its function and reads the tool's description and
each parameter's from the function's docstring ("Args:" lines, one line per parameter), so
`describe_generate` sets both on the endpoint's function.
"""
from __future__ import annotations

from typing import Callable

from wiro import spec
from wiro.uploads import MAX_REFERENCE_MEGAPIXELS

TOOL_NAME = "generate"


def _range(field: spec.ModelInput) -> str:
    text = f"Whole number from {field.minimum} to {field.maximum}"
    if field.step and field.step > 1:
        text += f", a multiple of {field.step}"
    if field.zero_means_match_input:
        text += ", or 0 to match the first input image"
    return text + f"; default {field.default}."


def parameter_help(field: spec.ModelInput) -> str:
    """One line on one input: the spec's help text, then its range or choices."""
    if field is spec.INPUT_IMAGE:
        return (f"Reference images to edit or combine, 0 to {field.max_items}, as public "
                "http(s) image URLs, in order: the prompt calls them image 1, image 2, and so "
                f"on. Together at most {spec.MAX_INPUT_MEGAPIXELS:g} MP; larger images are "
                f"downscaled (to {MAX_REFERENCE_MEGAPIXELS:g} MP each at most) before sending. "
                "Leave empty to make an image from the prompt alone.")
    text = field.help.strip()
    if text and not text.endswith("."):
        text += "."
    if field.kind == "number":
        text += " " + _range(field)
    elif field.options:
        choices = " or ".join(f'"{o.value}"' for o in field.options)
        text += f" One of {choices}; default \"{field.default}\"."
    elif field is spec.PROMPT:
        text += (" Required. Describe the image, or the edit; refer to reference images as "
                 "image 1, image 2, ...")
    return " ".join(text.split())


def docstring() -> str:
    lines = [
        f"Generate one image with Black Forest Labs' {spec.MODEL_TITLE} on Wiro, from a "
        "prompt alone or from the prompt and up to "
        f"{spec.MAX_REFERENCE_IMAGES} reference images, and return it with the run's details.",
        "",
        "Args:",
    ]
    lines += [f"    {field.name}: {parameter_help(field)}" for field in spec.INPUTS]
    lines += [
        "",
        "Returns:",
        "    The generated image file (PNG or JPEG, as outputFormat asks), and the run's "
        "details: task id, seed, width, height, format, seconds taken and cost in USD.",
    ]
    return "\n".join(lines)


def describe_generate(fn: Callable) -> Callable:
    """Name `fn` as the MCP tool `generate` and give it the spec's descriptions."""
    fn.__name__ = TOOL_NAME
    fn.__qualname__ = TOOL_NAME
    fn.__doc__ = docstring()
    return fn
