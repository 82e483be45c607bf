"""Issue 17: no visitor can fill the disk or the memory, stall the page, or see another's
photos or key. Each test plays the attacker against the running app with plain HTTP (as a
script would: no browser, no heartbeat) and checks what an attacker would notice."""
from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import requests
from PIL import Image

from app_process import start_app
from studio import bounds, result_views, results
from studio.record import Reference, RunRecord
from wiro import spec

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(180)

MB = 1024 * 1024
VISITOR, OTHER = "198.51.100.21", "203.0.113.99"


# --- speaking Gradio's queue protocol as a script would ------------------------------------

def config(url: str) -> dict:
    return requests.get(url.rstrip("/") + "/config", timeout=10).json()


def dependency(cfg: dict, event: str, elem_id: str | None = None,
               output: str | None = None) -> int:
    """The fn_index of the event `event` of the component `elem_id` (None: the page), or of
    the `event` with the component `output` among its outputs."""
    ids = {c["id"]: c.get("props", {}).get("elem_id") for c in cfg["components"]}
    for dep in cfg["dependencies"]:
        triggers = {(ids.get(target), name) for target, name in dep["targets"]}
        if output is not None:
            if any(name == event for _, name in triggers) and any(
                    ids.get(o) == output for o in dep["outputs"]):
                return dep["id"]
        elif (elem_id, event) in triggers:
            return dep["id"]
    raise LookupError((event, elem_id, output))


def join(url: str, fn_index: int, data: list, session: str | None = None,
         params: dict | None = None, headers: dict | None = None) -> dict:
    """Join the queue and read the stream to the end; the process_completed message."""
    session = session or uuid.uuid4().hex[:11]
    base = url.rstrip("/")
    joined = requests.post(f"{base}/gradio_api/queue/join", params=params, headers=headers,
                           json={"data": data, "fn_index": fn_index, "session_hash": session,
                                 "event_data": None, "trigger_id": None}, timeout=10)
    assert joined.status_code == 200, joined.text
    with requests.get(f"{base}/gradio_api/queue/data", params={"session_hash": session},
                      headers=headers, stream=True, timeout=60) as events:
        for line in events.iter_lines():
            if line.startswith(b"data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the stream ended without process_completed")


def folder_bytes(*folders: Path) -> int:
    return sum(p.stat().st_size for f in folders for p in Path(f).rglob("*") if p.is_file())


def noise_png(path: Path, edge: int) -> Path:
    Image.frombytes("RGB", (edge, edge), random.Random(edge).randbytes(edge * edge * 3)).save(
        path)
    return path


# --- on the in-process app -------------------------------------------------------------------

def temp_folders(live_app) -> list[Path]:
    return bounds.current().folders()


def test_opening_a_restore_link_copies_nothing(live_app, app_sim, tmp_path):
    """Point 1: each load of /?restore=<token> copied the result's uploads into the temp
    folder, kept forever by a client that never opened a heartbeat."""
    sent = noise_png(tmp_path / "harbour.png", 700)  # ~1.4 MB, as sent to Wiro
    image = noise_png(tmp_path / "result.png", 64)
    record = RunRecord("77", {spec.PROMPT.name: "A harbour"}, (
        Reference("upload", name="harbour.png", path=str(sent)),), str(image), 64, 64, "png",
        image.stat().st_size, 0.03, None, True, 1.0, 2.0)
    kept = results.store().keep("someone-else", record)
    token = results.store().share(kept)
    load = dependency(config(live_app.url), "load", output="share-pick")
    before = folder_bytes(*temp_folders(live_app))
    for _ in range(4):
        done = join(live_app.url, load, [None], params={"restore": token})
        assert done["success"], done
    shown = json.dumps(done["output"])
    assert "Restored every input" in shown and kept.references[0].path in shown
    assert folder_bytes(*temp_folders(live_app)) - before < 64 * 1024


def test_a_page_on_another_site_cannot_start_a_run(live_app, app_sim):
    """Point 8: reached by a host name, the app echoed any Origin as allowed, so a page on
    another site could POST /gradio_api/call/generate from a visitor's browser."""
    url = f"{live_app.url}/gradio_api/call/generate"
    body = {"data": [[], "cross-site", 256, 256, 2, 1, "png"]}
    runs = app_sim.run_calls
    host = {"Host": "flux-demo.example"}
    for origin in ("https://evil.example", "null", "http://flux-demo.example:8080"):
        refused = requests.post(url, json=body, timeout=10, headers={**host, "Origin": origin})
        assert refused.status_code == 403 and "Cross-site" in refused.text, origin
        preflight = requests.options(url, timeout=10, headers={
            **host, "Origin": origin, "Access-Control-Request-Method": "POST"})
        assert preflight.status_code == 403
    time.sleep(0.5)
    assert app_sim.run_calls == runs
    # The page's own origin, and clients that send no Origin, go through.
    for headers in ({**host, "Origin": "https://flux-demo.example"}, {}):
        accepted = requests.post(url, json=body, timeout=10, headers=headers)
        assert accepted.status_code == 200 and "event_id" in accepted.json()
        events = requests.get(f"{url}/{accepted.json()['event_id']}", timeout=60,
                              headers=headers)
        assert "event: complete" in events.text
    assert app_sim.run_calls == runs + 2


def test_zips_are_built_a_few_at_a_time(live_app, app_sim, monkeypatch, tmp_path):
    """Point 4: "Download this session" had no concurrency limit (10 at once: +1.9 GB)."""
    image = noise_png(tmp_path / "result.png", 64)
    record = RunRecord("5", {spec.PROMPT.name: "zip"}, (), str(image), 64, 64, "png",
                       1, 0.03, None, True, 1.0, 2.0)
    running, most, release = [0], [0], threading.Event()
    lock = threading.Lock()
    original = result_views.session_zip

    def slow_zip(*args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(20)
        with lock:
            running[0] -= 1
        return original(*args)

    monkeypatch.setattr(result_views, "session_zip", slow_zip)
    download = dependency(config(live_app.url), "click", "download-session")
    sessions = [uuid.uuid4().hex[:11] for _ in range(5)]
    for session in sessions:
        results.store().keep(session, record)
    answers: list[dict] = []
    threads = [threading.Thread(target=lambda s=s: answers.append(
        join(live_app.url, download, [], s))) for s in sessions]
    for thread in threads:
        thread.start()
    live_app.wait_until(lambda: running[0] >= 2, message="two zips under way")
    time.sleep(1.0)  # give a third the chance it must not get
    assert most[0] == live_app.app.CONFIG.zips_at_once == 2
    release.set()
    for thread in threads:
        thread.join(60)
    assert len(answers) == 5 and all(a["success"] for a in answers)
    # Each zip is served from where it was built, in Gradio's cache: on disk once, and
    # never hashed and copied on the event loop every visitor shares.
    served = [Path(a["output"]["data"][0]["value"]["path"]) for a in answers]
    assert all(p.parent.parent.name == "session-zips" and p.is_file() for p in served), served
    cache = served[0].parent.parent.parent
    assert len(list(cache.rglob("*-results.zip"))) == len(sessions)


# --- on an app process with small bounds -----------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """`python app.py` with every bound small, behind a 'proxy' (the test plays it, so it can
    speak for several visitors)."""
    folder = tmp_path_factory.mktemp("small-bounds")
    app = start_app(folder, {
        "WIRO_API_KEY": "", "WIRO_SIMULATOR_PACE": "0", "APP_DATA_DIR": str(folder / "data"),
        "APP_TRUST_PROXY_HEADERS": "1", "APP_RUNS_PER_CLIENT_PER_HOUR": "0",
        "APP_MAX_UPLOAD_MB": "1", "APP_MAX_REQUEST_MB": "2",
        "APP_UPLOAD_MB_PER_CLIENT_PER_HOUR": "4", "APP_TEMP_MB": "8",
        "APP_LOG_LINES_PER_CLIENT_PER_HOUR": "3"})
    yield app
    app.terminate()


def as_visitor(address: str) -> dict:
    return {"X-Forwarded-For": f"10.0.0.1, {address}"}


def upload(app, address: str, *sizes: int, chunked: bool = False) -> requests.Response:
    # Each file new (Gradio keeps one copy of identical uploads).
    files = [("files", (f"f{n}.png", random.randbytes(size), "image/png"))
             for n, size in enumerate(sizes)]
    request = requests.Request("POST", f"{app.url}gradio_api/upload", files=files,
                               headers=as_visitor(address)).prepare()
    if chunked:  # no Content-Length: only counting the body as it streams can stop it
        body = request.body
        del request.headers["Content-Length"]
        request.headers["Transfer-Encoding"] = "chunked"
        request.body = (body[i:i + 65536] for i in range(0, len(body), 65536))
    with requests.Session() as session:
        try:
            return session.send(request, timeout=30)
        except requests.ConnectionError as exc:  # answered and hung up on mid-body
            response = requests.Response()
            response.status_code, response._content = 499, str(exc).encode()
            return response


def gradio_files(app) -> int:
    return folder_bytes(app.temp_dir / "gradio")


def test_uploads_are_bounded_before_they_are_stored(small):
    """Point 5: a 2 GiB upload was accepted and stayed until the hourly prune."""
    visitor = "198.51.100.31"
    before = gradio_files(small)
    too_big = upload(small, visitor, int(1.5 * MB))
    assert too_big.status_code == 413 and "maximum allowed size" in too_big.text
    streamed = upload(small, visitor, int(1.5 * MB), chunked=True)
    assert streamed.status_code in (413, 499)
    too_many = upload(small, visitor, *[int(0.9 * MB)] * 3)  # each fits, not together
    assert too_many.status_code == 413
    assert gradio_files(small) == before  # nothing refused was kept, not even partly
    fits = upload(small, visitor, int(0.9 * MB))
    assert fits.status_code == 200 and len(fits.json()) == 1


def test_a_visitor_adds_at_most_the_hours_quota(small):
    """Point 5: one visitor adds at most APP_UPLOAD_MB_PER_CLIENT_PER_HOUR (4 MB here)."""
    visitor = "198.51.100.41"
    answers = [upload(small, visitor, int(0.9 * MB)).status_code for _ in range(8)]
    assert answers[:4] == [200] * 4 and set(answers[4:]) <= {413, 429}
    assert 429 in answers
    assert upload(small, "198.51.100.42", int(0.9 * MB)).status_code == 200  # another visitor


def test_temporary_files_are_bounded_by_bytes(small):
    """Uploads from many visitors: the oldest files go, and when none is old enough to go,
    an upload is refused (507) instead of filling the disk."""
    import os

    cap = 8 * MB
    statuses = [upload(small, f"198.51.100.{50 + n}", int(0.9 * MB)).status_code
                for n in range(12)]
    assert statuses[0] == 200 and 507 in statuses
    assert folder_bytes(small.temp_dir) <= cap + 2 * MB  # + the app's own small files
    # Files an hour old make room for the next upload.
    for path in (small.temp_dir / "gradio").rglob("*"):
        if path.is_file():
            os.utime(path, (time.time() - 3600, time.time() - 3600))
    assert upload(small, "198.51.100.99", int(0.9 * MB)).status_code == 200


def test_visitor_input_never_writes_a_traceback(small):
    """Point 10: an unknown session's event stream, a malformed inputImage, a path that was
    never uploaded, a value outside a dropdown's choices — each wrote a traceback."""
    cfg = config(small.url)
    generate = next(d["id"] for d in cfg["dependencies"] if d.get("api_name") == "generate")
    args = ["a lighthouse", 256, 256, 2, 1, "png"]
    with requests.get(f"{small.url}gradio_api/queue/data", params={"session_hash": "nobody"},
                      stream=True, timeout=10) as stream:
        assert b"session_not_found" in b"".join(stream.iter_content(None))
    for files in ([{"path": 123, "meta": {"_type": "gradio.FileData"}}], "not a list",
                  [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]):
        done = join(small.url, generate, [files, *args], headers=as_visitor(OTHER))
        assert not done["success"] and "not in a form this app takes" in \
            done["output"]["error"]
    ratio = dependency(cfg, "input", "ratio")
    done = join(small.url, ratio, [None, "17:5", "a lot"], headers=as_visitor(OTHER))
    assert not done["success"]
    time.sleep(0.5)
    assert "Traceback" not in small.log(), small.log()[-3000:]


def test_a_flood_of_refusals_cannot_fill_the_log(small):
    visitor = "198.51.100.77"
    for _ in range(12):
        assert upload(small, visitor, int(2.5 * MB)).status_code == 413  # over the request
    time.sleep(0.3)
    lines = [line for line in small.log().splitlines() if visitor in line]
    assert len(lines) == 4 and "not logged" in lines[-1]  # 3 refusals, then one line


def test_origins_allowed_by_a_setting_and_the_own_origin(monkeypatch):
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from studio import gradio_patches
    from studio.config import Config
    from studio.visitors import Visitors

    class Page:
        config = Config(allowed_origins=("https://friend.example",))
        visitors = Visitors(config)

    monkeypatch.setattr(gradio_patches, "_page", [Page()])
    bounds.configure(Page.config)
    app = Starlette(routes=[Route("/run", lambda r: PlainTextResponse("ran"),
                                  methods=["POST"])])
    app.add_middleware(bounds.OriginGate)
    client = TestClient(app, base_url="http://demo.example:7860")
    try:
        for origin, status in [(None, 200), ("http://demo.example:7860", 200),
                               ("https://friend.example", 200), ("https://friend.example/", 200),
                               ("https://evil.example", 403), ("http://demo.example", 403),
                               ("http://demo.example:7861", 403), ("null", 403),
                               ("https://friend.example.evil.example", 403)]:
            headers = {"Origin": origin} if origin else {}
            assert client.post("/run", headers=headers).status_code == status, origin
    finally:
        bounds.configure(Config())
    assert bounds.same_site("https://x.hf.space", ["x.hf.space"])  # behind a TLS proxy
    assert not bounds.same_site("https://x.hf.space:8443", ["x.hf.space"])
    assert not bounds.same_site("javascript:alert(1)", ["x.hf.space"])


def test_the_page_says_who_sees_an_upload_where_it_is_made(live_app, monkeypatch):
    from studio import share_ui

    cfg = config(live_app.url)
    [note] = [c["props"]["value"] for c in cfg["components"]
              if c.get("props", {}).get("elem_id") == "upload-privacy"]
    assert "for your browser only" in note and "nobody else" in note
    monkeypatch.setattr(results.store(), "settings",
                        replace(results.store().settings, public_gallery=True))
    assert "every visitor" in share_ui.upload_note()


@pytest.fixture
def file_host(tmp_path):
    """A loopback web server, allowed past Gradio's SSRF guard (as in tests/test_mcp.py)."""
    import functools
    import http.server

    import gradio.processing_utils as processing_utils

    Image.new("RGB", (64, 48), (20, 120, 200)).save(tmp_path / "small.png")
    (tmp_path / "huge.png").write_bytes(random.randbytes(3 * MB))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    processing_utils.PUBLIC_HOSTNAME_WHITELIST.append("127.0.0.1")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        processing_utils.PUBLIC_HOSTNAME_WHITELIST.remove("127.0.0.1")
        server.shutdown()


def test_a_url_given_as_a_file_is_fetched_no_further_than_an_upload(live_app, app_sim,
                                                                     file_host, monkeypatch):
    """An API caller's file input given as a URL is fetched by Gradio: it read any size into
    memory, then onto disk."""
    from gradio_client import Client, handle_file

    current = bounds.current()
    monkeypatch.setattr(current, "config", replace(current.config, max_upload_mb=1))
    client = Client(live_app.url, verbose=False)
    gradio_cache = Path(live_app.app.demo.GRADIO_CACHE)
    with pytest.raises(Exception, match="maximum allowed size"):
        client.predict([handle_file(f"{file_host}/huge.png")], "x", 256, 256, 2, 1, "png",
                       api_name="/generate")
    assert not list(gradio_cache.rglob("huge.png"))
    image, details = client.predict([handle_file(f"{file_host}/small.png")], "x", 256, 256,
                                    2, 1, "png", api_name="/generate")
    assert Path(image).is_file() and details["width"] == 256
