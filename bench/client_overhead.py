"""How much does WiroClient cost per call, next to the docs' own style?

Starts the Wiro simulator (pace 0) on loopback in this process, then times N iterations
of Run + Task/Detail two ways against the same simulator, interleaved so both see the same
conditions:

- baseline: what Wiro's docs show, a fresh `requests.post` per call with freshly signed
  headers and no session (so a new TCP connection every time);
- client:   WiroClient.run(...) + WiroClient.detail(...), over its one requests.Session.

The request is validated once up front, so both send the same JSON body and the numbers
compare transport and client bookkeeping only. Output sizes are kept small so the
simulator's image rendering does not drown the difference.

    python bench/client_overhead.py [-n 200] [--warmup 20]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import requests  # noqa: E402

from wiro import spec  # noqa: E402
from wiro.client import WiroClient  # noqa: E402
from wiro.signing import NonceSource, auth_headers  # noqa: E402
from wiro.simulator import SimulatorServer, SimulatorState  # noqa: E402
from wiro.validation import validate_inputs  # noqa: E402

KEY, SECRET = "bench-key", "bench-secret"
INPUTS = {"prompt": "a lighthouse at dusk", "width": 64, "height": 64, "seed": 1,
          "safetyTolerance": 2, "outputFormat": "png",
          "inputImage": ["https://cdn.wiro.ai/uploads/sampleinputs/bfl-flux-2-pro-input-4.jpg"]}


class Baseline:
    """The docs' curl, in Python: one signed requests.post per call, no session."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.nonce = NonceSource()  # the simulator, like Wiro, refuses a reused nonce

    def _post(self, path: str, body: dict) -> dict:
        headers = auth_headers(KEY, SECRET, self.nonce())
        response = requests.post(f"{self.base_url}/{path}", json=body, headers=headers,
                                 timeout=30)
        data = response.json()
        if not data.get("result"):
            raise RuntimeError(data)
        return data

    def run(self, body: dict) -> str:
        return self._post(f"Run/{spec.MODEL_SLUG}", body)["taskid"]

    def detail(self, taskid: str) -> dict:
        return self._post("Task/Detail", {"taskid": taskid})["tasklist"][0]


def timed(fn: Callable[[], object]) -> tuple[object, float]:
    start = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - start) * 1000.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--iterations", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)

    request = validate_inputs(INPUTS)
    body = dict(request.params, inputImage=[i.url for i in request.images])
    state = SimulatorState(KEY, SECRET, pace=0)

    with SimulatorServer(state) as server:
        baseline = Baseline(server.base_url)
        client = WiroClient(KEY, SECRET, base_url=server.base_url)
        assert WiroClient.run_body(request)["json"] == body  # the same bytes go out
        times: dict[tuple[str, str], list[float]] = {
            (style, call): [] for style in ("baseline", "client") for call in ("run", "detail")}

        def one_round(record: bool) -> None:
            taskid, t_run = timed(lambda: baseline.run(body))
            task, t_detail = timed(lambda: baseline.detail(taskid))
            assert task["status"] == "task_postprocess_end", task["status"]
            if record:
                times["baseline", "run"].append(t_run)
                times["baseline", "detail"].append(t_detail)
            handle, t_run = timed(lambda: client.run(request))
            task, t_detail = timed(lambda: client.detail(handle.id))
            assert task.succeeded, task
            if record:
                times["client", "run"].append(t_run)
                times["client", "detail"].append(t_detail)

        for _ in range(args.warmup):
            one_round(record=False)
        for _ in range(args.iterations):
            one_round(record=True)
        client.close()

    for style in ("baseline", "client"):
        times[style, "run+detail"] = [a + b for a, b in zip(times[style, "run"],
                                                            times[style, "detail"])]
    print(f"WiroClient vs docs-style requests.post, simulator on {server.root_url}, pace 0, "
          f"{args.iterations} iterations after {args.warmup} warm-up\n")
    print(f"{'call':<12}{'baseline mean':>15}{'p95':>9}{'client mean':>14}{'p95':>9}"
          f"{'client/baseline':>18}")
    for call in ("run", "detail", "run+detail"):
        b, c = times["baseline", call], times["client", call]
        b_mean, c_mean = statistics.fmean(b), statistics.fmean(c)
        print(f"{call:<12}{b_mean:>12.2f} ms{p95(b):>6.2f} ms{c_mean:>11.2f} ms"
              f"{p95(c):>6.2f} ms{c_mean / b_mean:>18.2f}")
    ratio = statistics.fmean(times["client", "run+detail"]) / statistics.fmean(
        times["baseline", "run+detail"])
    print(f"\ngoal client/baseline <= 1.0: {'met' if ratio <= 1.0 else 'NOT met'} "
          f"({ratio:.2f})")


if __name__ == "__main__":
    main()
