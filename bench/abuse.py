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

Then (issue 17) what one visitor can make the app hold, for today's code (a git worktree of
BASELINE_REV) beside ours, each app alone in live mode against a local simulator whose
images are noisy 1024×1024 PNGs (about 3 MB, as real results are); every call is made as a
script would (plain HTTP, no heartbeat):

4. disk one visitor adds: a flood of 10 MB uploads, then loads of `/?restore=<token>` of a
   result with four 5 MB references; the app's temporary and data folders before and after;
5. memory added by 10 "Download this session" at once, for a tab with 12 runs;
6. one run with eight 8000×8000 PNG references (then a side-by-side batch): the app's CPU,
   and the CPU its thumbnails take;
7. through all of it, the latency of a page request (GET /) every 0.1 s, beside idle, and
   of a route Gradio answers on the event loop with no work (/gradio_api/startup-events):
   the page is rendered in a worker thread and slows with any CPU or GIL contention, while
   the loop route only waits when something runs on the event loop itself.

Goals (issue 17): a visitor adds at most the hour's quota (200 MB); 10 zips add ≤ 200 MB;
thumbnails ≤ 1 s of CPU per run; no request waits more than 100 ms behind another's work.

    python bench/abuse.py [--part refused|bounds|all] [--flooders 4] [--rate 10] [--runs 5]
        [--calls 20] [--baseline-rev 9f87230] [--uploads 30] [--restores 5] [--seeds 2]
        [--part-deadline 60] [--disk-cap 400]

Each issue-17 flood stops at its count, after --part-deadline seconds, and (the uploads) once
--disk-cap MB were added; today's code would otherwise take well over 20 minutes on two
CPUs. What a bound cut short is said as it happens and under the table, its figure marked ≥.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import requests  # noqa: E402
from PIL import Image  # noqa: E402
from gradio_client import Client  # noqa: E402

from app_process import start_app  # noqa: E402
from raw_gradio import RawGradio, new_session  # noqa: E402

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

    def __enter__(self) -> Flood:
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


# --- issue 17: what one visitor can make the app hold, today's code beside ours ---------------

BASELINE_REV = "9f87230"  # main when issue 17 was filed
MB = 1024 * 1024
BENCH_KEY, BENCH_SECRET = "bench-key", "bench-secret"


def noisy_png(path: Path, edge: int, seed: int) -> Path:
    Image.frombytes("RGB", (edge, edge), random.Random(seed).randbytes(edge * edge * 3)).save(
        path, compress_level=1)
    return path


def heavy_results():
    """The simulator's images as big as real ones (noise does not compress): ~3 MB PNGs."""
    import io

    from wiro.simulator import images

    out = io.BytesIO()
    Image.frombytes("RGB", (1024, 1024), random.Random(7).randbytes(1024 * 1024 * 3)).save(
        out, "PNG", compress_level=1)
    data = out.getvalue()
    images.render = lambda *args: data  # the simulator's tasks render through the module
    return len(data)


def folder_bytes(*folders: Path) -> int:
    total = 0
    for folder in folders:
        for path in Path(folder).rglob("*"):
            try:  # a file may go while we scan (ours prunes its temporary files)
                if path.is_file() and not path.is_symlink():
                    total += path.stat().st_size
            except OSError:
                continue
    return total


STARTED = time.monotonic()


def say(text: str) -> None:
    """Progress as the bench goes, with the time since it started."""
    print(f"[{time.monotonic() - STARTED:5.0f} s] {text}", flush=True)


def finish_within(seconds: float, action) -> tuple[bool, object]:
    """Run `action` in a thread and wait for it at most `seconds`: (finished, its value).
    An action still going is left to end with the app (terminated after the part)."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = action()
        except BaseException as error:  # noqa: BLE001 — handed to the caller
            box["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(max(0.0, seconds))
    if thread.is_alive():
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box.get("value")


PROBE_SCRIPT = """
import sys, threading, time
import requests
url, every, timeout = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
with requests.Session() as session:
    print("ready", flush=True)
    while not stop.wait(every):
        started = time.perf_counter()
        try:
            session.get(url, timeout=timeout).raise_for_status()
            ok = 1
        except requests.RequestException:
            ok = 0
        print(f"{time.perf_counter() - started:.6f} {ok}", flush=True)
"""


class Probe:
    """A request (by default the page, GET /) every `every` seconds, timed. The requests are
    made by a process of their own: in this one the simulator, the flood's clients and the
    making of upload bodies hold the GIL for tens of ms at a time, which a probe thread here
    would count as the app's latency."""

    TIMEOUT = 30.0  # a request that waits longer counts as this long (a lower bound)

    def __init__(self, url: str, every: float = 0.1, path: str = ""):
        self.url, self.every = url + path, every
        self.times: list[float] = []
        self.failed = 0  # requests timed out or refused: counted as TIMEOUT
        self.process: subprocess.Popen | None = None
        self.reader = threading.Thread(target=self._read, daemon=True)

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            seconds, ok = line.split()
            if ok == "1":
                self.times.append(float(seconds))
            else:
                self.failed += 1
                self.times.append(max(self.TIMEOUT, float(seconds)))

    def __enter__(self) -> Probe:
        self.process = subprocess.Popen(
            [sys.executable, "-c", PROBE_SCRIPT, self.url, str(self.every), str(self.TIMEOUT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError("the probe did not start")
        self.reader.start()
        return self

    def __exit__(self, *exc) -> None:
        assert self.process is not None and self.process.stdin is not None
        self.process.stdin.close()  # the probe stops after the request under way
        try:
            self.process.wait(self.TIMEOUT + 10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.reader.join(10)

    def text(self, idle: float) -> str:
        if not self.times:
            return "— (over before the first request)"
        worst = max(self.times)
        failed = (f", {self.failed} of {len(self.times)} failed or waited over "
                  f"{self.TIMEOUT:.0f} s" if self.failed else "")
        p95 = sorted(self.times)[int(0.95 * (len(self.times) - 1))]
        return (f"median {statistics.median(self.times) * 1000:5.0f} ms, p95 {p95 * 1000:5.0f} "
                f"ms, max {'≥ ' if self.failed else ''}{worst * 1000:6.0f} ms "
                f"(+{max(0.0, worst - idle) * 1000:.0f} ms; {len(self.times)} requests){failed}")


# A route Gradio answers on the event loop itself with next to no work (once the startup
# events ran): its latency is how long the loop was busy elsewhere. The page (GET /) is a
# plain function Starlette runs in a worker thread, ~40 ms of Python (the config copied and
# rendered) that competes for the GIL with every other thread of the app.
LOOP_ROUTE = "gradio_api/startup-events"


class Probes:
    """The page request and the event loop's own route, each timed in its own thread."""

    def __init__(self, url: str, every: float = 0.1):
        self.page = Probe(url, every)
        self.loop = Probe(url, every, LOOP_ROUTE)

    def __enter__(self) -> Probes:
        self.page.__enter__()
        self.loop.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.page.__exit__(*exc)
        self.loop.__exit__(*exc)


class RssPeak:
    """The app's resident memory, sampled every 20 ms; its peak."""

    def __init__(self, pid: int):
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> RssPeak:
        self.peak = rss_mb(self.pid)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(5)


def until_idle(pid: int, floor: float = 0.0, window: float = 1.0,
               longest: float = 600.0) -> bool:
    """Wait until the app uses at most `floor` + 0.05 s of CPU a second (`floor`: what a
    running Probe costs it), so background work such as thumbnails is done. False if it was
    still busy after `longest` seconds."""
    deadline = time.monotonic() + longest
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - before <= (floor + 0.05) * window:
            return True
    return False


def thumbnail_cpu(root: Path, sources: list[Path], ours: bool) -> float:
    """CPU seconds the tree at `root` takes to make thumbnails of `sources`, once each and in
    a process of its own, as keeping a run does: ours from the copies a run sent (its
    `make_thumbnail`), today's from each kept result's copies of the uploads (its
    `_make_thumbnail`, in a background thread). Timed apart because neither tree's threads
    can be told apart from outside (Python 3.11 gives them no names the OS sees)."""
    if not sources:
        return 0.0
    make = ("from studio.results import make_thumbnail as m; [m(p) for p in files]" if ours
            else "from studio.results import _make_thumbnail as m; import tempfile; "
                 "out = Path(tempfile.mkdtemp()); "
                 "[m(Path(p), out / f'{n}-thumb.jpg') for n, p in enumerate(files)]")
    script = ("import sys, time; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
              "files = sys.argv[2:]; t = time.process_time(); " + make +
              "; print(time.process_time() - t)")
    out = subprocess.run([sys.executable, "-c", script, str(root), *map(str, sources)],
                         capture_output=True, text=True, check=True, cwd=tempfile.gettempdir())
    return float(out.stdout.strip().splitlines()[-1])


def measure(root: Path, folder: Path, args: argparse.Namespace, refs4: list[str],
            heavy: list[str], ours: bool) -> dict:
    """Every issue-17 figure for the app at `root`. Each flood is bounded by a count, by
    `args.part_deadline` seconds and (the uploads) by `args.disk_cap` MB; what a bound cut
    short is noted in figures["capped"] (its figure is then a lower bound)."""
    from wiro.simulator import SimulatorServer, SimulatorState

    tree = "ours" if ours else "today"
    figures: dict = {"capped": {}, "probes": {}}
    capped = figures["capped"]

    def cap(key: str, note: str) -> None:
        capped[key] = note
        say(f"{tree}: {note}")

    with SimulatorServer(SimulatorState(BENCH_KEY, BENCH_SECRET, pace=0)) as sim:
        say(f"{tree}: starting the app ({root})")
        app = start_app(folder, {
            "WIRO_API_KEY": BENCH_KEY, "WIRO_API_SECRET": BENCH_SECRET,
            "WIRO_API_BASE_URL": sim.base_url, "WIRO_POLL_INTERVAL": "0.05",
            "APP_DATA_DIR": str(folder / "data"), "APP_TRUST_PROXY_HEADERS": "1",
            "APP_RUNS_PER_CLIENT_PER_HOUR": "0"}, root=root, timeout=120)
        pid = app.process.pid
        stored = [app.temp_dir, folder / "data"]
        try:
            requests.get(app.url + LOOP_ROUTE, timeout=60)  # the startup events, run once
            # Gradio's queue polls every millisecond when it has nothing to do: an idle app
            # uses about 0.1 s of CPU a second (both trees), so "idle" is measured, not 0.
            cpu0 = cpu_seconds(pid)
            time.sleep(3)
            resting = (cpu_seconds(pid) - cpu0) / 3  # the app's CPU a second, left alone
            cpu0 = cpu_seconds(pid)
            with Probes(app.url) as idle:
                time.sleep(5)
            probing = (cpu_seconds(pid) - cpu0) / 5  # ...and with the probe running
            figures["resting"] = resting
            figures["idle"] = statistics.median(idle.page.times)
            figures["idle_loop"] = statistics.median(idle.loop.times)
            say(f"{tree}: idle page request {figures['idle'] * 1000:.0f} ms, event-loop route "
                f"{figures['idle_loop'] * 1000:.0f} ms (medians); the app idle uses "
                f"{resting:.2f} s of CPU a second, {probing:.2f} s with the probes")
            flooder = {"X-Forwarded-For": f"10.9.9.9, {FLOODER}"}
            honest = {"X-Forwarded-For": f"10.9.9.9, {HONEST}"}

            # 4. disk: one visitor's uploads, as fast as the app takes them, until the count,
            # the disk cap or the deadline
            say(f"{tree}: 4. up to {args.uploads} × 10 MB uploads (stop at {args.disk_cap} MB "
                f"added or {args.part_deadline:.0f} s)")
            before, started, accepted, sent = folder_bytes(*stored), time.perf_counter(), 0, 0
            deadline = time.monotonic() + args.part_deadline
            with Probes(app.url) as probe, requests.Session() as http:
                for n in range(args.uploads):
                    added = folder_bytes(*stored) - before
                    if added >= args.disk_cap * MB:
                        cap("uploads", f"upload flood stopped after {added / MB:,.0f} MB "
                                       f"({sent} of {args.uploads} uploads sent, {accepted} "
                                       "accepted), more possible")
                        break
                    if time.monotonic() > deadline:
                        cap("uploads", f"upload flood stopped at the {args.part_deadline:.0f} "
                                       f"s deadline after {sent} of {args.uploads} uploads "
                                       f"({added / MB:,.0f} MB added)")
                        break
                    try:
                        answer = http.post(f"{app.url}gradio_api/upload", headers=flooder,
                                           files=[("files", (f"u{n}.bin", random.randbytes(
                                               10 * MB)))], timeout=120)
                        accepted += answer.status_code == 200
                    except requests.ConnectionError:
                        pass  # refused and hung up on before the body was all sent
                    sent += 1
                    if sent % 10 == 0:
                        say(f"{tree}:    {sent} uploads, {accepted} accepted, "
                            f"{(folder_bytes(*stored) - before) / MB:,.0f} MB added")
            figures["probes"]["uploads"] = probe
            figures["uploads"] = (folder_bytes(*stored) - before, accepted,
                                  time.perf_counter() - started, probe, sent)
            say(f"{tree}:    {figures['uploads'][0] / MB:,.0f} MB added by {sent} uploads "
                f"({accepted} accepted) in {figures['uploads'][2]:.1f} s")

            # ...and loads of a restore link (the result made by another visitor)
            say(f"{tree}: 4. a result with four references, shared; up to {args.restores} "
                "loads of its restore link")
            page = RawGradio(app.url, honest)
            tab = new_session()
            browser = page.open_page(tab)["output"]["data"][0]
            page.clear_references(tab)
            held = page.add_references(tab, refs4)
            if held not in (None, len(refs4)):
                raise RuntimeError(f"the tab holds {held} references, not {len(refs4)}")
            page.generate(tab, "a result with four 5 MB references")
            token = page.share_newest(tab, browser)
            loader = RawGradio(app.url, flooder)
            before, started, loads = folder_bytes(*stored), time.perf_counter(), 0
            deadline = time.monotonic() + args.part_deadline
            with Probes(app.url) as probe:
                for _ in range(args.restores):
                    if time.monotonic() > deadline:
                        cap("restores", f"restore loads stopped at the {args.part_deadline:.0f}"
                                        f" s deadline after {loads} of {args.restores}")
                        break
                    loader.open_page(new_session(), restore=token)
                    loads += 1
            figures["probes"]["restores"] = probe
            figures["restores"] = (folder_bytes(*stored) - before,
                                   time.perf_counter() - started, probe, loads)
            say(f"{tree}:    {figures['restores'][0] / MB:,.1f} MB added by {loads} loads in "
                f"{figures['restores'][1]:.1f} s")

            # 5. memory: 10 zips at once of a tab with 12 runs of ~3 MB images
            say(f"{tree}: 5. 12 runs in one tab, then 10 'Download this session' at once")
            zips_tab = new_session()
            page.open_page(zips_tab)
            for n in range(12):
                page.generate(zips_tab, f"zip run {n}")
            if not until_idle(pid, resting, longest=args.part_deadline):
                say(f"{tree}:    (the app was still busy after {args.part_deadline:.0f} s; "
                    "measuring anyway)")
            rss0 = rss_mb(pid)
            started = time.perf_counter()
            with RssPeak(pid) as peak, Probes(app.url) as probe:
                done, _ = finish_within(args.part_deadline,
                                        lambda: page.download_session(zips_tab, times=10))
            if not done:
                cap("zips", f"10 zips still being built after {args.part_deadline:.0f} s "
                            f"(memory added so far: {peak.peak - rss0:,.0f} MB)")
            figures["probes"]["zips"] = probe
            figures["zips"] = (peak.peak - rss0, rss0, probe)
            say(f"{tree}:    +{peak.peak - rss0:,.0f} MB (from {rss0:.0f} MB) in "
                f"{time.perf_counter() - started:.1f} s")

            # 6. one run with eight 64 MP references, then a side-by-side batch
            say(f"{tree}: 6. eight 64 MP PNG references: one run, then side by side "
                f"({args.seeds} seeds)")
            heavy_tab = new_session()
            page.open_page(heavy_tab)
            # Setting up, not a flood: its own, longer bound.
            setup = max(args.part_deadline, 180.0)
            started = time.perf_counter()
            page.clear_references(heavy_tab)
            done, held = finish_within(setup, lambda: page.add_references(heavy_tab, heavy))
            if done and held not in (None, len(heavy)):
                raise RuntimeError(f"the tab holds {held} references, not {len(heavy)}")
            if not done or not until_idle(pid, resting, longest=max(
                    1.0, setup - (time.perf_counter() - started))):
                cap("run", f"adding the references took over {setup:.0f} s: the heavy run "
                           "and side by side skipped")
            say(f"{tree}:    references added in {time.perf_counter() - started:.1f} s")

            def thumbnailed() -> set[Path]:
                """The files the app makes reference thumbnails of: ours the shrunk copies a
                run sends (a cache, reused by side by side), today's each kept result's own
                copies of the uploads."""
                if ours:
                    return {p for p in app.temp_dir.glob("flux2pro-references-*/*/*")
                            if p.is_file()}
                return {p for p in (folder / "data").glob("results/*/refs/*")
                        if p.is_file() and "-thumb." not in p.name}

            for label, action in [("run", lambda: page.generate(heavy_tab, "heavy refs")),
                                  ("seeds", lambda: page.compare(
                                      heavy_tab, ", ".join(str(s) for s in range(
                                          1, args.seeds + 1)), "heavy refs"))]:
                if label == "seeds" and args.seeds < 2:
                    continue
                if capped.get("run"):
                    if label == "seeds":
                        cap("seeds", "side by side skipped: the heavy run was cut short")
                    continue
                sources = thumbnailed()
                cpu0, started = cpu_seconds(pid), time.perf_counter()
                deadline = time.monotonic() + args.part_deadline
                with Probes(app.url) as probe:
                    done, message = finish_within(args.part_deadline, action)
                    idle_again = done and until_idle(pid, probing, longest=max(
                        1.0, deadline - time.monotonic()))
                wall, cpu = time.perf_counter() - started, cpu_seconds(pid) - cpu0
                if done and not message.get("success"):
                    raise RuntimeError(f"the {label} failed: {message}")
                # Less what the app spends meanwhile anyway (idle polling, the probe).
                net = max(0.0, cpu - probing * wall)
                new = sorted(thumbnailed() - sources)
                figures["probes"][label] = probe
                figures[label] = (net, thumbnail_cpu(root, new, ours), len(new), cpu, wall)
                if not idle_again:
                    cap(label, f"{'the heavy run' if label == 'run' else 'side by side'} "
                               f"stopped at the {args.part_deadline:.0f} s deadline, "
                               f"{'still running' if not done else 'app still busy after it'}"
                               f" (app CPU so far {net:.1f} s), more possible")
                say(f"{tree}:    {label}: app CPU {cpu:.1f} s in {wall:.1f} s, "
                    f"{net:.1f} s over the idle app with the probe; thumbnails of its {len(new)} "
                    f"new files, timed apart: {figures[label][1]:.2f} s")
        finally:
            app.terminate()
    say(f"{tree}: done")
    return figures


def bounds_beside_today(args: argparse.Namespace) -> None:
    """Issue 17 (parts 4–7): today's code and ours, one after the other, in one run."""
    started = time.monotonic()
    say(f"bounds bench: today's code ({args.baseline_rev}) then ours; each flood bounded by "
        f"{args.part_deadline:.0f} s, the uploads also by {args.disk_cap} MB added")
    with tempfile.TemporaryDirectory(prefix="bounds-bench-") as tmp:
        work = Path(tmp)
        baseline = work / "today"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q",
                        str(baseline), args.baseline_rev], check=True)
        try:
            result_mb = heavy_results() / MB
            say("making the reference images")
            refs4 = [str(noisy_png(work / f"ref-{n}.png", 1290, n)) for n in range(4)]
            heavy = heavy_pngs(work)
            ref_mb = sum(os.path.getsize(r) for r in refs4) / MB
            heavy_kb = sum(os.path.getsize(h) for h in heavy) / 1024
            found = {}
            for label, root in (("today", baseline), ("ours", ROOT)):
                (work / label).mkdir(exist_ok=True)
                found[label] = measure(root, work / label, args, refs4, heavy, label == "ours")
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force",
                            str(baseline)], check=False)
    report(found, args, result_mb, ref_mb, heavy_kb)
    print(f"  the bounds bench took {time.monotonic() - started:.0f} s", flush=True)


def report(found: dict, args: argparse.Namespace, result_mb: float, ref_mb: float,
           heavy_kb: float) -> None:
    today, ours = found["today"], found["ours"]

    def line(label: str, a: str, b: str, goal: str = "") -> None:
        print(f"  {label:<44} {a:>26}   {b:>26}   {goal}", flush=True)

    def at_least(figures: dict, key: str) -> str:
        return "≥ " if key in figures["capped"] else ""

    print(f"\nbounds bench (issue 17): today's code ({args.baseline_rev}) beside ours, live "
          f"mode against a local simulator ({result_mb:.1f} MB images); load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", flush=True)
    print(f"  (an idle app uses {today['resting']:.2f} s (today) and {ours['resting']:.2f} s "
          "(ours) of CPU a second, Gradio's queue polling when free; the app CPU figures "
          "below are net of that and of the probe's requests)", flush=True)
    line("", "today", "ours", "goal")
    mb = {k: (f["uploads"][0] / MB, f["restores"][0] / MB) for k, f in found.items()}
    line(f"disk added by up to {args.uploads} × 10 MB uploads",
         f"{at_least(today, 'uploads')}{mb['today'][0]:,.0f} MB in "
         f"{today['uploads'][2]:.0f} s",
         f"{at_least(ours, 'uploads')}{mb['ours'][0]:,.0f} MB in {ours['uploads'][2]:.0f} s")
    line("  uploads accepted", f"{today['uploads'][1]} of {today['uploads'][4]} sent",
         f"{ours['uploads'][1]} of {ours['uploads'][4]} sent")
    line(f"disk added by restore loads ({ref_mb:.0f} MB refs)",
         f"{mb['today'][1]:,.0f} MB, {today['restores'][3]} in {today['restores'][1]:.1f} s",
         f"{mb['ours'][1]:,.1f} MB, {ours['restores'][3]} in {ours['restores'][1]:.1f} s")

    def hour(f: dict) -> str:
        total = (f["uploads"][0] + f["restores"][0]) / MB
        if f["uploads"][1] < f["uploads"][4]:  # the app refused some: what it took, in all
            return f"{total:,.0f} MB, then refused"
        rate = total / max(f["uploads"][2] + f["restores"][1], 1e-3) * 3600
        return (f"≈ {rate / 1024:,.0f} GB" if rate >= 1024 else f"≈ {rate:,.0f} MB") + \
            ", none refused"

    line("one visitor in an hour, at these rates", hour(today), hour(ours), "≤ 200 MB")
    line("memory added by 10 zips at once (12 runs)",
         f"{at_least(today, 'zips')}+{today['zips'][0]:,.0f} MB (from "
         f"{today['zips'][1]:.0f})",
         f"{at_least(ours, 'zips')}+{ours['zips'][0]:,.0f} MB (from {ours['zips'][1]:.0f})",
         "≤ 200 MB")
    if "run" in today and "run" in ours:
        line(f"one run, 8 × 64 MP PNG refs ({heavy_kb:.0f} kB): app CPU",
             f"{at_least(today, 'run')}{today['run'][0]:.1f} s",
             f"{at_least(ours, 'run')}{ours['run'][0]:.1f} s")
        line("  thumbnails (same files, timed apart)",
             f"{at_least(today, 'run')}{today['run'][1]:.2f} s ({today['run'][2]} files)",
             f"{at_least(ours, 'run')}{ours['run'][1]:.2f} s ({ours['run'][2]} files)",
             "≤ 1 s")
    if "seeds" in today and "seeds" in ours:
        line(f"then side by side, {args.seeds} seeds: app CPU",
             f"{at_least(today, 'seeds')}{today['seeds'][0]:.1f} s",
             f"{at_least(ours, 'seeds')}{ours['seeds'][0]:.1f} s")
        line("  thumbnails (new files, timed apart)",
             f"{at_least(today, 'seeds')}{today['seeds'][1]:.2f} s ({today['seeds'][2]} files)",
             f"{at_least(ours, 'seeds')}{ours['seeds'][1]:.2f} s ({ours['seeds'][2]} files)",
             "≤ 1 s")
    print(f"  page request (GET /) idle: median today {today['idle'] * 1000:.0f} ms, ours "
          f"{ours['idle'] * 1000:.0f} ms; event-loop route (GET /{LOOP_ROUTE}) idle: today "
          f"{today['idle_loop'] * 1000:.0f} ms, ours {ours['idle_loop'] * 1000:.0f} ms; "
          "during each flood (+ max over idle; goal ≤ 100 ms):", flush=True)
    for key, label in [("uploads", "the upload flood"), ("restores", "the restore loads"),
                       ("zips", "10 zips at once"), ("run", "the heavy run"),
                       ("seeds", "the side-by-side batch")]:
        for tree, figures in (("today", today), ("ours ", ours)):
            if key in figures["probes"]:
                probes = figures["probes"][key]
                print(f"    {label if tree == 'today' else '':<24} {tree} page "
                      f"{probes.page.text(figures['idle'])}", flush=True)
                print(f"    {'':<24}       loop "
                      f"{probes.loop.text(figures['idle_loop'])}", flush=True)
    notes = [(tree, note) for tree in ("today", "ours")
             for note in found[tree]["capped"].values()]
    if notes:
        print("  cut short by the bench's bounds (≥: a lower bound):", flush=True)
        for tree, note in notes:
            print(f"    {tree}: {note}", flush=True)


def refused_floods(args: argparse.Namespace) -> None:
    """Issue 12: refused requests stay cheap (parts 1–3)."""
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
            say(f"refused floods: app started; the flooder uses up its {per_hour} runs")
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
            say(f"app CPU per refused call, {args.calls} without files then with them")
            floor = cpu_per_call(pid, url, fn_index, [], args.calls)
            heavy = cpu_per_call(pid, url, fn_index, files, args.calls)
            rss = rss_mb(pid)

            # Alone and during a flood, in turns: the machine's other load drifts, and
            # alternating lets it weigh on both sides alike.
            alone, during, refused, accepted, flood_cpu = [], [], 0, 0, 0.0
            own0, wall0 = time.process_time(), time.perf_counter()
            for n in range(args.runs):
                say(f"honest run alone and during the flood, {n + 1} of {args.runs}")
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



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["refused", "bounds", "all"], default="all")
    parser.add_argument("--flooders", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="refused heavy calls per second the flooders offer in all")
    parser.add_argument("--baseline-rev", default=BASELINE_REV,
                        help="today's code, measured beside ours (issue 17's part)")
    parser.add_argument("--uploads", type=int, default=30, help="10 MB uploads in the flood")
    parser.add_argument("--restores", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=2, help="side by side after the heavy "
                        "run (0: none)")
    parser.add_argument("--part-deadline", type=float, default=60.0,
                        help="seconds each issue-17 flood may take per app before it is cut "
                        "short (its figure is then a lower bound)")
    parser.add_argument("--disk-cap", type=int, default=400,
                        help="MB the upload flood may add before it stops (2× the 200 MB "
                        "goal: past it the baseline has clearly missed)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it goes, through a pipe
    if args.part in ("refused", "all"):
        refused_floods(args)
    if args.part in ("bounds", "all"):
        bounds_beside_today(args)


if __name__ == "__main__":
    main()
