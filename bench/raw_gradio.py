"""The page's events called as a script would call them: plain HTTP, Gradio's queue protocol,
no browser and no heartbeat. Benchmarks use it to drive today's code and ours alike (it finds
events by the elements' ids, which both share)."""
from __future__ import annotations

import html
import json
import os
import re
import uuid
from typing import Any

import requests


def new_session() -> str:
    return uuid.uuid4().hex[:11]


class RawGradio:
    def __init__(self, url: str, headers: dict | None = None):
        self.url = url.rstrip("/")
        self.headers = headers or {}
        self.http = requests.Session()
        self.config = self.http.get(f"{self.url}/config", timeout=30).json()
        self._elem = {c["id"]: c.get("props", {}).get("elem_id") for c in
                      self.config["components"]}

    def fn(self, event: str, elem_id: str | None = None, output: str | None = None) -> int:
        """The page's `event` of element `elem_id`, or the `event` that updates `output`."""
        for dep in self.config["dependencies"]:
            triggers = {(self._elem.get(target), name) for target, name in dep["targets"]}
            if output is not None:
                if any(name == event for _, name in triggers) and any(
                        self._elem.get(o) == output for o in dep["outputs"]):
                    return dep["id"]
            elif (elem_id, event) in triggers:
                return dep["id"]
        raise LookupError((event, elem_id, output))

    def data(self, fn: int, **values: Any) -> list:
        """Every input of event `fn` at its default, but those named by element id."""
        dep = next(d for d in self.config["dependencies"] if d["id"] == fn)
        components = {c["id"]: c for c in self.config["components"]}
        return [values[self._elem[i]] if self._elem.get(i) in values
                else components[i].get("props", {}).get("value") for i in dep["inputs"]]

    def join(self, fn: int, data: list, session: str | None = None,
             params: dict | None = None, timeout: float = 600, times: int = 1) -> dict:
        """Join the queue (`times` events at once, as a tab clicking again) and read the
        session's one stream to the end: the last process_completed message."""
        session = session or new_session()
        for _ in range(times):
            joined = self.http.post(f"{self.url}/gradio_api/queue/join", params=params,
                                    headers=self.headers, timeout=30, json={
                                        "data": data, "fn_index": fn, "session_hash": session,
                                        "event_data": None, "trigger_id": None})
            joined.raise_for_status()
        completed = []
        with requests.get(f"{self.url}/gradio_api/queue/data", headers=self.headers,
                          params={"session_hash": session}, stream=True,
                          timeout=timeout) as events:
            for line in events.iter_lines():
                if line.startswith(b"data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        completed.append(message)
                        if len(completed) == times:
                            return message
        raise RuntimeError("the event stream ended without process_completed")

    def upload(self, paths: list[str]) -> list[dict]:
        """Upload files as the page does; FileData for an upload event."""
        handles = [open(p, "rb") for p in paths]
        try:
            answer = self.http.post(f"{self.url}/gradio_api/upload", headers=self.headers,
                                    files=[("files", (os.path.basename(p), h))
                                           for p, h in zip(paths, handles)], timeout=300)
        finally:
            for handle in handles:
                handle.close()
        answer.raise_for_status()
        return [{"path": path, "orig_name": os.path.basename(name), "size": os.path.getsize(name),
                 "meta": {"_type": "gradio.FileData"}} for path, name in zip(answer.json(), paths)]

    # --- the page's steps ---------------------------------------------------------------------

    def open_page(self, session: str, browser: Any = None, restore: str | None = None) -> dict:
        """The page's load event; returns its output message."""
        load = self.fn("load", output="share-pick")
        params = {"restore": restore} if restore else None
        return self.join(load, [browser], session, params=params)

    def add_references(self, session: str, paths: list[str]) -> int | None:
        """Upload and add reference images; how many the tab then has (None: not told)."""
        add = self.fn("upload", "ref-upload")
        done = self.join(add, self.data(add, **{"ref-upload": self.upload(paths)}), session)
        return reference_count(done["output"]["data"])

    def clear_references(self, session: str) -> None:
        """"Clear all": a tab starts with the page's example references (URLs), which take
        places of the at most eight a run sends."""
        clear = self.fn("click", "ref-clear")
        self.join(clear, self.data(clear), session)

    def generate(self, session: str, prompt: str, **values: Any) -> dict:
        run = self.fn("click", "generate")
        done = self.join(run, self.data(run, prompt=prompt, **values), session)
        if not done.get("success"):
            raise RuntimeError(f"the run failed: {done}")
        return done

    def compare(self, session: str, seeds: str, prompt: str) -> dict:
        run = self.fn("click", "sbs-run")
        return self.join(run, self.data(run, prompt=prompt, **{
            "sbs-seeds": seeds, "sbs-confirm": True}), session)

    def share_newest(self, session: str, browser: Any) -> str:
        """Share the tab's newest kept result; its link's token.

        Two shapes of the page: at 9f87230 the load event fills a dropdown (`share-pick`)
        whose choices are (label, result id), newest first. Since the keep/share panel was
        rebuilt (studio/share_ui.py `KeepShare`) the load event leaves the picker alone
        unless the page restores a link; the picker is an HTML list of cards drawn when the
        panel (`keep-share`) is expanded, each card a button with `data-id`, the tab's newest
        own result `aria-pressed="true"`. Share's inputs are (picked id, browser, page
        address) in both; the page reads the picked id from the cards in its `js`."""
        opened = self.open_page(session, browser)
        newest = picked_result(opened["output"]["data"])
        if newest is None:
            expand = self.fn("expand", "keep-share")
            drawn = self.join(expand, [browser], session)
            newest = picked_result(drawn["output"]["data"])
        if newest is None:
            raise LookupError("no kept result to share: neither the load event nor the "
                              "keep/share panel lists one")
        share = self.fn("click", "share")
        done = self.join(share, [newest, browser, f"{self.url}/"], session)
        link = done["output"]["data"][0]
        if not isinstance(link, str) or "/share/" not in link:
            raise RuntimeError(f"share gave no link: {done['output']['data']}")
        return link.rsplit("/", 1)[1]

    def download_session(self, session: str, times: int = 1) -> dict:
        return self.join(self.fn("click", "download-session"), [], session, times=times)


CARD = re.compile(r'<button[^>]*class="kept-item"[^>]*>')
ATTR = re.compile(r'([a-z-]+)="([^"]*)"')


def picked_result(outputs: list) -> str | None:
    """The result id an event's outputs offer to share: the first choice of a dropdown
    update (9f87230), or the picked card of the HTML list (else the first card)."""
    for value in outputs:
        if isinstance(value, dict) and "choices" in value and value["choices"]:
            return value["choices"][0][1]
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            value = value["value"]
        if isinstance(value, str) and "kept-item" in value:
            cards = [dict(ATTR.findall(card)) for card in CARD.findall(value)]
            ids = [html.unescape(c["data-id"]) for c in cards if "data-id" in c]
            pressed = [html.unescape(c["data-id"]) for c in cards
                       if c.get("aria-pressed") == "true" and "data-id" in c]
            if pressed or ids:
                return (pressed or ids)[0]
    return None


REF_GRID = re.compile(r'class="ref-grid"[^>]*data-count="(\d+)"')


def reference_count(outputs: list) -> int | None:
    """How many references an event's outputs show: the HTML grid's data-count (ours), or
    the items of 9f87230's gallery (dicts with an "image")."""
    for value in outputs:
        inner = value.get("value") if isinstance(value, dict) else value
        if isinstance(inner, str) and (found := REF_GRID.search(inner)):
            return int(found.group(1))
        if isinstance(inner, list) and inner and all(
                isinstance(item, dict) and "image" in item for item in inner):
            return len(inner)
    return None
