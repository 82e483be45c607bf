"""The demo page running in this process on the built-in simulator, and a browser to look at it.

Test modules load this with `pytest_plugins = ["tests.app_harness"]` (the same name
everywhere, so the session fixture is one app for all modules). Fixtures:

- ``live_app`` (session): app.py launched on a free loopback port in keyless simulator mode,
  as a `LiveApp` (url, the `app` module, the simulator's state).
- ``app_sim`` (per test): the simulator state with every knob back at its default; tasks a
  test left held are released afterwards and allowed to finish.
- ``browser`` (session) / ``page`` (per test): Debian's Chromium through Playwright, a fresh
  context (so a fresh Gradio session) per test, already on the page. Fails when
  /usr/bin/chromium is missing (tests/run.sh installs it).
"""
from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = ROOT / "test-artifacts"

# The knobs' defaults (SimulatorState.__init__), pace aside: the app sets that from the env.
SIM_DEFAULTS = dict(hold_in_queue=False, hold_running=False, concurrency_limit=None,
                    balance=None, require_sign_in=False, fail_prompts=(), fail_next_tasks=0,
                    fault_timeout_seconds=5.0, output_ttl_seconds=600.0)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05,
               message: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; fail the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {message}")
        time.sleep(interval)


@dataclass
class LiveApp:
    url: str
    app: ModuleType
    state: Any  # wiro.simulator.SimulatorState

    def task(self, taskid: str) -> dict:
        return next(t for t in self.state.tasks() if t["id"] == taskid)

    def newest_task(self) -> dict | None:
        tasks = self.state.tasks()
        return tasks[-1] if tasks else None

    # Helpers for test modules, so they need not import this plugin module themselves.
    artifacts = ARTIFACTS
    wait_until = staticmethod(wait_until)


@pytest.fixture(scope="session")
def live_app() -> Iterator[LiveApp]:
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # gradio_client reads it too
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    # Empty rather than unset, so a developer's .env (which the environment overrides)
    # cannot switch the tests to the real, paid API.
    os.environ["WIRO_API_KEY"] = ""
    os.environ["WIRO_API_SECRET"] = ""
    os.environ["WIRO_SIMULATOR_PACE"] = "0.5"  # a task walks its statuses in about 3 s
    os.environ["WIRO_POLL_INTERVAL"] = "0.1"
    os.environ["APP_BRING_YOUR_OWN_KEY"] = ""  # that would mean live mode, keys from visitors
    # Every run here comes from 127.0.0.1; the hourly per-visitor cap (tests/test_guards.py
    # covers it) would otherwise refuse runs part way through the session.
    os.environ["APP_RUNS_PER_CLIENT_PER_HOUR"] = "0"
    os.environ["APP_UPLOAD_MB_PER_CLIENT_PER_HOUR"] = "0"  # likewise for the bytes sent
    # Gradio's cache of its own: the app prunes its temporary files by bytes (APP_TEMP_MB),
    # and /tmp/gradio may hold other apps' files.
    os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="flux2pro-test-gradio-")
    os.environ["APP_DAILY_SPEND_CAP_USD"] = ""
    # Kept results, journals and ledgers go to a folder of the test run, never ./.data.
    os.environ["APP_DATA_DIR"] = tempfile.mkdtemp(prefix="flux2pro-test-data-")
    if "app" in sys.modules and not getattr(sys.modules["app"], "__file__", "").startswith(
            str(ROOT)):
        pytest.fail("another module called 'app' is already imported")
    import app  # noqa: PLC0415 — must follow the environment above

    if not app.backend.is_simulator:
        pytest.fail("the app did not start in simulator mode")
    port = free_port()
    # The same options as `python app.py` (CSS, allowed output folder, threads, MCP).
    options = app.launch_options() if hasattr(app, "launch_options") else dict(
        css_paths=[app.HERE / "assets" / "style.css"], allowed_paths=[str(app.outputs.root)],
        show_error=True)
    app.demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port,
                    quiet=True, **options)
    try:
        yield LiveApp(url=f"http://127.0.0.1:{port}", app=app,
                      state=app.backend.simulator.state)
    finally:
        app.active_runs.stop_all()
        app.demo.close()


@pytest.fixture
def app_sim(live_app: LiveApp) -> Iterator[Any]:
    state = live_app.state
    state.configure(**SIM_DEFAULTS)
    state.clear_faults()
    yield state
    # Let whatever a test left behind finish, so the next test starts with nothing running.
    state.configure(**SIM_DEFAULTS)
    for task in state.running_tasks():
        state.release(task["id"])  # a held task goes on; released twice is a no-op
    deadline = time.monotonic() + 15
    while state.running_tasks() and time.monotonic() < deadline:
        time.sleep(0.05)
    state.clear_faults()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is not installed; browser tests need Debian's chromium "
                    "(bash tests/run.sh installs it)")
    from playwright.sync_api import sync_playwright  # noqa: PLC0415

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _loopback_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname or ""
    if host in {"127.0.0.1", "localhost"} or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort("blockedbyclient")


@pytest.fixture
def page_context(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000},
                                  accept_downloads=True)
    context.set_default_timeout(15_000)
    # Only loopback: the default reference thumbnails point at cdn.wiro.ai, and tests must
    # never reach a public host. Those images simply fail to load (the page hides them).
    context.route("**/*", _loopback_only)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(live_app: LiveApp, app_sim: Any, page_context: Any) -> Any:
    """A fresh tab on the demo, loaded (Gradio keeps a stream open: never wait for idle).
    Its context is set up last, so it closes before app_sim releases leftover tasks."""
    page = page_context.new_page()
    page.goto(live_app.url, wait_until="load")
    page.wait_for_selector("#generate", state="visible")
    page.wait_for_selector("#run-status-box .run-status[data-kind=idle]")
    return page


@pytest.fixture(scope="module")
def app_client(live_app: LiveApp) -> Iterator[Any]:
    """A gradio_client Client of the running app (no telemetry: the harness has set
    GRADIO_ANALYTICS_ENABLED=False, which the client also reads)."""
    import gradio_client  # noqa: PLC0415
    client = gradio_client.Client(live_app.url, verbose=False, analytics_enabled=False)
    try:
        yield client
    finally:
        client.close()
