"""The before/after slider of image 1 and the result, for a URL image 1 too."""
from __future__ import annotations

import gradio as gr
from gradio_client.utils import is_http_url_like

from gradio.events import Dependency

class UrlImageSlider(gr.ImageSlider):
    """gr.ImageSlider that hands a URL image to the browser as a link. The stock one would
    download it on the server first: a call to a public host (or a crash, when the host does
    not answer). A subclass, because Gradio rebuilds a component from its class on every prop
    update, so an instance override would be lost. (Gradio writes slider.pyi beside this
    file; it is committed so a read-only deployment has it already.)"""

    is_template = True  # drawn by ImageSlider's own frontend (Gradio's marker for variants)

    def postprocess(self, value):
        data = super().postprocess(value)
        for image in (data.root if data is not None else ()):
            if image is not None and is_http_url_like(image.path or ""):
                image.url = image.path  # served as a link, never fetched here
        return data
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component