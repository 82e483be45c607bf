"""Issue 13: kept results — stored with their exact bytes, bounded, private or shared, and
taken along as a zip; issue 17: bounded per result, private in every mode, thumbnails made
once from bounded decodes, the zip streamed. Store-level tests; tests/test_share_browser.py
drives the page."""
from __future__ import annotations

import json
import random
import zipfile
from dataclasses import replace
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from studio import result_views, results, share_ui
from studio.config import Config
from studio.datadir import Database
from studio.record import Reference, RunRecord, references_of
from studio.results import ResultStore
from wiro import spec

BROWSER_A = "a" * 32
BROWSER_B = "b" * 32


def png(path: Path, size=(64, 48), color=(200, 40, 40), mode="RGB") -> Path:
    Image.new(mode, size, color).save(path)
    return path


def reference(entry) -> Reference:
    """A URL, or the path of the copy that was sent (named as the visitor's upload)."""
    text = str(entry)
    if text.startswith("https://"):
        return Reference("url", url=text)
    return Reference("upload", name=Path(text).name, path=text)


def record(task_id, image, prompt="A red fox", refs=(), seed=7, fmt="png",
           estimate=None) -> RunRecord:
    inputs = {**spec.defaults(), spec.PROMPT.name: prompt, spec.WIDTH.name: 512,
              spec.HEIGHT.name: 0, spec.SEED.name: seed, spec.OUTPUT_FORMAT.name: fmt,
              spec.SAFETY_TOLERANCE.name: 4}
    inputs.pop(spec.INPUT_IMAGE.name)
    return RunRecord(task_id=str(task_id), inputs=inputs,
                     references=tuple(reference(r) for r in refs), image=str(image),
                     width=64, height=48, format=fmt, bytes=Path(image).stat().st_size
                     if Path(image).exists() else 0, cost_usd=0.03, estimate_usd=estimate,
                     simulated=True, wiro_seconds=1.0, total_seconds=2.5)


@pytest.fixture
def make_store(tmp_path):
    opened = []

    def make(**settings) -> ResultStore:
        # A new Database each time: what a restarted process would open.
        store = ResultStore(tmp_path / "data", Config(**settings),
                            database=Database(tmp_path / "data"))
        opened.append(store)
        return store
    yield make
    for store in opened:
        store.db.close()


@pytest.fixture
def image(tmp_path) -> Path:
    return png(tmp_path / "flux2pro-task1-seed7.png")


def test_a_kept_result_has_the_exact_image_every_input_and_thumbnails(make_store, image,
                                                                        tmp_path):
    sent = png(tmp_path / "my road.png", (1200, 900), (10, 90, 200))
    url = "https://cdn.example.com/car.jpg"
    store = make_store()
    kept = store.keep("tab-1", record(1, image, refs=[sent, url], estimate=0.03))

    assert store.image(kept).read_bytes() == image.read_bytes()
    assert kept.record.prompt == "A red fox"
    assert kept.record.inputs[spec.HEIGHT.name] == 0
    assert kept.record.inputs[spec.SAFETY_TOLERANCE.name] == 4
    first, second = kept.references
    assert second == Reference("url", url=url)
    assert first.name == "my road.png" and first.path.endswith("/refs/1/my road.png")
    assert store.file(kept, first.path).read_bytes() == sent.read_bytes()
    thumb_path = store.thumbnail(kept, 1)
    assert store.thumbnail(kept, 2) is None and store.thumbnail(kept, 3) is None
    with Image.open(thumb_path) as thumb:
        assert max(thumb.size) <= results.THUMB_EDGE and thumb.format == "JPEG"
    assert store.get(kept.id).bytes == sum(
        f.stat().st_size for f in (store.root / kept.id).rglob("*") if f.is_file())
    assert kept.record.cost_usd == 0.03 and kept.record.total_seconds == 2.5
    assert kept.task_id == "1" and kept.record.estimate_usd == 0.03


def test_results_survive_a_restart(make_store, image):
    first = make_store().keep("tab-1", record(1, image))
    token = make_store().share(first)
    again = make_store()  # a new process: new connection, same data directory
    assert again.by_token(token).task_id == "1"
    assert again.image(again.by_token(token)).read_bytes() == image.read_bytes()


def test_a_row_kept_before_run_records_still_opens(make_store, image):
    store = make_store()
    kept = store.keep("tab", record(3, image))
    legacy = {"inputs": {spec.PROMPT.name: "An old one", spec.SEED.name: 5,
                         spec.INPUT_IMAGE.name: [{"kind": "url", "url": "https://x.example/a.png"}]},
              "details": {"task_id": "3", "seed": 5, "width": 64, "height": 48,
                          "format": "png", "cost_usd": 0.03, "total_seconds": 2.0},
              "estimate_usd": None}
    store.db.execute("UPDATE results SET record = ? WHERE id = ?",
                     (json.dumps(legacy), kept.id))
    old = store.get(kept.id)
    assert old.prompt == "An old one" and old.record.seed == 5
    assert old.references == (Reference("url", url="https://x.example/a.png"),)
    assert store.image(old).read_bytes() == image.read_bytes()


def test_the_count_cap_deletes_the_oldest_with_their_files(make_store, image):
    store = make_store(keep_results=3)
    store.claim("tab", BROWSER_A)
    kept = [store.keep("tab", record(n, image, f"run {n}")) for n in range(5)]
    assert [r.task_id for r in store.visible_to(BROWSER_A, "tab")] == ["4", "3", "2"]
    assert not (store.root / kept[0].id).exists() and not (store.root / kept[1].id).exists()
    assert (store.root / kept[4].id).exists()
    assert sorted(p.name for p in store.root.iterdir()) == sorted(r.id for r in kept[2:])


def noise(path: Path, edge: int = 300) -> Path:
    Image.frombytes("RGB", (edge, edge), random.Random(edge).randbytes(edge * edge * 3)).save(
        path)
    return path


def test_the_megabyte_cap_holds(make_store, tmp_path):
    picture = noise(tmp_path / "noise.png")
    size = picture.stat().st_size
    store = make_store(keep_results_mb=(size * 25) / 1024 / 1024)
    for n in range(30):
        store.keep("tab", record(n, picture))
    count, total = store.usage()
    assert count == 25 and total <= size * 25
    assert sum(f.stat().st_size for f in store.root.rglob("*") if f.is_file()) == total


def test_one_heavy_run_never_evicts_more_than_its_share(make_store, image, tmp_path):
    """Issue 17, point 2: a run with heavy references pushed the store over its cap and
    pruning deleted every kept result, its own included; their links answered 404."""
    store = make_store(keep_results_mb=1.0, keep_result_mb=32)
    earlier = [store.keep("tab", record(n, image)) for n in range(5)]
    tokens = [store.share(r) for r in earlier]
    heavy = [noise(tmp_path / f"heavy-{n}.png", 700) for n in range(3)]  # ~1.4 MB each
    kept = store.keep("tab", record(9, image, refs=heavy))
    assert kept is not None and store.get(kept.id) is not None
    assert all(store.by_token(t) is not None for t in tokens)
    # Over its share (a tenth of the store): the reference copies went, the thumbnails stay.
    assert kept.bytes <= store.result_cap() and store.result_cap() <= 0.1 * 1024 * 1024 + 1
    assert [r.name for r in kept.references] == [h.name for h in heavy]
    assert all(not r.path for r in kept.references)
    assert all(store.thumbnail(kept, n) for n in (1, 2, 3))
    count, total = store.usage()
    assert count == 6 and total <= 1024 * 1024


def test_kept_references_are_the_copies_sent_not_the_uploads(make_store, image, tmp_path):
    """Issue 17, point 2: the store keeps what was sent to Wiro (at most 4 MP, shrunk), never
    the visitor's full-resolution upload."""
    from wiro import uploads

    upload = tmp_path / "holiday.jpg"
    Image.new("RGB", (6000, 4000), (90, 140, 200)).save(upload, quality=95)
    [sent] = uploads.prepare_references([str(upload)], cache_dir=tmp_path / "cache")
    kept = make_store().keep("tab", replace(record(1, image), references=references_of(
        [str(upload)], [sent])))
    [ref] = kept.references
    assert ref.name == "holiday.jpg"
    with Image.open(ref.path) as im:
        assert im.width * im.height <= 4_000_000
    assert Path(ref.path).read_bytes() == Path(sent).read_bytes()


@pytest.fixture
def decodes(monkeypatch):
    """Pixels of every full decode (ImageFile.load)."""
    from PIL import ImageFile

    seen = []
    original = ImageFile.ImageFile.load

    def counting_load(self):
        if getattr(self, "tile", None):
            seen.append(self.size[0] * self.size[1])
        return original(self)
    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    return seen


def test_thumbnails_are_made_once_per_reference_from_a_bounded_decode(make_store, image,
                                                                      tmp_path, decodes):
    """Issue 17, point 3: each side-by-side seed decoded every original again (eight
    8000×8000 PNGs: 22.8 s of CPU and a 5-second stall per seed)."""
    sent = [png(tmp_path / f"sent-{n}.png", (1000, 1000), (n * 30, 90, 200)) for n in range(4)]
    huge = tmp_path / "never-sent.png"
    Image.new("L", (8000, 8000), 90).save(huge)  # more pixels than any sent copy holds
    store = make_store()
    kept = [store.keep("tab", record(n, image, refs=[*sent, huge], seed=n)) for n in range(4)]
    assert sorted(decodes) == [1_000_000] * 4  # one decode per reference, for four results
    for result in kept:
        assert all(store.thumbnail(result, n) for n in range(1, 5))
        assert store.thumbnail(result, 5) is None  # over the pixel cap: no thumbnail at all


def test_reading_a_result_decodes_nothing(routed, image, tmp_path, decodes):
    store, client = routed()
    kept = store.keep("tab", record(1, image, refs=[png(tmp_path / "ref.png", (900, 600))]))
    token = store.share(kept)
    decodes.clear()
    assert client.get(f"/share/{token}").status_code == 200
    assert client.get(f"/share/{token}/ref/1").status_code == 200
    result_views.session_zip(store, [kept], tmp_path / "s.zip")
    assert decodes == []


def test_share_tokens_are_random_and_only_exact_tokens_open(make_store, image):
    store = make_store()
    a = store.keep("tab", record(1, image))
    b = store.keep("tab", record(2, image))
    token_a, token_b = store.share(a), store.share(b)
    assert token_a != token_b and results.valid_token(token_a)
    assert store.share(store.get(a.id)) == token_a  # sharing twice: the same link
    assert store.by_token(token_a).id == a.id
    for guess in ["", "1", a.id, token_a[:-1], token_a + "x", token_a.upper(),
                  "../" + token_a[3:], token_a[:-1] + ("A" if token_a[-1] != "A" else "B"),
                  None, 12345]:
        assert store.by_token(guess) is None, guess


def test_a_deleted_result_is_gone_with_its_link_and_files(make_store, image):
    store = make_store()
    kept = store.keep("tab", record(1, image))
    token = store.share(kept)
    store.delete(kept)
    assert store.by_token(token) is None and store.get(kept.id) is None
    assert not (store.root / kept.id).exists()


def test_sharing_off_opens_no_link(make_store, image):
    on = make_store()
    token = on.share(on.keep("tab", record(1, image)))
    off = make_store(sharing=False)
    assert off.by_token(token) is None
    with pytest.raises(PermissionError):
        off.share(off.get(on.by_token(token).id))


@pytest.mark.parametrize("own_keys", [False, True], ids=["owner's key", "visitors' keys"])
def test_results_are_private_to_their_browser_in_every_mode(make_store, image, own_keys):
    """Issue 17, point 9: with the owner's key every visitor saw every visitor's runs, their
    reference photos and prompts, and could share or restore them."""
    store = make_store(bring_your_own_key=own_keys)
    store.claim("tab-a", BROWSER_A)
    store.claim("tab-b", BROWSER_B)
    mine = store.keep("tab-a", record(1, image))
    store.keep("tab-b", record(2, image))
    assert [r.task_id for r in store.visible_to(BROWSER_A, "tab-a2")] == ["1"]
    assert [r.task_id for r in store.visible_to(BROWSER_B, "tab-b")] == ["2"]
    assert store.visible_to("", "tab-c") == []
    assert not store.may_see(mine, BROWSER_B, "tab-b")
    assert not store.may_delete(mine, BROWSER_B, "tab-b")
    assert store.may_delete(mine, BROWSER_A, "a-later-tab")
    # Shared, it is visible to anyone with the link.
    assert store.by_token(store.share(mine)).id == mine.id


def test_a_public_gallery_is_the_hosts_choice(make_store, image):
    store = make_store(public_gallery=True)
    store.claim("tab-a", BROWSER_A)
    kept = store.keep("tab-a", record(1, image))
    assert [r.id for r in store.visible_to(BROWSER_B, "tab-b")] == [kept.id]
    assert store.may_see(kept, BROWSER_B, "tab-b")
    assert not store.may_delete(kept, BROWSER_B, "tab-b")
    assert store.may_delete(kept, BROWSER_A, "tab-a-after-reload")


def test_another_browser_cannot_share_or_delete_my_result(make_store, image, monkeypatch):
    store = make_store()
    monkeypatch.setattr(results, "_store", store)
    store.claim("tab-a", BROWSER_A)
    mine = store.keep("tab-a", record(1, image))

    class Request:
        session_hash = "tab-b"
    link, note = share_ui.share(mine.id, BROWSER_B, "http://demo.example/", Request())
    assert "Pick a kept result" in note and store.get(mine.id).share_token is None
    share_ui.delete(mine.id, BROWSER_B, Request())
    assert store.get(mine.id) is not None


def test_files_are_served_only_from_inside_the_results_folder(make_store, image, tmp_path):
    store = make_store()
    kept = store.keep("tab", record(1, image))
    (tmp_path / "secret.txt").write_text("no")
    for name in ["../../secret.txt", "/etc/passwd", "..", "refs/../../" + kept.id,
                 str(tmp_path / "secret.txt"), ""]:
        assert store.file(kept, name) is None
    assert store.get("../" + kept.id) is None


def test_a_crash_leaves_no_orphan_files(make_store, image):
    store = make_store()
    kept = store.keep("tab", record(1, image))
    (store.root / ".abc.partial").mkdir()
    (store.root / "0123456789abcdef0123").mkdir()  # files whose row never landed
    make_store()
    assert [p.name for p in store.root.iterdir()] == [kept.id]


def test_session_zip_has_exact_images_runs_json_and_a_relative_contact_sheet(
        make_store, image, tmp_path):
    store = make_store()
    sent = png(tmp_path / "ref.png", (500, 400))
    store.keep("other-tab", record(9, image, "not mine"))
    jpeg = tmp_path / "flux2pro-task2-seed8.jpeg"
    Image.new("RGB", (40, 30), (0, 200, 0)).save(jpeg, "JPEG")
    store.keep("tab", record(1, image, "first <b>bold</b>", [sent]))
    store.keep("tab", record(2, jpeg, "second", seed=8, fmt="jpeg"))

    target = tmp_path / "session.zip"
    assert result_views.session_zip(store, store.of_session("tab"), target) == 2
    archive = zipfile.ZipFile(target)
    runs = json.loads(archive.read("runs.json"))
    assert [r["task_id"] for r in runs] == ["1", "2"]
    assert archive.read(runs[0]["image"]) == image.read_bytes()
    assert archive.read(runs[1]["image"]) == jpeg.read_bytes()
    assert runs[1]["image"].endswith(".jpeg")
    assert runs[0]["inputs"][spec.PROMPT.name] == "first <b>bold</b>"
    assert runs[0]["cost_usd"] == 0.03 and runs[1]["inputs"][spec.SEED.name] == 8
    assert runs[0]["references"][0]["name"] == "ref.png"
    assert archive.read(runs[0]["references"][0]["path"])[:3] == b"\xff\xd8\xff"  # thumbnail
    assert RunRecord.from_json(runs[0]).seed == 7  # runs.json entries are RunRecords
    sheet = archive.read("index.html").decode()
    assert "first &lt;b&gt;bold&lt;/b&gt;" in sheet and "not mine" not in sheet
    for run in runs:
        assert f'src="{run["image"]}"' in sheet
    assert "http" not in sheet.split("<main>")[1]  # nothing it needs a network for
    assert sum(n.startswith("references/") for n in archive.namelist()) == 1


def test_the_session_zip_is_streamed_to_disk(make_store, tmp_path):
    """Issue 17, point 4: the zip was built in memory (10 at once: +1.9 GB)."""
    import tracemalloc

    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + random.Random(4).randbytes(24 * 1024 * 1024))
    store = make_store()
    store.keep("tab", record(1, big))
    kept = store.of_session("tab")
    tracemalloc.start()
    try:
        result_views.session_zip(store, kept, tmp_path / "s.zip")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, f"{peak:,} bytes held while zipping 24 MB"
    assert zipfile.ZipFile(tmp_path / "s.zip").testzip() is None


def test_a_failed_keep_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "_store", ResultStore(
        tmp_path / "d", database=Database(tmp_path / "d")))
    with pytest.raises(OSError):  # the page logs it and goes on (studio.page.DemoPage.keep)
        results.store().keep("tab", record(1, tmp_path / "vanished.png"))
    assert results.store().usage() == (0, 0)
    assert [p.name for p in results.store().root.iterdir()] == []


@pytest.fixture
def routed(tmp_path, monkeypatch, image):
    def make(**settings):
        store = ResultStore(tmp_path / "r", Config(**settings),
                            database=Database(tmp_path / "r"))
        monkeypatch.setattr(results, "_store", store)
        return store, TestClient(Starlette(routes=share_ui.app_kwargs()["routes"]))
    return make


def test_share_routes_show_the_result_and_refuse_everything_else(routed, image, tmp_path):
    store, client = routed()
    sent = png(tmp_path / "ref.png", (300, 200))
    kept = store.keep("tab", record(5, image, "A lighthouse",
                                    [sent, "https://x.example/a.png"]))
    token = store.share(kept)
    page = client.get(f"/share/{token}")
    assert page.status_code == 200 and "A lighthouse" in page.text
    assert f'href="../?restore={token}"' in page.text and f"{token}/ref/1" in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert client.get(f"/share/{token}/image").content == image.read_bytes()
    assert client.get(f"/share/{token}/ref/1").headers["content-type"].startswith("image/")
    for path in [f"/share/{token}/ref/2", f"/share/{token}/ref/0", f"/share/{token}/ref/9",
                 "/share/" + "A" * 22, "/share/" + "A" * 22 + "/image", f"/share/{kept.id}",
                 f"/share/{token[:-1]}%2F..", "/share/..%2F..%2Fetc%2Fpasswd"]:
        response = client.get(path)
        assert response.status_code == 404, path
    store.delete(kept)
    assert client.get(f"/share/{token}").status_code == 404
    assert "Not found" in client.get(f"/share/{token}").text


def test_sharing_off_means_no_route_and_no_button(routed, image):
    store, client = routed(sharing=False)
    kept = store.keep("tab", record(1, image))
    store.db.execute("UPDATE results SET share_token = ? WHERE id = ?", ("A" * 22, kept.id))
    assert client.get("/share/" + "A" * 22).status_code == 404
    with gr.Blocks():
        controls = share_ui.build()
    assert controls.share.visible is False and controls.link.visible is False
    assert controls.download.visible is not False


def test_share_link_follows_the_address_the_visitor_used():
    assert share_ui.share_link("https://me-demo.hf.space/?restore=x", "T") == \
        "https://me-demo.hf.space/share/T"
    assert share_ui.share_link("http://127.0.0.1:7860/", "T") == "http://127.0.0.1:7860/share/T"
    assert share_ui.share_link("javascript:alert(1)", "T") == "/share/T"


def test_a_transparent_reference_keeps_its_transparency_and_a_file_that_is_no_image_is_kept(
        make_store, image, tmp_path):
    logo = png(tmp_path / "logo.png", (300, 300), (0, 0, 0, 0), mode="RGBA")
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    store = make_store()
    kept = store.keep("tab", record(1, image, refs=[logo, not_an_image]))
    with Image.open(store.thumbnail(kept, 1)) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.getpixel((5, 5))[3] == 0
    assert store.thumbnail(kept, 2) is None
    assert store.file(kept, kept.references[1].path).read_text() == "hello"


def test_restoring_serves_the_kept_files_in_place(make_store, image, tmp_path, monkeypatch):
    """Issue 17, point 1: each load of /?restore=<token> copied every original upload of the
    result into the temp folder (5 loads: 2.25 GB), and a client that never opened a
    heartbeat kept them forever."""
    store = make_store()
    monkeypatch.setattr(results, "_store", store)
    sent = png(tmp_path / "harbour.png", (400, 300))
    kept = store.keep("tab", record(1, image, refs=[sent, "https://x.example/a.png"]))
    files_before = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    for _ in range(3):
        values, refs = share_ui.restore_values(store.get(kept.id))
        assert refs == [kept.references[0].path, "https://x.example/a.png"]
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == files_before
    assert Path(refs[0]).name == "harbour.png"  # the presenter sees the upload's name
    assert values[spec.PROMPT.name] == "A red fox" and values[spec.SEED.name] == 7


def test_one_tab_downloading_several_times_at_once(make_store, image, tmp_path, monkeypatch):
    """Found by bench/abuse.py: two zips of one tab at once removed each other's file."""
    import threading

    store = make_store()
    monkeypatch.setattr(results, "_store", store)
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(tmp_path / "gradio"))
    for n in range(3):
        store.keep("tab", record(n, image))

    class Request:
        session_hash = "tab"
    answers, errors = [], []

    def download():
        try:
            answers.append(share_ui.download(Request()))
        except Exception as exc:  # noqa: BLE001 — what the test looks for
            errors.append(exc)
    threads = [threading.Thread(target=download) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(answers) == 6
    # Built where Gradio serves it from as it is (it would hash and copy any other file).
    [left] = list((tmp_path / "gradio").rglob("*.zip"))
    assert left.parent.parent == tmp_path / "gradio" / "session-zips"
    assert zipfile.ZipFile(left).testzip() is None
    assert not list((tmp_path / "gradio").rglob("*.partial"))


def test_a_count_of_results_reads_right():
    assert result_views.results_count(1) == "1 result"
    assert result_views.results_count(2) == "2 results"
