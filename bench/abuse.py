"""Refused requests stay cheap: an honest visitor's run alone and during a flood of heavy
requests that the caps refuse, and the app's CPU per refused request.

Starts `python app.py` in keyless (simulator) mode on loopback, with proxy headers trusted
so the bench can play the proxy and speak for two visitors (X-Forwarded-For): an honest
one, and a flooder who has used up the hour's runs and keeps sending `generate` calls with
eight 64 MP PNGs (a few hundred kB each, as in issue 12's report). Then, in one run:

1. the app process's CPU seconds (user + system, from /proc) per refused heavy call, made
   one at a time as a script would (plain HTTP), beside the same for a call with no files
   (Gradio's own floor for any call);
2. the honest visitor's `generate` time alone (the baseline), median of a few runs;
3. the same while flooders send refused heavy calls at a steady rate (default 10 calls/s;
   alone and flooded runs in turns); the ratio of the medians.

Goals (issue 12): at most 0.05 s of CPU per refused request, ratio at most 1.2×. Before the
fix the report saw 23 s of CPU and 884 MB per refused request, and 40 s instead of 0.7 s.

    python bench/abuse.py [--flooders 4] [--rate 10] [--runs 5] [--calls 20]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import requests  # noqa: E402
from PIL import Image  # noqa: E402
from gradio_client import Client  # noqa: E402

from app_process import start_app  # noqa: E402

HONEST = "198.51.100.10"
FLOODER = "203.0.113.66"
ARGS = ("a lighthouse at dusk", 256, 256, 2, 1, "png")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def heavy_pngs(folder: Path, count: int = 8) -> list[str]:
    first = folder / "huge-1.png"
    Image.new("L", (8000, 8000), 90).save(first, compress_level=9)
    paths = [first]
    for n in range(2, count + 1):
        paths.append(folder / f"huge-{n}.png")
        paths[-1].write_bytes(first.read_bytes())
    return [str(p) for p in paths]


def client_for(url: str, address: str) -> Client:
    # The bench plays the trusted proxy: the last entry is the address it "saw".
    return Client(url, verbose=False, analytics_enabled=False,
                  headers={"X-Forwarded-For": f"10.9.9.9, {address}"})


def honest_run(client: Client) -> float:
    started = time.perf_counter()
    client.predict([], *ARGS, api_name="/generate")
    return time.perf_counter() - started


def refused_call(session: requests.Session, url: str, fn_index: int,
                 files: list[str]) -> bool:
    """One flood call as a script would make it (plain HTTP, little client CPU): upload the
    files, join the queue for `generate`, read the event stream to the end. True if refused."""
    headers = {"X-Forwarded-For": f"10.9.9.9, {FLOODER}"}
    data_files = []
    if files:
        handles = [open(f, "rb") for f in files]
        try:
            uploaded = session.post(f"{url}gradio_api/upload", headers=headers, files=[
                ("files", (os.path.basename(f), h, "image/png")) for f, h in zip(files, handles)])
        except requests.ConnectionError:
            return True  # answered (429) and hung up on before the body was all sent
        finally:
            for h in handles:
                h.close()
        if uploaded.status_code == 429:  # turned away before Gradio read the files
            return True
        data_files = [{"path": p, "orig_name": os.path.basename(p),
                       "meta": {"_type": "gradio.FileData"}} for p in uploaded.json()]
    session_hash = uuid.uuid4().hex[:11]
    session.post(f"{url}gradio_api/queue/join", headers=headers, json={
        "data": [data_files, *ARGS], "fn_index": fn_index, "session_hash": session_hash,
        "event_data": None, "trigger_id": None})
    with session.get(f"{url}gradio_api/queue/data", params={"session_hash": session_hash},
                     headers=headers, stream=True) as events:
        for line in events.iter_lines():
            if b"process_completed" in line:
                return not json.loads(line[len(b"data:"):])["success"]
    return False


class Flood:
    """Flooders sending heavy calls that the caps refuse, until stopped; counts them."""

    def __init__(self, url: str, fn_index: int, files: list[str], flooders: int,
                 rate: float):
        self.url, self.fn_index, self.files = url, fn_index, files
        self.interval = flooders / rate  # each flooder's pace, for `rate` calls/s in all
        self.stop = threading.Event()
        self.refused = self.accepted = 0
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._loop, daemon=True)
                        for _ in range(flooders)]

    def _loop(self) -> None:
        with requests.Session() as session:
            next_call = time.monotonic()
            while not self.stop.wait(max(0.0, next_call - time.monotonic())):
                next_call += self.interval
                refused = refused_call(session, self.url, self.fn_index, self.files)
                with self.lock:
                    if refused:
                        self.refused += 1
                    else:
                        self.accepted += 1

    def __enter__(self) -> "Flood":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(60)


def cpu_per_call(pid: int, url: str, fn_index: int, files: list[str], calls: int) -> float:
    with requests.Session() as session:
        before = cpu_seconds(pid)
        for _ in range(calls):
            assert refused_call(session, url, fn_index, files)
        return (cpu_seconds(pid) - before) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="refused heavy calls per second the flooders offer in all")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="abuse-bench-") as tmp:
        tmp_path = Path(tmp)
        per_hour = 2 * args.runs + 1  # the honest visitor's runs fit; the flooder's are used up
        files = heavy_pngs(tmp_path)
        size_kb = sum(os.path.getsize(f) for f in files) / 1024
        app = start_app(tmp_path, {
            "WIRO_SIMULATOR_PACE": "0.15", "WIRO_POLL_INTERVAL": "0.1",
            "APP_TRUST_PROXY_HEADERS": "1", "APP_RUNS_PER_CLIENT_PER_HOUR": str(per_hour),
            "APP_MAX_CONCURRENT_RUNS": "4", "APP_DATA_DIR": str(tmp_path / "data")})
        pid = app.process.pid
        try:
            url = app.url
            # The flooder uses up the hour's runs with cheap ones; then every call is refused.
            burner = client_for(url, FLOODER)
            for _ in range(per_hour):
                burner.predict([], *ARGS, api_name="/generate")
            honest = client_for(url, HONEST)
            honest_run(honest)  # warm up

            config = requests.get(f"{url}config", timeout=10).json()
            fn_index = next(d["id"] for d in config["dependencies"]
                            if d.get("api_name") == "generate")

            # The app's CPU per refused call, one at a time: with the heavy files, and
            # without any (Gradio's own floor for a call: queue, events, one log line).
            floor = cpu_per_call(pid, url, fn_index, [], args.calls)
            heavy = cpu_per_call(pid, url, fn_index, files, args.calls)
            rss = rss_mb(pid)

            # Alone and during a flood, in turns: the machine's other load drifts, and
            # alternating lets it weigh on both sides alike.
            alone, during, refused, accepted, flood_cpu = [], [], 0, 0, 0.0
            own0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(args.runs):
                alone.append(honest_run(honest))
                cpu0 = cpu_seconds(pid)
                with Flood(url, fn_index, files, args.flooders, args.rate) as flood:
                    time.sleep(0.5)  # the flood is under way before the honest run starts
                    during.append(honest_run(honest))
                flood_cpu += cpu_seconds(pid) - cpu0
                refused, accepted = refused + flood.refused, accepted + flood.accepted
            # The flooders run in this process on the same machine: their CPU is not the
            # app's, but it competes with it (a real flood's client runs elsewhere).
            own_cpu, flood_wall = time.process_time() - own0, time.perf_counter() - wall0
            ratio = statistics.median(during) / statistics.median(alone)

            print(f"abuse bench: app on loopback, simulator pace 0.15; each heavy call sends "
                  f"8 × 64 MP PNG ({size_kb:.0f} kB in all) and is refused by the hourly cap")
            print(f"  app CPU per refused heavy call:  {heavy * 1000:6.1f} ms  (goal ≤ 50 ms; "
                  "before the fix: ~23 000 ms)")
            print(f"  app CPU per refused empty call:  {floor * 1000:6.1f} ms  (Gradio's floor "
                  "for any call)")
            print(f"  app RSS after {2 * args.calls} refused calls: {rss:.0f} MB "
                  "(before the fix: +884 MB per call)")
            print(f"  honest run alone (baseline):   median {statistics.median(alone):.3f} s "
                  f"({', '.join(f'{t:.2f}' for t in alone)})")
            print(f"  honest run during the flood:   median {statistics.median(during):.3f} s "
                  f"({', '.join(f'{t:.2f}' for t in during)})")
            print(f"  the flood: {args.flooders} flooders offering {args.rate:g} heavy calls/s "
                  f"sent {refused} refused calls (accepted: {accepted}) while the honest runs "
                  f"went on; app CPU meanwhile {flood_cpu:.1f} s")
            print(f"  ratio during / alone: {ratio:.2f}× (goal ≤ 1.2×; before the fix: "
                  "40 s / 0.7 s ≈ 57×)")
            print(f"  context: this process (honest client + flooders) used {own_cpu:.1f} s "
                  f"of CPU in {flood_wall:.1f} s; load average {os.getloadavg()[0]:.1f} on "
                  f"{os.cpu_count()} CPUs")
        finally:
            app.terminate()


if __name__ == "__main__":
    main()
