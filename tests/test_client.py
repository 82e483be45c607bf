"""WiroClient against the local simulator: what a user of the client would notice."""
from __future__ import annotations

import http.server
import io
import json
import re
import socket
import threading
from typing import Iterator

import pytest
import requests
from PIL import Image

from wiro import spec
from wiro.client import TaskHandle, WiroClient
from wiro.errors import (
    ApiError, AuthenticationError, ConcurrencyLimitError, InsufficientBalanceError,
    InvalidInputError, NotFoundError, RequestRejectedError, RunMaybeStartedError,
    SignInRequiredError, TaskCancelledError, TaskFailedError, TokenInvalidError,
    UnexpectedResponseError, WiroConnectionError, WiroError,
)
from wiro.models import TaskOutput
from wiro.simulator import SimulatorServer, SimulatorState
from wiro.statuses import TaskStatus
from wiro.validation import RunRequest, validate_inputs

URL_1 = "https://cdn.wiro.ai/uploads/sampleinputs/bfl-flux-2-pro-input-5-1.jpg"
URL_2 = "https://cdn.wiro.ai/uploads/sampleinputs/bfl-flux-2-pro-input-5-2.jpg"


class RecordingSession(requests.Session):
    """A requests.Session that remembers every request it sent (method, url, headers)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[requests.PreparedRequest] = []
        self.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args, **kwargs) -> None:
        self.sent.append(response.request)

    def last(self, path_part: str) -> requests.PreparedRequest:
        return [r for r in self.sent if path_part in r.url][-1]


@pytest.fixture
def session() -> Iterator[RecordingSession]:
    with RecordingSession() as s:
        yield s


@pytest.fixture
def client(sim: SimulatorServer, session: RecordingSession) -> Iterator[WiroClient]:
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    poll_interval=0.01, request_timeout=10, session=session) as c:
        yield c


def inputs(**overrides) -> dict:
    values = {"prompt": "a red bicycle on a beach", "width": 256, "height": 192,
              "safetyTolerance": 2, "seed": 7, "outputFormat": "png", "inputImage": []}
    values.update(overrides)
    return values


def make_png(path, size=(48, 32), color=(10, 120, 200), fmt="PNG"):
    Image.new("RGB", size, color).save(path, fmt)
    return str(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- Run and Detail ---------------------------------------------------------------------


def test_run_with_urls_sends_json_and_returns_a_handle(client, session, sim_state) -> None:
    handle = client.run(inputs(inputImage=[URL_1, URL_2]))
    assert isinstance(handle, TaskHandle)
    assert handle.id and handle.token
    sent = session.last("/Run/")
    assert sent.url.endswith(f"/Run/{spec.MODEL_SLUG}")
    assert sent.headers["Content-Type"] == "application/json"
    (task,) = sim_state.tasks()
    assert task["id"] == handle.id and task["token"] == handle.token
    assert [i["source"] for i in task["inputs"]] == [URL_1, URL_2]
    assert (task["prompt"], task["seed"], task["width"], task["height"]) == \
        ("a red bicycle on a beach", 7, 256, 192)


def test_run_without_images_sends_json(client, session) -> None:
    client.run(inputs())
    assert session.last("/Run/").headers["Content-Type"] == "application/json"


def test_a_local_file_is_uploaded_then_run_gets_json_with_urls(client, session, sim_state,
                                                                tmp_path) -> None:
    """What every Wiro SDK does: File/Upload (one part named `file`), then Run with JSON."""
    a = make_png(tmp_path / "a.png", (64, 64), (255, 0, 0))
    b = make_png(tmp_path / "b.jpg", (80, 48), (0, 0, 255), fmt="JPEG")
    client.run(inputs(inputImage=[a, URL_1, b]))
    uploads = [r for r in session.sent if r.url.endswith("/File/Upload")]
    assert len(uploads) == 2 and sim_state.uploads == 2
    assert all(r.headers["Content-Type"].startswith("multipart/form-data") for r in uploads)
    assert b'name="file"; filename="a.png"' in uploads[0].body
    assert all("x-signature" in r.headers for r in uploads)  # signed like every call
    run = session.last("/Run/")
    assert run.headers["Content-Type"] == "application/json"
    body = json.loads(run.body)
    images = body["inputImage"]
    assert isinstance(images, list) and len(images) == 3 and images[1] == URL_1
    assert all(u.startswith(sim_state.public_base_url + "/v1/File/") for u in images[::2])
    assert body["width"] == 256 and body["seed"] == 7  # numbers as JSON numbers
    got = [(i["kind"], i["source"]) for i in sim_state.tasks()[0]["inputs"]]
    assert got == [("file", "a.png"), ("url", URL_1), ("file", "b.jpg")]
    sizes = [(i["width"], i["height"]) for i in sim_state.tasks()[0]["inputs"]]
    assert sizes[0] == (64, 64) and sizes[2] == (80, 48)
    # The simulator serves what was uploaded, as Wiro's CDN would.
    assert requests.get(images[0], timeout=5).content == open(a, "rb").read()


def test_a_failed_upload_starts_nothing(client, sim_state, tmp_path) -> None:
    sim_state.inject_fault("upload", "error_code:0")
    with pytest.raises(RequestRejectedError):
        client.run(inputs(inputImage=[make_png(tmp_path / "a.png")]))
    assert sim_state.run_calls == 0


def test_multipart_to_run_is_a_setting(sim, session, sim_state, tmp_path) -> None:
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    session=session, file_input="multipart") as client:
        a = make_png(tmp_path / "a.png", (64, 64), (255, 0, 0))
        client.run(inputs(inputImage=[a, URL_1]))
    assert session.last("/Run/").headers["Content-Type"].startswith("multipart/form-data")
    assert sim_state.uploads == 0
    got = [(i["kind"], i["source"]) for i in sim_state.tasks()[0]["inputs"]]
    assert got == [("file", "a.png"), ("url", URL_1)]


def test_run_validates_before_sending(client, sim_state) -> None:
    with pytest.raises(InvalidInputError) as info:
        client.run(inputs(width=1000))
    assert "Width" in str(info.value)
    assert sim_state.run_calls == 0


def test_run_accepts_a_validated_request(client, sim_state) -> None:
    handle = client.run(validate_inputs(inputs()))
    assert sim_state.tasks()[0]["id"] == handle.id


def test_detail_by_taskid_and_by_token(client) -> None:
    handle = client.run(inputs())
    by_id = client.detail(handle.id)
    by_token = client.detail(token=handle.token)
    assert by_id.id == by_token.id == handle.id
    assert by_id.token == by_token.token == handle.token
    assert handle.status().id == handle.id


def test_detail_needs_exactly_one_identifier(client) -> None:
    with pytest.raises(ValueError):
        client.detail()
    with pytest.raises(ValueError):
        client.detail("1", token="t")


def test_detail_of_an_unknown_task_is_not_found(client) -> None:
    with pytest.raises(NotFoundError) as info:
        client.detail("999999")
    assert "There is no task yet." in str(info.value)


def test_wait_returns_the_finished_task_with_outputs(client) -> None:
    task = client.run(inputs()).wait(timeout=10)
    assert task.status is TaskStatus.POSTPROCESS_END
    assert task.pexit == "0" and task.succeeded
    (output,) = task.outputs
    assert output.name == "0.png" and output.content_type == "image/png"
    assert output.size > 0 and output.url.startswith("http://127.0.0.1:")
    assert task.total_cost > 0


def test_wait_reports_every_poll_until_done(client, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    seen: list[TaskStatus] = []

    def on_update(task) -> None:
        seen.append(task.status)
        if not task.is_terminal:
            sim_state.release(task.id)

    task = handle.wait(timeout=10, on_update=on_update)
    assert task.succeeded
    assert seen[0] is TaskStatus.OUTPUT and seen[-1] is TaskStatus.POSTPROCESS_END


def test_result_returns_a_successful_task(client) -> None:
    assert client.run(inputs()).result(timeout=10).succeeded


def test_result_raises_task_failed_with_the_task(client, sim_state) -> None:
    sim_state.fail_next_tasks = 1
    handle = client.run(inputs())
    with pytest.raises(TaskFailedError) as info:
        handle.result(timeout=10)
    task = info.value.task
    assert task.id == handle.id and task.pexit == "1" and not task.outputs
    assert task.status is TaskStatus.POSTPROCESS_END
    message = str(info.value)
    assert handle.id in message and "exit code 1" in message
    assert "Simulated model failure" in message
    assert "not charge" in message  # the advice


def test_wait_does_not_raise_for_a_failed_task(client, sim_state) -> None:
    sim_state.fail_next_tasks = 1
    task = client.run(inputs()).wait(timeout=10)
    assert task.failed and not task.succeeded


def test_result_raises_task_cancelled(client, sim_state) -> None:
    sim_state.hold_in_queue = True
    handle = client.run(inputs())
    handle.cancel()
    with pytest.raises(TaskCancelledError) as info:
        handle.result(timeout=10)
    assert info.value.task.cancelled and info.value.task.id == handle.id
    assert str(info.value) == f"Task {handle.id} was cancelled."


# --- downloads ------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "pil"), [("png", "PNG"), ("jpeg", "JPEG")])
def test_download_returns_the_image(client, session, fmt, pil) -> None:
    task = client.run(inputs(outputFormat=fmt, width=320, height=128)).result(timeout=10)
    data = client.download(task.outputs[0])
    assert len(data) == task.outputs[0].size
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == pil and image.size == (320, 128)
    cdn_request = session.last("/cdn/")
    assert cdn_request.method == "GET"
    assert not {"x-api-key", "x-nonce", "x-signature"} & {h.lower() for h in cdn_request.headers}


class _HeaderRecorder(http.server.BaseHTTPRequestHandler):
    seen: list[dict[str, str]] = []
    body = b""

    def do_GET(self) -> None:  # noqa: N802
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def header_cdn() -> Iterator[tuple[str, list[dict[str, str]]]]:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (1, 2, 3)).save(buffer, "PNG")
    handler = type("Recorder", (_HeaderRecorder,), {"seen": [], "body": buffer.getvalue()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", handler.seen
    finally:
        server.shutdown()
        server.server_close()


def test_download_sends_no_credentials_to_the_cdn(header_cdn) -> None:
    cdn_url, seen = header_cdn
    with WiroClient("CANARY-KEY-cdn", "CANARY-SECRET-cdn", base_url="http://127.0.0.1:9/v1") \
            as client:
        output = TaskOutput(name="0.png", url=f"{cdn_url}/abc/0.png", content_type="image/png",
                            size=0)
        data = client.download(output)
    assert Image.open(io.BytesIO(data)).size == (16, 16)
    (headers,) = seen
    assert not {"x-api-key", "x-nonce", "x-signature", "authorization"} & set(headers)
    assert "CANARY" not in repr(headers)


def test_an_expired_download_says_so(client, sim_state) -> None:
    task = client.run(inputs()).result(timeout=10)
    sim_state.output_ttl_seconds = -1  # every link is now past its lifetime
    with pytest.raises(WiroError) as info:
        client.download(task.outputs[0], window=0.3)
    assert "404" in str(info.value) and "expire" in str(info.value)


# --- cancel, kill, stop --------------------------------------------------------------------


def test_cancel_while_queued(client, sim_state) -> None:
    sim_state.hold_in_queue = True
    handle = client.run(inputs())
    assert client.detail(handle.id).status is TaskStatus.QUEUE
    assert handle.cancel().status is TaskStatus.CANCEL
    assert client.detail(handle.id).cancelled


def test_cancel_while_running_is_refused(client, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    with pytest.raises(NotFoundError) as info:
        handle.cancel()
    assert "not in a cancellable state" in str(info.value)


def test_kill_while_running(client, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    assert client.detail(handle.id).status is TaskStatus.OUTPUT
    assert handle.kill().status is TaskStatus.CANCEL
    assert client.detail(handle.id).cancelled


def test_stop_cancels_a_queued_task(client, session, sim_state) -> None:
    sim_state.hold_in_queue = True
    handle = client.run(inputs())
    assert handle.stop().cancelled
    paths = [r.url.rsplit("/v1/", 1)[1] for r in session.sent]
    assert "Task/Cancel" in paths and "Task/Kill" not in paths


def test_stop_kills_a_running_task(client, session, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    assert handle.stop().cancelled
    paths = [r.url.rsplit("/v1/", 1)[1] for r in session.sent]
    assert "Task/Kill" in paths and "Task/Cancel" not in paths


def test_stop_leaves_a_finished_task_alone(client, session) -> None:
    handle = client.run(inputs())
    assert handle.wait(timeout=10).succeeded
    task = handle.stop()
    assert task.succeeded
    paths = [r.url.rsplit("/v1/", 1)[1] for r in session.sent]
    assert "Task/Kill" not in paths and "Task/Cancel" not in paths


# --- Wiro's error codes --------------------------------------------------------------------


def _raised(fn) -> WiroError:
    with pytest.raises(WiroError) as info:
        fn()
    return info.value


def test_code_0_validation_failure_is_request_rejected(client) -> None:
    # Bypass local validation: the simulator must be the one refusing.
    bad = RunRequest(params={"prompt": "x", "width": 5000, "height": 1024,
                             "safetyTolerance": 2, "seed": 1, "outputFormat": "png"})
    exc = _raised(lambda: client.run(bad))
    assert type(exc) is RequestRejectedError and exc.code == 0
    assert "Request parameter [width] must be between 64 and 2048" in str(exc)
    assert "Check the inputs" in str(exc)


def test_code_1_is_not_found(client, sim_state) -> None:
    sim_state.inject_fault("run", "error_code:1")
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is NotFoundError and exc.code == 1
    assert "slug-owner-project-not-exist" in str(exc)
    assert "Check the model slug" in str(exc)


def test_code_96_is_concurrency_limit(client, sim_state) -> None:
    sim_state.hold_running = True
    sim_state.concurrency_limit = 1
    client.run(inputs())
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is ConcurrencyLimitError and exc.code == 96
    assert "Wait for a running task to finish" in str(exc)
    assert sim_state.tasks_created == 1


def test_code_97_is_insufficient_balance(client, sim_state) -> None:
    sim_state.balance = 0.10
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is InsufficientBalanceError and exc.code == 97
    assert "Add funds" in str(exc) and "Insufficient balance" in str(exc)


def test_code_98_is_sign_in_required(client, sim_state) -> None:
    sim_state.require_sign_in = True
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is SignInRequiredError and exc.code == 98
    assert "registered Wiro project" in str(exc)


def test_code_99_is_token_invalid(client, sim_state) -> None:
    sim_state.inject_fault("detail", "error_code:99")
    handle_id = client.run(inputs()).id
    exc = _raised(lambda: client.detail(handle_id))
    assert type(exc) is TokenInvalidError and exc.code == 99
    assert "Check your API key" in str(exc)


@pytest.mark.parametrize(("code", "cls"), [
    (0, RequestRejectedError), (1, NotFoundError), (96, ConcurrencyLimitError),
    (97, InsufficientBalanceError), (98, SignInRequiredError), (99, TokenInvalidError),
])
def test_every_code_on_every_endpoint(client, sim_state, code, cls) -> None:
    handle = client.run(inputs())
    for endpoint, call in [("run", lambda: client.run(inputs())),
                           ("detail", lambda: client.detail(handle.id)),
                           ("cancel", lambda: client.cancel(handle.id)),
                           ("kill", lambda: client.kill(handle.id))]:
        sim_state.inject_fault(endpoint, f"error_code:{code}")
        exc = _raised(call)
        assert type(exc) is cls, (endpoint, exc)
        assert isinstance(exc, ApiError) and exc.code == code
        text = str(exc)
        assert text.startswith(cls.meaning) and text.endswith(cls.advice)
        assert "Wiro said" in text and f"(code {code})" in text


def test_wrong_secret_is_authentication_error(sim) -> None:
    with WiroClient(sim.state.api_key, "not-the-secret", base_url=sim.base_url) as client:
        exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is AuthenticationError and exc.http_status == 401
    assert "Project authorization is not valid." in str(exc)
    assert "WIRO_API_SECRET" in str(exc)
    assert sim.state.tasks_created == 0


def test_unknown_key_is_authentication_error(sim) -> None:
    with WiroClient("someone-else", "x", base_url=sim.base_url) as client:
        exc = _raised(lambda: client.detail("100001"))
    assert type(exc) is AuthenticationError
    assert "Project authorization is not founded." in str(exc)


def test_key_only_client_against_a_signed_project(sim) -> None:
    with WiroClient(sim.state.api_key, base_url=sim.base_url) as client:
        exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is AuthenticationError
    assert "x-signature and x-nonce headers are required" in str(exc)


def test_key_only_mode(session) -> None:
    state = SimulatorState("key-only-project", None, pace=0)
    with SimulatorServer(state) as server, \
            WiroClient("key-only-project", base_url=server.base_url, poll_interval=0.01,
                       session=session) as client:
        assert "signed=False" in repr(client)
        task = client.run(inputs()).result(timeout=10)
        assert task.succeeded
    api_requests = [r for r in session.sent if "/v1/" in r.url]
    assert len(api_requests) >= 2
    for request in api_requests:
        names = {h.lower() for h in request.headers}
        assert "x-api-key" in names and not {"x-nonce", "x-signature"} & names


def test_signed_requests_carry_fresh_nonces(client, session) -> None:
    client.run(inputs()).wait(timeout=10)
    nonces = [r.headers["x-nonce"] for r in session.sent if "/v1/" in r.url]
    assert len(nonces) >= 2 and len(set(nonces)) == len(nonces)


# --- transport failures ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["http500", "reset"])
def test_detail_is_retried_and_succeeds(client, sim_state, kind) -> None:
    handle = client.run(inputs())
    sim_state.inject_fault("detail", kind, times=2)
    assert client.detail(handle.id).succeeded
    assert sim_state.take_fault("detail") is None  # both faults were used up


def test_detail_is_retried_after_a_lost_response(client, sim_state) -> None:
    handle = client.run(inputs())
    sim_state.inject_fault("detail", "lost_response")
    assert client.detail(handle.id).succeeded


def test_garbled_detail_answers_are_asked_again(client, sim_state) -> None:
    handle = client.run(inputs())
    sim_state.inject_fault("detail", "malformed_json", times=2)
    assert client.detail(handle.id).succeeded
    assert sim_state.take_fault("detail") is None
    sim_state.inject_fault("detail", "malformed_json")
    with pytest.raises(UnexpectedResponseError):  # one try only: it says what went wrong
        client.detail(handle.id, within=0)


def test_download_is_retried(client, sim_state) -> None:
    task = client.run(inputs()).result(timeout=10)
    sim_state.inject_fault("download", "http500")
    assert Image.open(io.BytesIO(client.download(task.outputs[0]))).size == (256, 192)


@pytest.mark.parametrize("kind", ["reset", "lost_response", "lost_after_create", "http500",
                                  "http408", "malformed_json", "html"])
def test_run_is_never_sent_twice(client, sim_state, kind) -> None:
    sim_state.fault_timeout_seconds = 0.2
    sim_state.inject_fault("run", kind, times=3)
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is RunMaybeStartedError
    assert sim_state.run_calls == 1
    assert sim_state.tasks_created == (1 if kind.startswith("lost_") else 0)
    text = str(exc)
    assert "may have started" in text and "dashboard" in text and "not re-sent" in text


def test_run_timeout_may_have_started(sim, session) -> None:
    sim.state.fault_timeout_seconds = 1.0
    sim.state.inject_fault("run", "timeout")
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    request_timeout=0.3, session=session) as client:
        exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is RunMaybeStartedError
    assert sim.state.run_calls <= 1


def test_refused_connection_on_run_is_a_connection_error() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    with WiroClient("k", "s", base_url=base) as client:
        exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is WiroConnectionError
    assert not isinstance(exc, RunMaybeStartedError)
    assert base in str(exc) and "Check the network connection" in str(exc)


def test_refused_connection_on_detail_is_a_connection_error() -> None:
    with WiroClient("k", "s", base_url=f"http://127.0.0.1:{free_port()}/v1",
                    retry_window=0.3) as client:
        exc = _raised(lambda: client.detail("1"))
    assert type(exc) is WiroConnectionError and exc.never_sent


# --- no secrets in messages --------------------------------------------------------------------

CANARY_KEY = "CANARYKEY-q7Zx93"
CANARY_SECRET = "CANARYSECRET-w4Lp27"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _assert_clean(text: str) -> None:
    assert CANARY_KEY not in text and CANARY_SECRET not in text
    assert "CANARY" not in text
    assert not _HEX64.search(text), text  # no signature
    assert "x-signature" not in text.lower() or "headers are required" in text


def test_no_credentials_in_errors_or_client(tmp_path) -> None:
    state = SimulatorState(CANARY_KEY, CANARY_SECRET, pace=0)
    raised: list[BaseException] = []

    def collect(fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - every kind is inspected below
            raised.append(exc)

    with SimulatorServer(state) as server:
        good = WiroClient(CANARY_KEY, CANARY_SECRET, base_url=server.base_url,
                          poll_interval=0.01)
        wrong_secret = WiroClient(CANARY_KEY, CANARY_SECRET + "x", base_url=server.base_url)
        key_only = WiroClient(CANARY_KEY, base_url=server.base_url)
        wrong_key = WiroClient(CANARY_KEY + "x", CANARY_SECRET, base_url=server.base_url)
        dead = WiroClient(CANARY_KEY, CANARY_SECRET,
                          base_url=f"http://127.0.0.1:{free_port()}/v1")
        for client in (good, wrong_secret, key_only, wrong_key, dead):
            _assert_clean(repr(client))
            _assert_clean(str(client))
            collect(lambda c=client: c.run(inputs()))
            if client is not dead:  # (a dead Detail only differs by slow connect retries)
                collect(lambda c=client: c.detail("100001"))
        collect(lambda: good.run(inputs(width=1000)))  # local validation
        for kind in ("reset", "lost_response", "http500", "malformed_json", "error_code:0",
                     "error_code:96", "error_code:97", "error_code:98", "error_code:99"):
            state.inject_fault("run", kind)
            collect(lambda: good.run(inputs()))
        handle = good.run(inputs())
        for kind in ("malformed_json", "error_code:1", "error_code:99"):
            state.inject_fault("detail", kind)
            collect(lambda: good.detail(handle.id, within=0))
        collect(lambda: good.cancel(handle.id))  # already finished: not cancellable
        collect(lambda: good.kill(handle.id))
        state.fail_next_tasks = 1
        collect(lambda: good.run(inputs()).result(timeout=10))
        state.hold_in_queue = True
        queued = good.run(inputs())
        queued.cancel()
        collect(lambda: queued.result(timeout=10))
        task = good.detail(handle.id)
        state.output_ttl_seconds = -1
        collect(lambda: good.download(task.outputs[0], window=0))
        _assert_clean(repr(handle))
        _assert_clean(repr(task))
        for client in (good, wrong_secret, key_only, wrong_key, dead):
            client.close()

    kinds = {type(e) for e in raised}
    assert {AuthenticationError, RunMaybeStartedError, WiroConnectionError, InvalidInputError,
            RequestRejectedError, NotFoundError, ConcurrencyLimitError,
            InsufficientBalanceError, SignInRequiredError, TokenInvalidError,
            UnexpectedResponseError, TaskFailedError, TaskCancelledError} <= kinds
    for exc in raised:
        assert isinstance(exc, WiroError), repr(exc)
        _assert_clean(str(exc))
        _assert_clean(repr(exc))
        _assert_clean(str(getattr(exc, "__cause__", None)))
        assert exc.__cause__ is None or not isinstance(exc.__cause__, requests.RequestException)


# --- issue 10: Kill/Cancel answers, stop without Detail, rate limits, ambiguous starts ------


def test_kill_and_cancel_succeed_on_result_alone(client, sim_state) -> None:
    """Wiro's SDKs read only `result` from Kill/Cancel; a missing tasklist is not an error."""
    sim_state.stop_without_tasklist = True
    sim_state.hold_running = True
    running = client.run(inputs())
    assert running.kill() is None
    assert client.detail(running.id).cancelled
    sim_state.hold_in_queue = True
    queued = client.run(inputs())
    assert queued.cancel() is None
    assert client.detail(queued.id).cancelled


def test_stop_is_confirmed_by_one_detail(client, session, sim_state) -> None:
    sim_state.stop_without_tasklist = True
    sim_state.hold_running = True
    handle = client.run(inputs())
    outcome = handle.stop(status=TaskStatus.OUTPUT)
    assert outcome.action == "killed" and outcome.confirmed and outcome.task.cancelled
    paths = [r.url.rsplit("/v1/", 1)[1] for r in session.sent]
    assert paths[-2:] == ["Task/Kill", "Task/Detail"]


def test_a_failed_confirmation_does_not_undo_a_successful_stop(client, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    sim_state.inject_fault("detail", "html", 100)
    outcome = handle.stop()
    assert outcome.action == "killed" and outcome.confirmed
    assert outcome.task.cancelled  # Kill's own answer carries the task (as the seed's does)
    assert outcome.charged_usd == outcome.task.total_cost
    sim_state.clear_faults()
    assert client.detail(handle.id).cancelled


def test_stop_does_not_need_detail_at_all(client, sim_state) -> None:
    sim_state.hold_in_queue = True
    handle = client.run(inputs())
    sim_state.inject_fault("detail", "reset", 1000)
    outcome = handle.stop()  # no status known: Kill first, which Wiro also takes while queued
    sim_state.clear_faults()
    assert outcome.cancelled and client.detail(handle.id).cancelled


def test_stop_retries_kill_through_transient_trouble(client, sim_state) -> None:
    sim_state.hold_running = True
    handle = client.run(inputs())
    sim_state.retry_after_seconds = 0.1
    sim_state.inject_fault("kill", "http429", 2)
    sim_state.inject_fault("kill", "reset", 3)
    assert handle.stop(status=TaskStatus.OUTPUT).action == "killed"
    assert client.detail(handle.id).cancelled


def test_a_stop_that_never_gets_through_is_unconfirmed(sim, sim_state, session) -> None:
    sim_state.hold_running = True
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    session=session, stop_window=0.2) as client:
        handle = client.run(inputs())
        sim_state.inject_fault("kill", "http500", 1000)
        sim_state.inject_fault("cancel", "http500", 1000)
        outcome = handle.stop(status=TaskStatus.OUTPUT)
    sim_state.clear_faults()
    assert not outcome.confirmed and outcome.action == "unconfirmed" and outcome.error


def test_detail_is_retried_after_a_429(client, sim_state, session) -> None:
    handle = client.run(inputs())
    sim_state.retry_after_seconds = 0.1
    sim_state.inject_fault("detail", "http429", 1)
    before = len(session.sent)
    assert client.detail(handle.id).succeeded
    assert len(session.sent) - before == 2  # the 429, then the answer
    assert sim_state.take_fault("detail") is None


def test_retry_after_sets_the_delay() -> None:
    from wiro.policy import RETRY_AFTER_CAP, RETRY_MAX_DELAY, backoff
    assert backoff(1, 7.0) == 7.0
    assert backoff(1, 10_000.0) == RETRY_AFTER_CAP
    assert backoff(1) < backoff(4) <= backoff(30) <= RETRY_MAX_DELAY * 1.1


def test_run_429_is_rate_limited_and_not_resent(client, sim_state) -> None:
    from wiro.errors import RateLimitedError
    sim_state.retry_after_seconds = 12
    sim_state.inject_fault("run", "http429")
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is RateLimitedError and exc.retry_after == 12
    assert str(exc) == ("Wiro is rate limiting this key; try again in 12 s — nothing was "
                        "started.")
    assert sim_state.run_calls == 1


def test_run_result_true_without_a_task_is_an_ambiguous_start(client, sim_state) -> None:
    from wiro.errors import AmbiguousStartError
    sim_state.inject_fault("run", "no_task")
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is AmbiguousStartError and isinstance(exc, RunMaybeStartedError)
    assert "named no task" in str(exc) and "dashboard" in str(exc)


def test_result_delivers_a_finished_task_whatever_its_final_status(sim, sim_state) -> None:
    sim_state.detail_status = "task_end"
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    settle_window=0.2, poll_interval=0.05) as client:
        task = client.run(inputs()).result(timeout=10)
    assert task.deliverable and task.status_text == "task_end"


def test_task_error_on_detail_ends_the_run_at_once_and_nothing_is_stopped(client, session,
                                                                          sim_state) -> None:
    """Wiro-MCP: Detail's task_error is a failure before the model ran, final."""
    sim_state.fail_before_start = 1
    handle = client.run(inputs())
    with pytest.raises(TaskFailedError) as info:
        handle.result(timeout=10)
    task = info.value.task
    assert task.status_text == "task_error" and task.failed and task.is_terminal
    text = str(info.value)
    assert f"Task {handle.id} failed before the model ran" in text
    assert "Simulated pre-execution failure" in text and "did not charge" in text
    assert handle.stop().action == "already_ended"  # a finished task is left alone
    paths = [r.url.rsplit("/v1/", 1)[1] for r in session.sent]
    assert "Task/Kill" not in paths and "Task/Cancel" not in paths
    assert sim_state.running_tasks() == []


def test_a_model_that_fails_while_polled_ends_with_its_exit_code(sim, sim_state) -> None:
    """Its stderr (the socket's task_error) is no end: Detail says task_postprocess_end."""
    sim_state.configure(pace=0.2, fail_next_tasks=1)
    seen: list[str] = []
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    poll_interval=0.02) as client:
        handle = client.run(inputs())
        with pytest.raises(TaskFailedError) as info:
            client.result(handle.id, timeout=10, on_update=lambda t: seen.append(t.status_text))
    assert info.value.task.status_text == "task_postprocess_end"
    assert info.value.task.pexit == "1" and "exit code 1" in str(info.value)
    assert "task_output" in seen and "task_error" not in seen


def test_an_unknown_status_that_sits_still_is_stopped(sim, sim_state) -> None:
    from wiro.errors import TaskStalledError
    sim_state.hold_running = True
    sim_state.detail_status = "task_failed"
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    stall_window=0.3, poll_interval=0.05) as client:
        handle = client.run(inputs())
        with pytest.raises(TaskStalledError) as info:
            handle.result(timeout=10)
    assert info.value.stopped.action == "killed"
    assert "task_failed" in str(info.value)
    assert sim_state.tasks()[0]["status"] == "task_cancel"


def test_timing_settings_reach_the_client(tmp_path) -> None:
    from wiro.settings import load_settings
    settings = load_settings({"WIRO_API_KEY": "k", "WIRO_STALL_WINDOW": "0.5",
                              "WIRO_TASK_TIMEOUT": "2", "WIRO_DETAIL_TIMEOUT": "0.25",
                              "WIRO_SETTLE_WINDOW": "0.1", "WIRO_DOWNLOAD_WINDOW": "3",
                              "WIRO_FILE_INPUT": "multipart"}, dotenv_path=None)
    with WiroClient.from_settings(settings) as client:
        assert (client.stall_window, client.task_timeout, client.detail_timeout[1],
                client.settle_window, client.download_window, client.file_input) == \
            (0.5, 2.0, 0.25, 0.1, 3.0, "multipart")
    with pytest.raises(ValueError):
        load_settings({"WIRO_FILE_INPUT": "ftp"}, dotenv_path=None)
    defaults = load_settings({}, dotenv_path=None)
    assert (defaults.stall_window, defaults.task_timeout, defaults.file_input) == \
        (30.0, 600.0, "upload")


# --- one request policy -----------------------------------------------------------------------


class CountingSession(requests.Session):
    """Counts every request it is asked to send, answered or not."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def request(self, method, url, *args, **kwargs):  # noqa: D102
        self.urls.append(url)
        return super().request(method, url, *args, **kwargs)


def _running(client, sim_state):
    sim_state.hold_running = True
    return client.run(inputs())


def _queued(client, sim_state):
    sim_state.hold_in_queue = True
    return client.run(inputs())


def _idempotent_call(endpoint: str, client, sim_state):
    """The call to `endpoint`, its task (if it needs one) already made."""
    if endpoint == "list":
        return client.list_tasks
    if endpoint == "tool":
        return client.tool_detail
    handle = (_queued if endpoint == "cancel" else _running)(client, sim_state)
    return lambda: getattr(client, endpoint)(handle.id)


@pytest.mark.parametrize("kind", ["http500", "http408", "reset", "html"])
@pytest.mark.parametrize("endpoint", ["detail", "kill", "cancel", "list", "tool"])
def test_idempotent_calls_ride_out_transient_answers(client, sim_state, endpoint, kind) -> None:
    """Task/Detail, Kill, Cancel, List and Tool/Detail: asked again, as Wiro's SDKs do."""
    call = _idempotent_call(endpoint, client, sim_state)
    sim_state.inject_fault(endpoint, kind, times=2)
    answer = call()
    assert sim_state.take_fault(endpoint) is None  # both bad answers were met and got past
    if endpoint == "detail":
        assert answer.status is TaskStatus.OUTPUT
    elif endpoint in ("kill", "cancel"):
        assert answer.cancelled
    assert sim_state.run_calls <= 1


def test_every_attempt_is_signed_afresh(client, session, sim_state) -> None:
    handle = client.run(inputs())
    sim_state.inject_fault("detail", "http500", times=2)
    assert client.detail(handle.id).succeeded
    tries = [r for r in session.sent if r.url.endswith("/Task/Detail")]
    assert len(tries) == 3
    assert len({r.headers["x-nonce"] for r in tries}) == 3
    assert len({r.headers["x-signature"] for r in tries}) == 3


@pytest.mark.parametrize("kind", ["http500", "reset", "http408", "lost_response"])
def test_a_file_upload_is_never_sent_twice(sim, sim_state, tmp_path, kind) -> None:
    """As Wiro's SDKs: File/Upload is not retried (a second one may store a second file)."""
    sim_state.inject_fault("upload", kind, times=3)
    with CountingSession() as counting, WiroClient(
            sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
            session=counting) as client:
        with pytest.raises(WiroError):
            client.run(inputs(inputImage=[make_png(tmp_path / "a.png")]))
    assert [u for u in counting.urls if u.endswith("/File/Upload")] == [sim.base_url +
                                                                       "/File/Upload"]
    assert sim_state.run_calls == 0 and sim_state.uploads == (kind == "lost_response")


def test_run_is_sent_again_only_when_no_connection_was_made() -> None:
    base = f"http://127.0.0.1:{free_port()}/v1"
    with CountingSession() as counting, WiroClient("k", "s", base_url=base,
                                                   session=counting) as client:
        exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is WiroConnectionError and exc.never_sent
    assert len(counting.urls) == 3  # nothing reached Wiro: tried again, a few times


def test_401_and_403_name_the_key_and_on_run_say_nothing_started(client, sim_state) -> None:
    sim_state.forbidden = True  # a key without permission for these calls
    exc = _raised(lambda: client.run(inputs()))
    assert type(exc) is AuthenticationError and exc.http_status == 403
    text = str(exc)
    assert "HTTP 403" in text and "WIRO_API_KEY" in text
    assert "Nothing was started or charged." in text and "may have" not in text
    assert sim_state.tasks_created == 0 and sim_state.run_calls == 1
    exc = _raised(lambda: client.detail("100001"))
    assert type(exc) is AuthenticationError and "Nothing was started" not in str(exc)


def test_requests_name_the_app_and_its_version(client, session) -> None:
    import wiro
    task = client.run(inputs()).result(timeout=10)
    client.download(task.outputs[0])
    agent = f"flux2pro-wiro-demo/{wiro.__version__} python-requests/{requests.__version__}"
    assert {r.headers["User-Agent"] for r in session.sent} == {agent}
    assert {r.url.split("/")[3] for r in session.sent} >= {"v1", "cdn"}


# --- Task/List, and the task of a Run whose answer was lost --------------------------------


def test_list_tasks_sends_what_wiro_mcp_sends(client, session, sim_state) -> None:
    first, second = client.run(inputs()), client.run(inputs(prompt="a second one"))
    listed = client.list_tasks()
    sent = session.last("/Task/List")
    assert json.loads(sent.body) == {"type": "model", "sort": "id", "order": "DESC",
                                     "start": "0", "limit": "20"}
    assert "x-signature" in sent.headers
    assert [t.id for t in listed.tasks] == [second.id, first.id]  # newest first
    assert listed.total == 2 and listed.unreadable == ()
    assert all(t.model == spec.MODEL_SLUG and t.created_at and t.token for t in listed.tasks)
    client.list_tasks(model=spec.MODEL_SLUG, start=1, limit=5)
    assert json.loads(session.last("/Task/List").body) == {
        "type": "model", "sort": "id", "order": "DESC", "start": "1", "limit": "5",
        "modelName": spec.MODEL_SLUG}


def test_task_list_entries_that_cannot_be_read_are_set_aside() -> None:
    from wiro.models import TaskList
    good = {"id": "7", "socketaccesstoken": "tok", "status": "task_queue",
            "createtime": "1734513807", "modelslugowner": "black-forest-labs",
            "modelslugproject": "flux-2-pro"}
    bad = [dict(good, id=""), dict(good, socketaccesstoken=None), dict(good, status=5),
           dict(good, createtime="soon"), dict(good, createtime="0"), "a string", None]
    page = TaskList.from_json({"result": True, "errors": [], "total": "8",
                               "tasklist": [good, *bad]})
    assert [t.id for t in page.tasks] == ["7"] and len(page.unreadable) == len(bad)
    assert page.total == 8 and page.tasks[0].created_at == 1734513807.0
    with pytest.raises(UnexpectedResponseError):
        TaskList.from_json({"result": True, "errors": []})


def _lose_the_run(client, sim_state, **values):
    sim_state.fault_timeout_seconds = 0.2
    sim_state.inject_fault("run", "lost_after_create")
    with pytest.raises(RunMaybeStartedError) as info:
        client.run(inputs(**values))
    assert info.value.sent_at is not None
    return info.value


def test_a_lost_runs_task_is_found_and_followed_without_a_second_run(client, sim_state) -> None:
    lost = _lose_the_run(client, sim_state)
    found = client.find_lost_task(lost.sent_at)
    (made,) = sim_state.tasks()
    assert found is not None and found.id == made["id"] and found.token == made["token"]
    assert client.result(found.id, timeout=10).succeeded
    assert sim_state.run_calls == 1 and sim_state.tasks_created == 1


def test_when_two_tasks_fit_none_is_guessed(client, sim_state) -> None:
    """A team key lists teammates' tasks: one started meanwhile makes the answer unsure."""
    client.run(inputs(prompt="a teammate's run"))
    lost = _lose_the_run(client, sim_state)
    search = client.search_lost_task(lost.sent_at)
    assert search.task is None and "2 tasks" in search.reason and "not guessing" in search.reason
    # Told which task is someone else's, or what this Run asked for, it is sure again.
    teammate = sim_state.tasks()[0]["id"]
    assert client.find_lost_task(lost.sent_at, exclude=[teammate]).id != teammate
    by_prompt = client.find_lost_task(lost.sent_at, request=validate_inputs(inputs()))
    assert by_prompt is not None and by_prompt.id == sim_state.tasks()[1]["id"]
    assert sim_state.run_calls == 2  # the teammate's and the lost one: never a third


def test_other_models_and_older_tasks_are_not_candidates(sim_state, session) -> None:
    import time as clock
    from conftest import FakeClock
    from wiro.signing import auth_headers
    fake = FakeClock(clock.time())
    sim_state.clock = fake
    sim_state.configure(other_models=("wiro/another-model",))
    with SimulatorServer(sim_state) as server, WiroClient(
            sim_state.api_key, sim_state.api_secret, base_url=server.base_url,
            session=session) as client:
        client.run(inputs(prompt="an hour ago"))
        fake.advance(3600)
        # A teammate's run of another model (its own nonce: the client's are timestamps).
        sim_state.run(auth_headers(sim_state.api_key, sim_state.api_secret, "teammate-1"),
                      [("prompt", "other model")], slug="wiro/another-model")
        lost = _lose_the_run(client, sim_state)
        search = client.search_lost_task(fake.now - 0.5, until=fake.now + 0.5)
    assert search.task is not None and search.task.id == sim_state.tasks()[-1]["id"]
    assert lost.sent_at  # (the real clock's; the simulator's runs an hour ahead here)


def test_no_task_found_is_said_and_a_failed_list_never_raises(sim, sim_state) -> None:
    with WiroClient(sim.state.api_key, sim.state.api_secret, base_url=sim.base_url,
                    retry_window=0.2) as client:
        nothing = client.search_lost_task(1_000_000_000.0, until=1_000_000_001.0)
        assert nothing.task is None and "no task" in nothing.reason
        sim_state.inject_fault("list", "http500", 100)
        failed = client.search_lost_task(1_000_000_000.0)
    assert failed.task is None and failed.reason.startswith("Task/List failed")
    assert sim_state.run_calls == 0


def test_a_list_that_does_not_reach_back_far_enough_is_not_trusted(client, sim_state) -> None:
    from wiro.client import LOST_TASK_PAGE
    sent_at = sim_state.now()
    for n in range(LOST_TASK_PAGE + 1):
        client.run(inputs(prompt=f"busy team {n}"))
    search = client.search_lost_task(sent_at)
    assert search.task is None and "reach back" in search.reason


# --- Wiro's own description and prices (Tool/Detail) -----------------------------------------


def test_tool_detail_reads_the_model_and_finds_no_drift(client, session) -> None:
    from wiro.models import ModelDetail
    detail = client.tool_detail()
    assert json.loads(session.last("/Tool/Detail").body) == {
        "slugowner": spec.MODEL_OWNER, "slugproject": spec.MODEL_PROJECT}
    assert detail.slug == spec.MODEL_SLUG and detail.drift() == []
    assert len(detail.inspire) == len(spec.INSPIRATIONS)
    assert detail.dynamic_price[0]["priceMethod"] == "cp-pixel"
    assert ModelDetail.from_json(json.loads(json.dumps(detail.raw))) == detail  # keepable


def test_an_unknown_model_is_not_found(client) -> None:
    assert type(_raised(lambda: client.tool_detail("nobody/nothing"))) is NotFoundError


def test_the_estimate_from_wiros_price_list_is_what_the_task_costs(client, sim_state,
                                                                   tmp_path) -> None:
    from wiro import pricing
    sim_state.dynamic_price = [{"inputs": {}, "price": 0.05, "priceMethod": "cp-pixel",
                                "priceExtra": 0.02, "priceInput": 0.01}]
    detail = client.tool_detail()
    reference = make_png(tmp_path / "r.png", (1100, 1100))  # two input megapixels
    task = client.run(inputs(width=1536, height=1024, inputImage=[reference])).result(
        timeout=10)
    estimate = pricing.estimate_from_dynamic_price(
        detail.dynamic_price, 1536, 1024, pricing.input_megapixels([(1100, 1100)]))
    assert estimate == pytest.approx(0.05 + 0.02 + 2 * 0.01)
    assert task.total_cost == pytest.approx(estimate)


def test_wiros_price_methods_are_read_or_left_to_bfls_rates() -> None:
    from wiro import pricing
    pixel = [{"inputs": {}, "price": 0.04, "priceMethod": "cp-pixel", "priceExtra": 0.01,
              "priceInput": 0.005}]
    assert pricing.price_from_dynamic(json.dumps(pixel)) == pricing.PixelPrice(0.04, 0.01, 0.005)
    assert pricing.price_from_dynamic([{"inputs": {}, "price": 0.09, "priceMethod": "cpr"}]) \
        == pricing.PixelPrice(0.09)
    tiers = [{"inputs": {"outputFormat": "png"}, "price": 0.2, "priceMethod": "cpr"},
             {"inputs": {"inputImage": "QUANTITY:2"}, "price": 0.3, "priceMethod": "cpr"}]
    assert pricing.price_from_dynamic(tiers, {"outputFormat": "png"}).first == 0.2
    assert pricing.price_from_dynamic(tiers, {"inputImage": ["a", "b"]}).first == 0.3
    assert pricing.price_from_dynamic(tiers, {"outputFormat": "jpeg"}) is None
    for unreadable in (None, "", "not json", "[]", [{"price": "x", "priceMethod": "cpr"}],
                       [{"inputs": {}, "price": 0.01, "priceMethod": "cps"}]):
        assert pricing.price_from_dynamic(unreadable) is None, unreadable
        assert pricing.estimate_from_dynamic_price(unreadable, 2048, 1024) == \
            pricing.estimate_cost(2048, 1024)  # BFL's rates


def test_parameter_drift_names_what_changed() -> None:
    from wiro.models import parameter_drift
    from wiro.simulator.tool import tool_json
    groups = tool_json([])["parameters"]
    assert parameter_drift(groups) == []
    items = {i["id"]: i for i in groups[0]["items"]}
    items["width"].update(default="0", max=4096)
    items["outputFormat"]["options"].append({"label": "WebP", "value": "webp"})
    items["seed"]["type"] = "text"
    del items["safetyTolerance"]
    items["raw"] = {"id": "raw", "type": "checkbox"}
    drift = parameter_drift([{"title": "Inputs", "items": list(items.values())}])
    assert drift == [
        "width: default 1024 here, 0 at Wiro",
        "width: range 64–2048 here, 64–4096 at Wiro",
        "safetyTolerance: not listed by Wiro",
        "seed: type number here, text at Wiro",
        "outputFormat: options jpeg, png here, jpeg, png, webp at Wiro",
        "raw: new at Wiro (checkbox)",
    ]
    assert parameter_drift(None) == ["Tool/Detail lists no parameters to compare"]


# --- what a stop cost, and pexit while running -----------------------------------------------


def test_a_killed_task_reports_its_partial_charge(client, sim_state) -> None:
    handle = _running(client, sim_state)
    outcome = handle.stop()
    assert outcome.action == "killed" and outcome.charged_usd is not None
    assert 0 < outcome.charged_usd < 0.03  # part of a 1 MP run's estimate
    assert outcome.charged_usd == client.detail(handle.id).total_cost


def test_a_queued_task_cancelled_costs_nothing(client, sim_state) -> None:
    outcome = _queued(client, sim_state).stop()
    assert outcome.action == "cancelled" and outcome.charged_usd == 0.0


def test_a_stop_with_no_task_in_sight_has_an_unknown_charge(client, sim_state) -> None:
    sim_state.stop_without_tasklist = True
    handle = _running(client, sim_state)
    sim_state.inject_fault("detail", "html", 100)
    outcome = handle.stop(status=TaskStatus.OUTPUT)
    sim_state.clear_faults()
    assert outcome.action == "killed" and outcome.charged_usd is None


def test_pexit_is_empty_while_running_and_a_finished_image_is_still_delivered(
        client, sim_state) -> None:
    handle = _running(client, sim_state)
    running = client.detail(handle.id)
    assert running.pexit == "" and not running.deliverable and not running.is_terminal
    sim_state.release(handle.id)
    done = handle.result(timeout=10)
    assert done.pexit == "0" and done.deliverable
