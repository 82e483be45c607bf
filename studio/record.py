"""The one description of a finished run: what was sent, and what came back.

A run that delivered its image ends with a `RunRecord`. The history, kept results, share
pages, restore and the session zip all read this one record (and store it with `as_json`),
so a run is never described two ways.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from wiro import spec


@dataclass(frozen=True)
class Reference:
    """One reference image, in send order: a URL Wiro fetched, or a visitor's upload."""

    kind: str  # "url" or "upload"
    url: str = ""  # kind "url": the address sent to Wiro
    name: str = ""  # kind "upload": the file name the visitor uploaded
    path: str = ""  # kind "upload": the copy sent to Wiro (shrunk), on this server

    @property
    def entry(self) -> str:
        """As the page's reference list holds it: the URL, or the file's path."""
        return self.url if self.kind == "url" else self.path


@dataclass(frozen=True)
class RunRecord:
    task_id: str
    # Every model input but the references, by spec name, as sent (the seed really used).
    inputs: dict[str, Any]
    references: tuple[Reference, ...]
    image: str  # the result file as Wiro returned it, saved on this server
    width: int
    height: int
    format: str
    bytes: int
    cost_usd: float  # Wiro's totalcost (the simulator's, when `simulated`)
    estimate_usd: float | None
    simulated: bool
    wiro_seconds: float
    total_seconds: float
    finished_at: float = field(default_factory=time.time)

    @property
    def seed(self) -> Any:
        return self.inputs.get(spec.SEED.name)

    @property
    def prompt(self) -> str:
        return str(self.inputs.get(spec.PROMPT.name) or "")

    def values(self) -> dict[str, Any]:
        """Every model input by spec name, references as the page's list: for a restore."""
        return {**self.inputs, spec.INPUT_IMAGE.name: [r.entry for r in self.references]}

    def details(self) -> dict[str, Any]:
        """The run's details as API callers and the page's "Run details" show them."""
        return {"task_id": self.task_id, "seed": self.seed, "width": self.width,
                "height": self.height, "format": self.format, "bytes": self.bytes,
                "wiro_seconds": self.wiro_seconds, "total_seconds": self.total_seconds,
                "cost_usd": self.cost_usd, "simulated": self.simulated}

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["references"] = [asdict(r) for r in self.references]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RunRecord:
        """Keys it does not know are left out (runs.json adds a readable time)."""
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        values["references"] = tuple(Reference(**r) for r in values.get("references") or ())
        return cls(**values)

    def moved(self, **paths: Any) -> RunRecord:
        """The same record with its files elsewhere (`image=`, `references=`)."""
        return replace(self, **paths)


def references_of(entries: list[Any], sent: list[Any]) -> tuple[Reference, ...]:
    """Reference records from the page's entries (URLs, uploaded paths) and what was sent
    for each, in the same order (a URL, or the path of the copy sent)."""
    kept = []
    for entry, copy in zip(entries, sent):
        text = str(entry)
        if text.lower().startswith(("http://", "https://")):
            kept.append(Reference("url", url=text))
        else:
            kept.append(Reference("upload", name=os.path.basename(text), path=str(copy)))
    return tuple(kept)

