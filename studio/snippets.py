"""The Run the page would send, written out as curl and as Python (requests).

Signed the way Wiro documents it (a fresh nonce, and an HMAC-SHA256 keyed with the API key
over secret + nonce), with the key, secret and base URL read from the environment:
`$WIRO_API_KEY`, `$WIRO_API_SECRET`, `$WIRO_API_BASE_URL` (default Wiro's). Their values
never appear in a snippet.

A JSON body when every reference image is a URL (or there are none); multipart as soon as
one is an uploaded file, with one `inputImage` field per image in the page's order, files
as `@file` and URLs as text. Uploaded files are named by their file name: run the snippet
next to your copies of them. Field names and order come from wiro.spec, as in
`WiroClient.run_body`.
"""
from __future__ import annotations

import json
import math
import mimetypes
import os
import shlex
from typing import Any, Mapping

from wiro import spec
from wiro.settings import DEFAULT_BASE_URL
from wiro.uploads import is_url

RUN_PATH = f"Run/{spec.MODEL_SLUG}"
KEY_ENV, SECRET_ENV, BASE_ENV = "WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_API_BASE_URL"


# --- the body, as the client would send it ------------------------------------------------

def _entry(entry: Any) -> str | None:
    if isinstance(entry, os.PathLike):
        return os.fspath(entry)
    if isinstance(entry, dict):
        entry = entry.get("path") or entry.get("url")
    elif not isinstance(entry, str):
        entry = getattr(entry, "path", None)
    return entry.strip() if isinstance(entry, str) and entry.strip() else None


def _number(field: spec.ModelInput, raw: Any) -> Any:
    """The integer the client would send; anything else as typed (the page flags it)."""
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return raw
    return int(value) if math.isfinite(value) and value == int(value) else raw


def request_parts(values: Mapping[str, Any]) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """([(kind, entry)], params): the reference images ("url" or "file") in order, and the
    scalar parameters in spec order, normalised as `wiro.validation` does."""
    raw_images = values.get(spec.INPUT_IMAGE.name) or []
    if not isinstance(raw_images, (list, tuple)):
        raw_images = [raw_images]
    images = []
    for raw in raw_images:
        entry = _entry(raw)
        if entry:
            images.append(("url" if is_url(entry) else "file", entry))
    params: dict[str, Any] = {}
    for field in spec.INPUTS:
        if field.kind == "combinefileinput":
            continue
        raw = values.get(field.name, field.default)
        if field.kind == "number":
            params[field.name] = _number(field, raw)
        elif field.kind == "select":
            word = str(raw or field.default).strip().lower()
            params[field.name] = next((o.value for o in field.options
                                       if word in (o.value, o.label.lower(), *o.aliases)), word)
        else:
            params[field.name] = str(raw or "").strip()
    return images, params


def _file_names(images: list[tuple[str, str]]) -> dict[int, str]:
    """Each upload's file name; a repeated name gets -2, -3 … so every @file is distinct."""
    names: dict[int, str] = {}
    seen: dict[str, int] = {}
    for index, (kind, entry) in enumerate(images):
        if kind != "file":
            continue
        name = os.path.basename(entry) or "image"
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            stem, ext = os.path.splitext(name)
            name = f"{stem}-{seen[name]}{ext}"
        names[index] = name
    return names


def _json_body(images: list[tuple[str, str]], params: dict[str, Any]) -> dict[str, Any]:
    """The JSON body when every reference image is a URL (or there are none)."""
    return {spec.INPUT_IMAGE.name: [entry for _, entry in images], **params} if images \
        else dict(params)


def _content_type(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


# --- curl ----------------------------------------------------------------------------------

def _curl_form_file(name: str) -> str:
    # curl's -F parses ; and , in a bare file name; quoted it takes the name as it is.
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'{spec.INPUT_IMAGE.name}=@"{escaped}";type={_content_type(name)}'


def curl(values: Mapping[str, Any]) -> str:
    images, params = request_parts(values)
    names = _file_names(images)
    lines = [
        f"# {spec.MODEL_TITLE} on Wiro: the Run this page would send for the inputs above.",
        f"# Set {KEY_ENV} and {SECRET_ENV} (and {BASE_ENV} for another endpoint) first.",
    ]
    if names:
        lines.append("# Uploaded images are named by file: run this next to your copies of them.")
    lines += [
        "NONCE=$(date +%s%3N)  # milliseconds: a fresh one for every request",
        f'SIGNATURE=$(printf \'%s\' "${{{SECRET_ENV}}}${{NONCE}}" '
        f'| openssl dgst -sha256 -hmac "${{{KEY_ENV}}}" | awk \'{{print $NF}}\')',
        f'curl -sS -X POST "${{{BASE_ENV}:-{DEFAULT_BASE_URL}}}/{RUN_PATH}" \\',
        f'  -H "x-api-key: ${{{KEY_ENV}}}" \\',
        '  -H "x-nonce: ${NONCE}" \\',
        '  -H "x-signature: ${SIGNATURE}" \\',
    ]
    if not names:
        body = json.dumps(_json_body(images, params), ensure_ascii=False, indent=2)
        lines += ['  -H "Content-Type: application/json" \\', f"  -d {shlex.quote(body)}"]
        return "\n".join(lines)
    form = []
    for index, (kind, entry) in enumerate(images):
        if kind == "file":
            form.append(f"  -F {shlex.quote(_curl_form_file(names[index]))}")
        else:  # --form-string: a URL is text, whatever characters it holds
            form.append(f"  --form-string {shlex.quote(f'{spec.INPUT_IMAGE.name}={entry}')}")
    for name, value in params.items():
        form.append(f"  --form-string {shlex.quote(f'{name}={value}')}")
    lines += [part + " \\" for part in form[:-1]] + [form[-1]]
    return "\n".join(lines)


# --- Python --------------------------------------------------------------------------------

def python(values: Mapping[str, Any]) -> str:
    images, params = request_parts(values)
    names = _file_names(images)
    lines = [
        f'"""{spec.MODEL_TITLE} on Wiro: the Run this page would send for the inputs above,',
        'then follow the task (Task/Detail every 2 s) and download the image."""',
        "import hashlib",
        "import hmac",
        "import os",
        "import sys",
        "import time",
        "",
        "import requests",
        "",
        f'API_KEY = os.environ["{KEY_ENV}"]',
        f'API_SECRET = os.environ["{SECRET_ENV}"]',
        f'BASE_URL = os.environ.get("{BASE_ENV}", "{DEFAULT_BASE_URL}")',
        'DONE = {"task_postprocess_end", "task_cancel"}  # the statuses a task ends in',
        "",
        "",
        "def signed_headers():",
        '    """Wiro\'s signature: HMAC-SHA256 keyed with the API key over secret + nonce."""',
        "    nonce = str(int(time.time() * 1000))  # a fresh one for every request",
        "    signature = hmac.new(API_KEY.encode(), (API_SECRET + nonce).encode(),",
        "                         hashlib.sha256).hexdigest()",
        '    return {"x-api-key": API_KEY, "x-nonce": nonce, "x-signature": signature}',
        "",
        "",
        "# 1. Run",
        f'url = f"{{BASE_URL}}/{RUN_PATH}"',
    ]
    if not names:
        lines.append(f"body = {_py_literal(_json_body(images, params))}")
        lines.append("response = requests.post(url, headers=signed_headers(), json=body, "
                     "timeout=60)")
    else:
        lines.append("# Uploaded images are named by file: run this next to your copies of them.")
        lines.append("fields = [")
        for index, (kind, entry) in enumerate(images):
            if kind == "file":
                name = names[index]
                lines.append(f"    ({spec.INPUT_IMAGE.name!r}, ({name!r}, open({name!r}, 'rb'), "
                             f"{_content_type(name)!r})),")
            else:
                lines.append(f"    ({spec.INPUT_IMAGE.name!r}, (None, {entry!r})),")
        for name, value in params.items():
            lines.append(f"    ({name!r}, (None, {str(value)!r})),")
        lines.append("]")
        lines.append("response = requests.post(url, headers=signed_headers(), files=fields, "
                     "timeout=60)")
    lines += [
        "data = response.json()",
        'if not data.get("result"):',
        '    sys.exit(f"Wiro refused the run: {data}")',
        'taskid = data["taskid"]',
        'print("task id:", taskid)',
        "",
        "# 2. Follow: Task/Detail until the task has ended (Wiro also offers a WebSocket).",
        "while True:",
        '    detail = requests.post(f"{BASE_URL}/Task/Detail", headers=signed_headers(),',
        '                           json={"taskid": taskid}, timeout=60).json()',
        '    task = detail["tasklist"][0]',
        '    print("status:", task["status"])',
        '    if task["status"] in DONE:',
        "        break",
        "    time.sleep(2)",
        "",
        "# 3. Download: a finished task has pexit \"0\" and its outputs.",
        'if task["status"] != "task_postprocess_end" or str(task.get("pexit")) != "0" \\',
        '        or not task.get("outputs"):',
        '    sys.exit(f"No image: the task ended as {task[\'status\']} '
        '(pexit {task.get(\'pexit\')}).")',
        'for output in task["outputs"]:',
        '    image = requests.get(output["url"], timeout=120)',
        "    image.raise_for_status()",
        '    name = os.path.basename(output["name"]) or "output"  # never a path outside here',
        '    with open(name, "wb") as file:',
        "        file.write(image.content)",
        '    print("saved", name, "· cost $" + str(task.get("totalcost")))',
    ]
    return "\n".join(lines)


def _py_literal(body: dict[str, Any]) -> str:
    """A readable dict literal, one key a line."""
    items = []
    for key, value in body.items():
        if isinstance(value, list) and value:
            inner = "".join(f"        {item!r},\n" for item in value)
            items.append(f"    {key!r}: [\n{inner}    ],")
        else:
            items.append(f"    {key!r}: {value!r},")
    return "{\n" + "\n".join(items) + "\n}"
