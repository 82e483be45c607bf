"""The newcomer's path, as the README gives it: a fresh virtual environment with
`pip install -r requirements.txt` alone, then `python app.py` (keyless, so on the simulator).

Checks what a new user (or a Hugging Face Space, which installs the same file) would see:
the page, the MCP server at /gradio_api/mcp/ (its schema and a real MCP handshake), the
`generate` endpoint through Gradio's plain HTTP API, and a log without an error line. The
test suite cannot see this: it runs in an environment that has the test packages too.

Standard library only, so it runs before anything is installed. `.ci/run` calls it;
by hand: `python tests/newcomer_check.py` (`--keep` leaves the venv and log for a look).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 120
# A line a newcomer would read as "something is broken" (e.g. "Error launching MCP server").
ERROR_LINE = re.compile(r"Error|Traceback")


class Failed(Exception):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body: dict | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, str, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.headers.get("content-type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("content-type", ""), error.read()


def install(venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    started = time.monotonic()
    result = subprocess.run([str(python), "-m", "pip", "install", "-q",
                             "--disable-pip-version-check", "-r", str(ROOT / "requirements.txt")],
                            capture_output=True, text=True)
    if result.returncode:
        raise Failed(f"pip install -r requirements.txt failed:\n{result.stdout}{result.stderr}")
    print(f"newcomer: installed requirements.txt in {time.monotonic() - started:.0f} s")
    return python


def start(python: Path, work: Path, port: int, log_path: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WIRO_", "APP_", "GRADIO_"))}
    env.update({
        # Empty, not unset: a developer's .env must not switch this check to the paid API.
        "WIRO_API_KEY": "", "WIRO_API_SECRET": "", "WIRO_SIMULATOR_PACE": "0.2",
        "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
        "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_DISABLE_TELEMETRY": "1",
        "APP_DATA_DIR": str(work / "data"), "TMPDIR": str(work / "tmp"),
        "GRADIO_TEMP_DIR": str(work / "tmp" / "gradio"), "PYTHONUNBUFFERED": "1",
        "VIRTUAL_ENV": str(python.parent.parent),
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"})
    (work / "tmp").mkdir(parents=True, exist_ok=True)
    # The README's command, from the repository's folder: `python app.py`.
    return subprocess.Popen(["python", "app.py"], cwd=ROOT, env=env,
                            stdout=open(log_path, "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for_page(url: str, app: subprocess.Popen, log_path: Path) -> bytes:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if app.poll() is not None:
            raise Failed(f"app.py exited with {app.returncode}:\n{log_path.read_text()}")
        try:
            status, _, body = http("GET", url, timeout=2)
            if status == 200:
                return body
        except OSError:
            pass
        time.sleep(0.3)
    raise Failed(f"the page did not answer within {START_TIMEOUT} s:\n{log_path.read_text()}")


def check_page(body: bytes) -> None:
    page = body.decode(errors="replace")
    if "FLUX.2" not in page or 'id="generate"' not in page and '"elem_id":"generate"' not in \
            page.replace(" ", ""):
        raise Failed("the page answered, but not with the demo (no title or Generate button)")


def sse_payloads(raw: bytes) -> list[dict]:
    """JSON objects from an answer that may be plain JSON or server-sent events."""
    text = raw.decode(errors="replace").strip()
    if text.startswith("{"):
        return [json.loads(text)]
    return [json.loads(line[5:]) for line in text.splitlines()
            if line.startswith("data:") and line[5:].strip().startswith("{")]


def check_mcp(url: str) -> None:
    status, _, body = http("GET", f"{url}gradio_api/mcp/schema")
    if status != 200:
        raise Failed(f"GET /gradio_api/mcp/schema answered {status}: is the `mcp` package "
                     "installed by requirements.txt?")
    names = [tool.get("name") for tool in json.loads(body)]
    if "generate" not in names:
        raise Failed(f"the MCP schema lists {names}, not `generate`")
    accept = {"Accept": "application/json, text/event-stream"}
    status, _, body = http("POST", f"{url}gradio_api/mcp/", {
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "newcomer-check", "version": "1"}}}, accept)
    answers = sse_payloads(body) if status == 200 else []
    if not any("serverInfo" in (a.get("result") or {}) for a in answers):
        raise Failed(f"MCP initialize answered {status}: {body[:300]!r}")
    status, _, body = http("POST", f"{url}gradio_api/mcp/", {
        "jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}}, accept)
    tools = [t.get("name") for a in (sse_payloads(body) if status == 200 else [])
             for t in (a.get("result") or {}).get("tools", [])]
    if "generate" not in tools:
        raise Failed(f"MCP tools/list answered {status} without `generate`: {body[:300]!r}")


def check_generate(url: str) -> None:
    """Gradio's documented curl route: POST to start, then read the event stream."""
    status, _, body = http("POST", f"{url}gradio_api/call/generate", {
        "data": [[], "A lighthouse at dusk, newcomer check", 512, 512, 2, 7, "png"]})
    if status != 200:
        raise Failed(f"POST /gradio_api/call/generate answered {status}: {body[:300]!r}")
    event_id = json.loads(body)["event_id"]
    status, _, body = http("GET", f"{url}gradio_api/call/generate/{event_id}", timeout=120)
    text = body.decode(errors="replace")
    if status != 200 or "event: complete" not in text:
        raise Failed(f"`generate` did not complete ({status}):\n{text[-600:]}")
    data = json.loads(text.split("event: complete", 1)[1].split("data:", 1)[1].splitlines()[0])
    image, details = data
    if not (isinstance(details, dict) and details.get("task_id")):
        raise Failed(f"`generate` gave no task details: {details!r}")
    status, _, picture = http("GET", image["url"])
    if status != 200 or not picture.startswith(b"\x89PNG"):
        raise Failed(f"the image `generate` returned could not be fetched as a PNG ({status})")


def check_log(log: str) -> None:
    bad = [line for line in log.splitlines() if ERROR_LINE.search(line)]
    if bad:
        raise Failed("the app's log has error lines:\n" + "\n".join(bad[:20]))


def stop(app: subprocess.Popen) -> None:
    if app.poll() is None:
        app.send_signal(signal.SIGTERM)
        try:
            app.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(app.pid, signal.SIGKILL)
            app.wait()


def main() -> int:
    keep = "--keep" in sys.argv
    work = Path(tempfile.mkdtemp(prefix="newcomer-"))
    log_path = work / "app.log"
    app = None
    try:
        python = install(work / "venv")
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        app = start(python, work, port, log_path)
        checks = [("page", lambda: check_page(wait_for_page(url, app, log_path))),
                  ("/gradio_api/mcp/", lambda: check_mcp(url)),
                  ("generate", lambda: check_generate(url))]
        for name, check in checks:
            check()
            print(f"newcomer: {name} answers")
        stop(app)
        check_log(log_path.read_text(errors="replace"))
        print("newcomer: no error line in the app's log")
        print("newcomer: 4 passed, 0 failed")
        return 0
    except (Failed, subprocess.CalledProcessError, OSError, KeyError, ValueError) as error:
        print(f"newcomer: FAILED: {error}", file=sys.stderr)
        if log_path.exists():
            print(f"--- app log ---\n{log_path.read_text(errors='replace')[-4000:]}",
                  file=sys.stderr)
        return 1
    finally:
        if app is not None:
            stop(app)
        if keep:
            print(f"newcomer: kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
