"""Issue 12, point 3: a refused request costs next to nothing. Admission comes first (caps,
counts, sizes from image headers), so nothing is decoded for a request that is turned away;
only an admitted run has its uploads decoded, and that decoding is bounded."""
from __future__ import annotations

import time

import pytest
from PIL import Image, ImageFile

from studio import admission
from studio.backend import Backend
from studio.config import Config
from studio.guards import Guard
from studio.visitors import Visitor
from wiro import spec, uploads
from wiro.settings import Settings

from conftest import TEST_KEY, TEST_SECRET
from run_helpers import run_values

VISITOR = Visitor("198.51.100.7", "tab-1")


@pytest.fixture(scope="module")
def big_pngs(tmp_path_factory):
    """Eight 64 MP PNGs of a few hundred kB each: cheap to send, dear to decode."""
    folder = tmp_path_factory.mktemp("big")
    first = folder / "big-1.png"
    Image.new("L", (8000, 8000), 128).save(first, optimize=False, compress_level=1)
    paths = [str(first)]
    for n in range(2, 9):
        copy = folder / f"big-{n}.png"
        copy.write_bytes(first.read_bytes())
        paths.append(str(copy))
    return paths


@pytest.fixture
def decodes(monkeypatch):
    """Counts full decodes (ImageFile.load) and the pixels they held."""
    seen = []
    original = ImageFile.ImageFile.load

    def counting_load(self):
        if getattr(self, "tile", None):  # pixels still to decode
            seen.append(self.size[0] * self.size[1])
        return original(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return seen


@pytest.fixture
def backend(sim):
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    yield backend
    backend.close()


def admit(guard, values, seeds=1):
    """admission.admit for VISITOR, `seeds` runs of `values`."""
    return admission.admit(guard, VISITOR, values, list(range(1, seeds + 1)), own_key=False,
                           allow_private_urls=True)


def refusal_text(result) -> str:
    assert isinstance(result, admission.Refusal), result
    return result.status.text()


def release(tickets):
    for ticket in tickets:
        ticket.release()


def values_with(images, **extra):
    return {**spec.defaults(), spec.INPUT_IMAGE.name: images, spec.WIDTH.name: 256,
            spec.HEIGHT.name: 256, **extra}


def test_a_visitor_over_the_cap_with_eight_huge_uploads_costs_no_decoding(big_pngs, decodes,
                                                                          tmp_path):
    guard = Guard(Config(runs_per_client_per_hour=1))
    release(guard.admit("other-tab", VISITOR.address))  # the hour's one run is used
    cache = tmp_path / "cache"
    started = time.process_time()
    result = admit(guard, values_with(big_pngs))
    cpu = time.process_time() - started
    assert result.status.kind == "refused" and "runs for the hour" in refusal_text(result)
    assert decodes == [] and not cache.exists()
    print(f"CPU for the refused request: {cpu * 1000:.1f} ms")  # a figure, not a test


def test_a_busy_demo_refuses_before_reading_any_file(big_pngs, decodes, monkeypatch):
    guard = Guard(Config(max_concurrent_runs=1))
    guard.admit("someone", "203.0.113.1")
    opened = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or 1 / 0)
    result = admit(guard, values_with(big_pngs))
    assert "busy" in refusal_text(result) and opened == [] and decodes == []


def test_an_image_over_the_pixel_limit_is_refused_from_its_header(decodes, tmp_path):
    huge = tmp_path / "huge.png"
    Image.new("1", (8100, 8000)).save(huge)  # 64.8 MP
    guard = Guard(Config())
    result = admit(guard, values_with([str(huge)]))
    assert result.status.kind == "invalid"
    assert "8100×8000" in refusal_text(result) and "65 MP" in refusal_text(result)
    assert decodes == []
    release(guard.admit(VISITOR.session, VISITOR.address))  # nothing was held


def test_too_many_images_are_refused_before_decoding(big_pngs, decodes):
    result = admit(Guard(Config()), values_with(big_pngs * 2))
    assert result.status.kind == "invalid" and "at most 8" in refusal_text(result)
    assert decodes == []


def test_the_cost_estimate_reads_headers_only(big_pngs, decodes):
    from studio import cost

    estimate = cost.estimate(values_with(big_pngs[:2]))
    assert estimate.counted == 2 and decodes == []


def test_an_admitted_run_decodes_each_upload_once_and_sends_it_small(big_pngs, decodes,
                                                                     backend, sim_state,
                                                                     tmp_path, monkeypatch):
    monkeypatch.setattr(uploads, "_default_cache", tmp_path / "cache")
    (tmp_path / "cache").mkdir()
    guard = Guard(Config())
    updates = run_values(backend, tmp_path, values_with(big_pngs[:2]), guard=guard)
    assert updates[-1].record is not None, updates[-1].status
    # One full decode per 64 MP upload (to shrink it); everything after sees the small copy.
    assert sorted(decodes, reverse=True)[:2] == [64_000_000] * 2
    assert all(p <= 4_500_000 for p in sorted(decodes, reverse=True)[2:])
    [task] = sim_state.tasks()
    assert all(i["width"] * i["height"] <= 4_500_000 for i in task["inputs"])


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(decodes, tmp_path):
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (8000, 6000), (90, 140, 200)).save(photo, quality=70)
    [small] = uploads.prepare_references([str(photo)], cache_dir=tmp_path / "c")
    assert max(decodes) <= 8000 * 6000 // 4  # JPEG draft: at most half scale each way
    with Image.open(small) as im:
        assert im.width * im.height <= 4_000_000


def test_a_side_by_side_batch_is_admitted_whole_before_any_decoding(big_pngs, decodes):
    guard = Guard(Config(runs_per_client_per_hour=3))
    refused = admit(guard, values_with(big_pngs), seeds=4)
    assert "Try fewer seeds" in refusal_text(refused) and decodes == []
    jobs = admit(guard, values_with(big_pngs[:1]), seeds=3)
    assert len(jobs) == 3 and [job.seed for job in jobs] == [1, 2, 3]
    assert len(decodes) == 1  # the one upload, shrunk once for all three runs
    assert len({job.request.images for job in jobs}) == 1  # and sent as one copy
    release(job.ticket for job in jobs)
    # The three runs were admitted (they count for the hour) even though none was sent.
    assert "runs for the hour" in refusal_text(admit(guard, values_with([])))


# --- on the running app: uploads from a visitor whose runs are used up -----------------------

pytest_plugins = ["tests.app_harness"]


@pytest.mark.timeout(120)
def test_an_upload_from_a_visitor_with_no_runs_left_is_turned_away_unread(
        live_app, app_sim, monkeypatch, big_pngs):
    import requests

    from studio.visitors import Visitors

    page = live_app.app.page
    guard = Guard(Config(runs_per_client_per_hour=1))
    monkeypatch.setattr(page, "guard", guard)
    monkeypatch.setattr(page, "visitors", Visitors(Config(trust_proxy_headers=True)))
    release(guard.admit("earlier-tab", "203.0.113.66"))  # that visitor's hour is used up

    def upload(address):
        files = [("files", ("big.png", open(big_pngs[0], "rb"), "image/png"))]
        try:
            return requests.post(f"{live_app.url}/gradio_api/upload", files=files, timeout=30,
                                 headers={"X-Forwarded-For": f"10.0.0.9, {address}"})
        finally:
            files[0][1][1].close()
    refused = upload("203.0.113.66")
    assert refused.status_code == 429 and "runs for the hour" in refused.text
    accepted = upload("198.51.100.3")
    assert accepted.status_code == 200 and len(accepted.json()) == 1
