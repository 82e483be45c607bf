"""FLUX.2 [pro] on Wiro, written down once.

Everything the UI, the validation and the simulator know about the model's inputs comes
from here: names, labels, help texts, types, defaults, ranges, options and the
"parameter inspirations". Texts are the seed's own (they are what Wiro shows).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MODEL_OWNER = "black-forest-labs"
MODEL_PROJECT = "flux-2-pro"
MODEL_SLUG = f"{MODEL_OWNER}/{MODEL_PROJECT}"
MODEL_TITLE = "FLUX.2 [pro]"

# Where Wiro keeps the sample inputs that the seed's defaults and inspirations name.
SAMPLE_INPUT_BASE = "https://cdn.wiro.ai/uploads/sampleinputs/"

# Black Forest Labs' own limits for FLUX.2 [pro] (not in Wiro's listing).
MAX_REFERENCE_IMAGES = 8
MAX_INPUT_MEGAPIXELS = 9.0
SIZE_MULTIPLE = 16
# A single upload above this many pixels is treated as a decompression bomb.
MAX_UPLOAD_PIXELS = 64_000_000
# Wiro publishes no prompt limit; this only stops pasted novels before a paid call.
MAX_PROMPT_CHARS = 10_000


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    aliases: tuple[str, ...] = ()  # other words accepted for it (lower case)


@dataclass(frozen=True)
class ModelInput:
    name: str
    label: str
    help: str
    kind: str  # Wiro's parameter type: combinefileinput, textarea, text, number, select
    default: Any
    minimum: int | None = None
    maximum: int | None = None
    step: int | None = None
    # 0 is accepted outside [minimum, maximum] and means "match the first input image".
    zero_means_match_input: bool = False
    options: tuple[Option, ...] = ()
    max_items: int | None = None
    required: bool = False
    empty_hint: str = ""  # what to write, said when a required text input is empty

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


INPUT_IMAGE = ModelInput(
    name="inputImage",
    label="Input Image",
    help="",
    kind="combinefileinput",
    default="bfl-flux-2-pro-input-5-1.jpg,bfl-flux-2-pro-input-5-2.jpg",
    max_items=MAX_REFERENCE_IMAGES,
)
PROMPT = ModelInput(
    name="prompt",
    label="Prompt",
    help="Text prompt for image generation.",
    kind="textarea",
    default="Place the car in the image 2 to the road on the image 1.",
    required=True,
    empty_hint="describe the image you want.",
)


def _size_input(name: str, label: str) -> ModelInput:
    return ModelInput(
        name=name,
        label=label,
        help=(f"{label} in pixels (must be multiple of 16). Set it to 0 or do not send if you "
              "want to match input image. Flux accepts between 64 and 2048."),
        kind="number",
        default=1024,
        minimum=64,
        maximum=2048,
        step=SIZE_MULTIPLE,
        zero_means_match_input=True,
    )


WIDTH = _size_input("width", "Width")
HEIGHT = _size_input("height", "Height")

SAFETY_TOLERANCE = ModelInput(
    name="safetyTolerance",
    label="Safety Tolerance",
    help=(
        "Tolerance level for input and output moderation. Between 0 and 6, 0 being most "
        "strict, 6 being least strict."
    ),
    kind="number",
    default=2,
    minimum=0,
    maximum=6,
    step=1,
)
SEED = ModelInput(
    name="seed",
    label="Seed",
    help="Seed for reproducible results. Use the same seed to get consistent outputs.",
    kind="number",
    default=123,
    minimum=0,
    # Wiro gives no upper bound; BFL's seeds are unsigned 32-bit.
    maximum=2**32 - 1,
    step=1,
)
OUTPUT_FORMAT = ModelInput(
    name="outputFormat",
    label="Output Format",
    help="Output format for the generated image.",
    kind="select",
    default="png",
    options=(Option("jpeg", "JPEG", aliases=("jpg",)), Option("png", "PNG")),
)

# In the seed's order: the Run body, the UI and the API endpoint all follow it.
INPUTS: tuple[ModelInput, ...] = (
    INPUT_IMAGE,
    PROMPT,
    WIDTH,
    HEIGHT,
    SAFETY_TOLERANCE,
    SEED,
    OUTPUT_FORMAT,
)
NUMBER_INPUTS: tuple[ModelInput, ...] = tuple(i for i in INPUTS if i.kind == "number")

OUTPUT_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}


def sample_input_url(name: str) -> str:
    """The CDN URL of one of Wiro's sample inputs named by a bare file name."""
    return name if "://" in name else SAMPLE_INPUT_BASE + name


def default_reference_images() -> list[str]:
    return [sample_input_url(n) for n in INPUT_IMAGE.default.split(",") if n]


def defaults() -> dict[str, Any]:
    """Every input at its default, inputImage as a list of URLs."""
    values = {i.name: i.default for i in INPUTS}
    values[INPUT_IMAGE.name] = default_reference_images()
    return values


@dataclass(frozen=True)
class Inspiration:
    """One of Wiro's "parameter inspirations": a prompt and the reference images it needs."""

    title: str
    prompt: str
    input_images: tuple[str, ...] = ()

    def values(self) -> dict[str, Any]:
        """The inputs this inspiration sets; others keep what the user has."""
        return {PROMPT.name: self.prompt, INPUT_IMAGE.name: list(self.input_images)}


INSPIRATIONS: tuple[Inspiration, ...] = (
    Inspiration(
        "Product shot: wristwatch",
        "A luxury stainless steel wristwatch with a dark blue face and brown leather strap, "
        "resting on a textured matte black marble surface. The lighting is soft, diffused "
        "studio lighting from the top right, creating a subtle, elongated shadow. Sharp focus "
        "on the watch face and strap stitching. Shot on a 85mm lens at f/2.0, "
        "high-resolution, photorealistic product photography.",
    ),
    Inspiration(
        "Portrait: neon Tokyo",
        "A candid, cinematic portrait of a young woman with a determined expression, wearing "
        "a black trench coat and standing on a rain-slicked Tokyo street at night. Vibrant "
        "neon signs (with legible Japanese text) reflect in the wet pavement. Hard directional "
        "light from the signs casts dramatic blue and magenta highlights. Low angle shot, 35mm "
        "film grain, high-contrast, moody atmosphere.",
    ),
    Inspiration(
        "Macro: dewdrop",
        "An extreme macro shot of a single dewdrop resting perfectly on the tip of a vibrant "
        "emerald-green cedar needle. The background is a soft, deep bokeh of forest light, "
        "capturing the refraction and inverted reflection of the surrounding trees inside the "
        "dewdrop. Shot on a macro lens with focus stacking, hyper-detailed, studio lighting "
        "simulation, depth of field focus on the dewdrop's surface.",
    ),
    Inspiration(
        "Edit: runner to superhero",
        "Transform the man in the middle into a stylized superhero. He should be wearing a "
        "sleek, form-fitting superhero costume in vibrant primary colors (e.g., bright blue "
        "with a red cape or yellow accents), maintaining his athletic build and dynamic "
        "running pose. The costume should have subtle glowing elements or metallic textures, "
        "suggesting advanced technology or inherent power. Ensure the rest of the background "
        "(mountain and clouds) retains its original photographic realism but perhaps with "
        "slightly enhanced drama to match the superheroic presence. Focus on making the "
        "costume stand out while integrating him seamlessly into the existing landscape.",
        (sample_input_url("bfl-flux-2-pro-input-4.jpg"),),
    ),
    Inspiration(
        "Compose: car onto road",
        "Place the car in the image 2 to the road on the image 1.",
        (
            sample_input_url("bfl-flux-2-pro-input-5-1.jpg"),
            sample_input_url("bfl-flux-2-pro-input-5-2.jpg"),
        ),
    ),
)
