"""Issue 13: kept results — stored with their exact bytes, bounded, private or shared, and
taken along as a zip. Store-level tests; tests/test_share_browser.py drives the page."""
from __future__ import annotations

import io
import json
import random
import zipfile
from pathlib import Path

import gradio as gr
import pytest
from PIL import Image
from starlette.applications import Starlette
from starlette.testclient import TestClient

from studio import result_views, results, share_ui
from studio.datadir import Database
from studio.config import Config
from studio.results import ResultStore
from wiro import spec

BROWSER_A = "a" * 32
BROWSER_B = "b" * 32


def png(path: Path, size=(64, 48), color=(200, 40, 40), mode="RGB") -> Path:
    Image.new(mode, size, color).save(path)
    return path


def details(task_id: int, seed: int = 7, **extra) -> dict:
    return {"task_id": str(task_id), "seed": seed, "width": 64, "height": 48, "format": "png",
            "bytes": 1, "wiro_seconds": 1.0, "total_seconds": 2.5, "cost_usd": 0.03, **extra}


def inputs(prompt="A red fox", refs=()) -> dict:
    return {**spec.defaults(), spec.PROMPT.name: prompt, spec.INPUT_IMAGE.name: list(refs),
            spec.WIDTH.name: 512, spec.HEIGHT.name: 0, spec.SEED.name: 7,
            spec.OUTPUT_FORMAT.name: "png", spec.SAFETY_TOLERANCE.name: 4}


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
    upload = png(tmp_path / "my road.png", (1200, 900), (10, 90, 200))
    url = "https://cdn.example.com/car.jpg"
    store = make_store()
    kept = store.keep("tab-1", inputs(refs=[str(upload), url]), details(1), image, 0.03)

    assert store.file(kept, kept.image).read_bytes() == image.read_bytes()
    assert kept.inputs[spec.PROMPT.name] == "A red fox"
    assert kept.inputs[spec.HEIGHT.name] == 0 and kept.inputs[spec.SAFETY_TOLERANCE.name] == 4
    first, second = kept.references
    assert second == {"kind": "url", "url": url}
    assert first["name"] == "my road.png"
    assert store.file(kept, first["file"]).read_bytes() == upload.read_bytes()
    store.flush()  # thumbnails are made just after the save
    thumb_path = store.file(kept, first["thumb"])
    assert thumb_path == store.thumbnail(kept, 1) and store.thumbnail(kept, 2) is None
    with Image.open(thumb_path) as thumb:
        assert max(thumb.size) <= results.THUMB_EDGE and thumb.format == "JPEG"
    assert store.get(kept.id).bytes == sum(
        f.stat().st_size for f in (store.root / kept.id).rglob("*") if f.is_file())
    assert kept.details["cost_usd"] == 0.03 and kept.details["total_seconds"] == 2.5
    assert kept.task_id == "1" and kept.record["estimate_usd"] == 0.03


def test_results_survive_a_restart(make_store, image):
    first = make_store().keep("tab-1", inputs(), details(1), image)
    token = make_store().share(first)
    again = make_store()  # a new process: new connection, same data directory
    assert again.by_token(token).task_id == "1"
    assert again.file(again.by_token(token), first.image).read_bytes() == image.read_bytes()


def test_the_count_cap_deletes_the_oldest_with_their_files(make_store, image):
    store = make_store(keep_results=3)
    kept = [store.keep("tab", inputs(f"run {n}"), details(n), image) for n in range(5)]
    assert [r.task_id for r in store.visible_to("", "tab")] == ["4", "3", "2"]
    assert not (store.root / kept[0].id).exists() and not (store.root / kept[1].id).exists()
    assert (store.root / kept[4].id).exists()
    assert sorted(p.name for p in store.root.iterdir()) == sorted(r.id for r in kept[2:])


def test_the_megabyte_cap_holds(make_store, tmp_path):
    noise = tmp_path / "noise.png"
    Image.frombytes("RGB", (300, 300), random.Random(1).randbytes(300 * 300 * 3)).save(noise)
    size = noise.stat().st_size
    store = make_store(keep_results_mb=(size * 2.5) / 1024 / 1024)
    for n in range(6):
        store.keep("tab", inputs(), details(n), noise)
    count, total = store.usage()
    assert count == 2 and total <= size * 2.5
    assert sum(f.stat().st_size for f in store.root.rglob("*") if f.is_file()) == total


def test_share_tokens_are_random_and_only_exact_tokens_open(make_store, image):
    store = make_store()
    a = store.keep("tab", inputs(), details(1), image)
    b = store.keep("tab", inputs(), details(2), image)
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
    kept = store.keep("tab", inputs(), details(1), image)
    token = store.share(kept)
    store.delete(kept)
    assert store.by_token(token) is None and store.get(kept.id) is None
    assert not (store.root / kept.id).exists()


def test_sharing_off_opens_no_link(make_store, image):
    on = make_store()
    token = on.share(on.keep("tab", inputs(), details(1), image))
    off = make_store(sharing=False)
    assert off.by_token(token) is None
    with pytest.raises(PermissionError):
        off.share(off.get(on.by_token(token).id))


def test_with_visitors_keys_results_are_private_to_their_browser(make_store, image):
    store = make_store(bring_your_own_key=True)
    store.claim("tab-a", BROWSER_A)
    store.claim("tab-b", BROWSER_B)
    mine = store.keep("tab-a", inputs(), details(1), image)
    store.keep("tab-b", inputs(), details(2), image)
    assert [r.task_id for r in store.visible_to(BROWSER_A, "tab-a2")] == ["1"]
    assert [r.task_id for r in store.visible_to(BROWSER_B, "tab-b")] == ["2"]
    assert store.visible_to("", "tab-c") == []
    assert not store.may_see(mine, BROWSER_B, "tab-b")
    assert not store.may_delete(mine, BROWSER_B, "tab-b")
    assert store.may_delete(mine, BROWSER_A, "a-later-tab")
    # Shared, it is visible to anyone with the link.
    assert store.by_token(store.share(mine)).id == mine.id


def test_with_the_owners_key_everyone_sees_recent_results_but_only_the_maker_deletes(
        make_store, image):
    store = make_store()
    store.claim("tab-a", BROWSER_A)
    kept = store.keep("tab-a", inputs(), details(1), image)
    assert [r.id for r in store.visible_to(BROWSER_B, "tab-b")] == [kept.id]
    assert not store.may_delete(kept, BROWSER_B, "tab-b")
    assert store.may_delete(kept, BROWSER_A, "tab-a-after-reload")


def test_files_are_served_only_from_inside_the_results_folder(make_store, image, tmp_path):
    store = make_store()
    kept = store.keep("tab", inputs(), details(1), image)
    (tmp_path / "secret.txt").write_text("no")
    for name in ["../../secret.txt", "/etc/passwd", "..", "refs/../../" + kept.id]:
        assert store.file(kept, name) is None
    assert store.get("../" + kept.id) is None


def test_a_crash_leaves_no_orphan_files(make_store, image):
    store = make_store()
    kept = store.keep("tab", inputs(), details(1), image)
    (store.root / ".abc.partial").mkdir()
    (store.root / "0123456789abcdef0123").mkdir()  # files whose row never landed
    make_store()
    assert [p.name for p in store.root.iterdir()] == [kept.id]


def test_session_zip_has_exact_images_runs_json_and_a_relative_contact_sheet(
        make_store, image, tmp_path):
    store = make_store()
    upload = png(tmp_path / "ref.png", (500, 400))
    store.keep("other-tab", inputs("not mine"), details(9), image)
    jpeg = tmp_path / "flux2pro-task2-seed8.jpeg"
    Image.new("RGB", (40, 30), (0, 200, 0)).save(jpeg, "JPEG")
    store.keep("tab", inputs("first <b>bold</b>", [str(upload)]), details(1), image)
    store.keep("tab", inputs("second"), details(2, seed=8, format="jpeg"), jpeg)

    archive = zipfile.ZipFile(io.BytesIO(result_views.session_zip(
        store, store.of_session("tab"))))
    runs = json.loads(archive.read("runs.json"))
    assert [r["task_id"] for r in runs] == ["1", "2"]
    assert archive.read(runs[0]["image_file"]) == image.read_bytes()
    assert archive.read(runs[1]["image_file"]) == jpeg.read_bytes()
    assert runs[1]["image_file"].endswith(".jpeg")
    assert runs[0]["inputs"][spec.PROMPT.name] == "first <b>bold</b>"
    assert runs[0]["result"]["cost_usd"] == 0.03 and runs[1]["inputs"][spec.SEED.name] == 8
    sheet = archive.read("index.html").decode()
    assert "first &lt;b&gt;bold&lt;/b&gt;" in sheet and "not mine" not in sheet
    for run in runs:
        assert f'src="{run["image_file"]}"' in sheet
    assert "http" not in sheet.split("<main>")[1]  # nothing it needs a network for
    assert sum(n.startswith("references/") for n in archive.namelist()) == 1


def test_a_failed_keep_leaves_nothing_behind(tmp_path, monkeypatch):
    monkeypatch.setattr(results, "_store", ResultStore(
        tmp_path / "d", database=Database(tmp_path / "d")))
    with pytest.raises(OSError):  # the page logs it and goes on (studio.page.DemoPage.keep)
        results.store().keep("tab", inputs(), details(1), tmp_path / "vanished.png")
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
    upload = png(tmp_path / "ref.png", (300, 200))
    kept = store.keep("tab", inputs("A lighthouse", [str(upload), "https://x.example/a.png"]),
                      details(5), image)
    token = store.share(kept)
    page = client.get(f"/share/{token}")
    assert page.status_code == 200 and "A lighthouse" in page.text
    assert f'href="../?restore={token}"' in page.text
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
    kept = store.keep("tab", inputs(), details(1), image)
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


def test_a_transparent_reference_keeps_its_transparency_and_thumbnails_come_on_demand(
        make_store, image, tmp_path):
    logo = png(tmp_path / "logo.png", (300, 300), (0, 0, 0, 0), mode="RGBA")
    not_an_image = tmp_path / "notes.txt"
    not_an_image.write_text("hello")
    store = make_store()
    kept = store.keep("tab", inputs(refs=[str(logo), str(not_an_image)]), details(1), image)
    thumb = store.thumbnail(kept, 1)  # asked for at once: made now, or already there
    with Image.open(thumb) as im:
        assert im.format == "PNG" and im.mode == "RGBA" and im.getpixel((5, 5))[3] == 0
    assert store.thumbnail(kept, 2) is None and "thumb" not in kept.references[1]
    assert store.file(kept, kept.references[1]["file"]).read_text() == "hello"
    store.flush()
    assert len(list((store.root / kept.id / "refs").glob("1-thumb*"))) == 1


def test_a_count_of_results_reads_right():
    assert result_views.results_count(1) == "1 result"
    assert result_views.results_count(2) == "2 results"
