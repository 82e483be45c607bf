"""Reading a Run request's fields the way Wiro does: its checks, its messages, its order.

Fields arrive as an ordered list of (name, value) pairs, whatever the body was (JSON,
multipart or urlencoded), because `inputImage` is a combinefileinput: each entry is its own
repeated field, a file or a URL, and their order is the order of the reference images.
"""
from __future__ import annotations

import math
import mimetypes
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from .. import spec
from . import messages as msg
from .images import image_size
from .messages import WiroReply

CALLBACK_FIELD = "callbackUrl"
# The `{id}Url` form of a file input (model-parameters.md), as n8n-nodes-wiroai's Flux 2 Pro
# node sends it: URL references, comma-separated, taken with inputImage's in arrival order.
URL_FIELD = f"{spec.INPUT_IMAGE.name}Url"


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes = field(repr=False)


Field = tuple[str, "str | UploadedFile"]


@dataclass(frozen=True)
class InputImage:
    """One reference image as it arrived: an uploaded file or a URL."""

    kind: str  # "file" or "url"
    source: str  # the uploaded file's name, or the URL/name exactly as sent
    url: str  # absolute URL, or for files the simulator path they are served at
    content_type: str = ""
    data: bytes | None = field(default=None, repr=False)
    # Known only for uploads: the simulator never fetches a URL.
    size: tuple[int, int] | None = None

    def public_url(self, base_url: str) -> str:
        return base_url + self.url if self.kind == "file" else self.url

    def describe(self, base_url: str) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "url": self.public_url(base_url),
            "contenttype": self.content_type,
            "bytes": len(self.data) if self.data is not None else None,
            "width": self.size[0] if self.size else None,
            "height": self.size[1] if self.size else None,
        }


@dataclass(frozen=True)
class RunInputs:
    prompt: str
    width: int  # 0: match the first input image
    height: int
    safety_tolerance: int
    seed: int
    output_format: str
    images: tuple[InputImage, ...]
    parameters: dict[str, str]  # every scalar field as received, for the task's "parameters"
    callback_url: str = ""


def _text(value: str | UploadedFile) -> str:
    return value if isinstance(value, str) else value.filename


def _number(inp: spec.ModelInput, raw: str | None) -> float:
    if raw is None or raw.strip() == "":
        # Wiro's help: leaving width/height out means "match the input image".
        return 0 if inp.zero_means_match_input else inp.default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise WiroReply.error(0, msg.PARAM_NOT_NUMBER.format(name=inp.name))
    if value == 0 and inp.zero_means_match_input:
        return 0
    if not inp.minimum <= value <= inp.maximum:
        raise WiroReply.error(0, msg.PARAM_OUT_OF_RANGE.format(
            name=inp.name, min=inp.minimum, max=inp.maximum))
    if inp.zero_means_match_input and value % spec.SIZE_MULTIPLE:  # width and height
        raise WiroReply.error(0, msg.PARAM_NOT_MULTIPLE.format(name=inp.name,
                                                               step=spec.SIZE_MULTIPLE))
    return value


def _extension(filename: str, content_type: str) -> str:
    ext = os.path.splitext(filename)[1].lstrip(".").lower()
    if not ext:
        ext = (mimetypes.guess_extension(content_type or "") or ".bin").lstrip(".")
    return "jpg" if ext == "jpe" else ext


def _images(values: Sequence[str | UploadedFile], file_path: Callable[[str], str],
            uploaded: Callable[[str], InputImage | None]) -> list[InputImage]:
    images: list[InputImage] = []
    for value in values:
        if isinstance(value, UploadedFile):
            content_type = value.content_type or mimetypes.guess_type(value.filename)[0] or ""
            images.append(InputImage(
                kind="file", source=value.filename,
                url=file_path(_extension(value.filename, content_type)),
                content_type=content_type, data=value.data, size=image_size(value.data)))
            continue
        # A string may hold several comma-separated URLs (the seed's inspirations do).
        for part in (p.strip() for p in value.split(",")):
            own = uploaded(part) if part else None
            if own is not None:  # a File/Upload URL: the simulator has the bytes
                images.append(own)
            elif part:
                images.append(InputImage(kind="url", source=part,
                                         url=spec.sample_input_url(part),
                                         content_type=mimetypes.guess_type(part)[0] or ""))
    return images


def parse_run(fields: Sequence[Field], file_path: Callable[[str], str],
              uploaded: Callable[[str], InputImage | None] = lambda url: None) -> RunInputs:
    """Validate Run fields; raise WiroReply with Wiro's message for the first problem.

    `file_path(ext)` names the simulator path an uploaded reference image is served at;
    `uploaded(url)` is the image File/Upload stored at that URL, if it is one of those.
    """
    scalars: dict[str, str] = {}
    image_values: list[str | UploadedFile] = []
    for name, value in fields:
        if name == spec.INPUT_IMAGE.name or name == URL_FIELD:
            image_values.append(value if name == spec.INPUT_IMAGE.name else _text(value))
            # holds inputImage's place in `parameters`; the task fills in the URLs
            scalars.setdefault(spec.INPUT_IMAGE.name, "")
        else:
            scalars.setdefault(name, _text(value))  # a repeated scalar: the first one counts

    prompt = scalars.get(spec.PROMPT.name, "")
    if not prompt.strip():
        raise WiroReply.error(0, msg.PARAM_REQUIRED.format(name=spec.PROMPT.name))
    numbers = {inp.name: _number(inp, scalars.get(inp.name)) for inp in spec.NUMBER_INPUTS}
    seed = numbers[spec.SEED.name]
    if seed != int(seed):
        raise WiroReply.error(0, msg.PARAM_NOT_INTEGER.format(name=spec.SEED.name))
    fmt_input = spec.OUTPUT_FORMAT
    fmt = (scalars.get(fmt_input.name) or fmt_input.default).strip().lower()
    if fmt not in fmt_input.option_values:
        raise WiroReply.error(0, msg.PARAM_NOT_OPTION.format(
            name=fmt_input.name, options=", ".join(fmt_input.option_values)))

    images = _images(image_values, file_path, uploaded)
    if len(images) > spec.INPUT_IMAGE.max_items:
        raise WiroReply.error(0, msg.TOO_MANY_FILES.format(
            name=spec.INPUT_IMAGE.name, max=spec.INPUT_IMAGE.max_items))

    parameters = {k: v for k, v in scalars.items()
                  if k != CALLBACK_FIELD and (k != spec.INPUT_IMAGE.name or images)}
    return RunInputs(
        prompt=prompt,
        width=int(numbers[spec.WIDTH.name]),
        height=int(numbers[spec.HEIGHT.name]),
        safety_tolerance=int(numbers[spec.SAFETY_TOLERANCE.name]),
        seed=int(seed),
        output_format=fmt,
        images=tuple(images),
        parameters=parameters,
        callback_url=scalars.get(CALLBACK_FIELD, ""),
    )
