"""The model as the simulator's Tool/Detail describes it: models.md's shape, filled in from
wiro/spec.py (so the app's drift check finds none) and the state's price list."""
from __future__ import annotations

import json
from typing import Any

from .. import pricing, spec
from .task import CATEGORIES, MODEL_DESCRIPTION, MODEL_ID

# pricing.md's per-pixel method at Black Forest Labs' rates: the first 1024 x 1024 tier, each
# further tier, each input image's tier.
DYNAMIC_PRICE = ({"inputs": {}, "price": pricing.BFL_PRICE.first, "priceMethod": "cp-pixel",
                  "priceExtra": pricing.BFL_PRICE.extra,
                  "priceInput": pricing.BFL_PRICE.per_input},)
COVER = "https://cdn.wiro.ai/uploads/models/black-forest-labs-flux-2-pro-cover.webp"


def _item(inp: spec.ModelInput) -> dict[str, Any]:
    """One parameter as Wiro-MCP's ToolParameterItem types it (default as a string)."""
    item: dict[str, Any] = {"id": inp.name, "type": inp.kind, "label": inp.label,
                            "description": inp.help, "default": str(inp.default),
                            "required": inp.required}
    if inp.options:
        item["options"] = [{"label": o.label, "value": o.value} for o in inp.options]
    for key, value in (("min", inp.minimum), ("max", inp.maximum), ("step", inp.step)):
        if value is not None:
            item[key] = value
    return item


def tool_json(dynamic_price: list[dict]) -> dict[str, Any]:
    """Tool/Detail's tool object for FLUX.2 [pro]."""
    return {
        "id": MODEL_ID, "title": "Flux 2 Pro",
        "slugowner": spec.MODEL_OWNER, "slugproject": spec.MODEL_PROJECT,
        "cleanslugowner": spec.MODEL_OWNER, "cleanslugproject": spec.MODEL_PROJECT,
        "description": MODEL_DESCRIPTION, "image": COVER, "computingtime": "10 seconds",
        "readme": "", "categories": json.loads(CATEGORIES),
        "parameters": [{"title": "Inputs", "items": [_item(i) for i in spec.INPUTS]}],
        "inspire": [{spec.PROMPT.name: i.prompt, spec.INPUT_IMAGE.name: ",".join(i.input_images)}
                    for i in spec.INSPIRATIONS],
        "samples": [], "tags": ["image generation"], "marketplace": 1, "onlymembers": "1",
        "dynamicprice": json.dumps(dynamic_price, separators=(",", ":")),
        "averagepoint": "5.00", "commentcount": "0", "ratedusercount": "0",
        "taskstat": {"runcount": 0, "successcount": "0", "errorcount": "0", "lastruntime": "0"},
        "seotitle": spec.MODEL_TITLE, "seodescription": MODEL_DESCRIPTION,
    }
