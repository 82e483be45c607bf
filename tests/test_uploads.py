"""Issue 7, part 4: references larger than the model uses are shrunk before upload."""
from __future__ import annotations

import os

import pytest
from PIL import Image

from studio.backend import Backend
from wiro import InvalidInputError, spec, uploads, validate_inputs
from wiro.settings import Settings
from wiro.validation import ImageFile

from conftest import TEST_KEY, TEST_SECRET
from run_helpers import run_values

MP = 1_000_000
URL_A = "https://cdn.example.com/a.jpg"
URL_B = "https://cdn.example.com/b.png"


def photo(path, size, fmt="JPEG", mode="RGB", exif_orientation=None):
    """A quick gradient 'photo' (large sizes stay cheap: no noise)."""
    width, height = size
    gradient = Image.linear_gradient("L").resize((width, height))
    im = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                             gradient.rotate(90, expand=False)))
    if mode != "RGB":
        im = im.convert(mode)
        if mode == "RGBA":
            im.putalpha(gradient)
    kwargs = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    im.save(path, fmt, **kwargs)
    return str(path)


def size_of(path):
    with Image.open(path) as im:
        return im.size


# --- the plan ------------------------------------------------------------------------------

def test_small_images_are_kept_as_they_are():
    assert uploads.target_sizes([(1024, 768), (640, 480)]) == [(1024, 768), (640, 480)]


def test_one_big_image_is_capped_at_four_megapixels_keeping_its_shape():
    [(w, h)] = uploads.target_sizes([(6000, 4000)])
    assert w * h <= 4 * MP and w * h > 3.98 * MP
    assert abs(w / h - 1.5) < 0.002


def test_several_images_share_the_nine_megapixel_total():
    sizes = [(3000, 2000), (2500, 2500), (4000, 3000), (800, 600)]
    targets = uploads.target_sizes(sizes)
    assert sum(w * h for w, h in targets) <= spec.MAX_INPUT_MEGAPIXELS * MP
    assert all(w * h <= uploads.MAX_REFERENCE_MEGAPIXELS * MP for w, h in targets)
    for (w, h), (tw, th) in zip(sizes, targets):
        assert tw <= w and th <= h  # never enlarged
        assert abs(tw / th - w / h) < 0.01


def test_nothing_is_ever_enlarged():
    assert uploads.target_sizes([(10, 10)], max_each_mp=4, max_total_mp=9) == [(10, 10)]


# --- files ---------------------------------------------------------------------------------

def test_urls_stay_urls_and_order_is_kept(tmp_path):
    big = photo(tmp_path / "big.jpg", (4000, 3000))
    small = photo(tmp_path / "small.png", (300, 200), "PNG")
    prepared = uploads.prepare_references([URL_A, big, URL_B, small], cache_dir=tmp_path / "c")
    assert prepared[0] == URL_A and prepared[2] == URL_B
    assert prepared[3] == small  # fits, upright: the very same file
    assert prepared[1] != big and os.path.basename(prepared[1]).startswith("big")
    w, h = size_of(prepared[1])
    assert w * h <= 4 * MP and abs(w / h - 4 / 3) < 0.01


def test_photos_stay_jpeg_and_transparent_images_stay_png(tmp_path):
    jpeg = photo(tmp_path / "photo.png", (3000, 2000), "PNG")  # a PNG photo: no alpha
    alpha = photo(tmp_path / "cutout.png", (3000, 2000), "PNG", mode="RGBA")
    out_jpeg, out_png = uploads.prepare_references([jpeg, alpha], cache_dir=tmp_path / "c",
                                                   max_each_mp=1)
    with Image.open(out_jpeg) as im:
        assert im.format == "JPEG" and im.mode == "RGB"
    with Image.open(out_png) as im:
        assert im.format == "PNG" and im.mode == "RGBA"
        assert im.getchannel("A").getextrema() != (255, 255)  # the transparency survived


def test_exif_orientation_is_applied(tmp_path):
    # Stored 3000×2000 with "rotate 90": upright it is 2000 wide, 3000 tall.
    turned = photo(tmp_path / "turned.jpg", (3000, 2000), exif_orientation=6)
    [out] = uploads.prepare_references([turned], cache_dir=tmp_path / "c", max_each_mp=1.5)
    w, h = size_of(out)
    assert h > w and abs(w / h - 2 / 3) < 0.01
    with Image.open(out) as im:
        assert im.getexif().get(0x0112, 1) == 1
    # Small enough already, but sideways: still turned upright.
    small = photo(tmp_path / "small-turned.jpg", (300, 200), exif_orientation=6)
    [out] = uploads.prepare_references([small], cache_dir=tmp_path / "c")
    assert out != small and size_of(out) == (200, 300)


def test_a_prepared_request_is_within_nine_megapixels_in_order(tmp_path):
    files = [photo(tmp_path / f"p{n}.jpg", (3000, 3000)) for n in range(4)]  # 36 MP
    request = validate_inputs({spec.INPUT_IMAGE.name: files, spec.PROMPT.name: "x"})
    assert request.input_megapixels > spec.MAX_INPUT_MEGAPIXELS
    request = uploads.prepare(request, cache_dir=tmp_path / "c")
    assert request.input_megapixels <= spec.MAX_INPUT_MEGAPIXELS
    assert [os.path.basename(i.path).split(".")[0] for i in request.images] == \
        ["p0", "p1", "p2", "p3"]


def test_a_damaged_upload_is_refused_by_name_when_prepared(tmp_path):
    whole = photo(tmp_path / "whole.jpg", (600, 400))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(open(whole, "rb").read()[:2000])  # its header says 600×400
    request = validate_inputs({spec.INPUT_IMAGE.name: [whole, str(cut)], spec.PROMPT.name: "x"})
    with pytest.raises(InvalidInputError, match=r"Input Image 2 \(cut.jpg\) is damaged"):
        uploads.prepare(request, cache_dir=tmp_path / "c")


def test_copies_are_reused(tmp_path):
    big = photo(tmp_path / "big.jpg", (3000, 2000))
    first = uploads.prepare_references([big], cache_dir=tmp_path / "c", max_each_mp=1)
    inode = os.stat(first[0]).st_ino  # a new copy would be a new file (written, then renamed)
    again = uploads.prepare_references([big], cache_dir=tmp_path / "c", max_each_mp=1)
    assert again == first and os.stat(again[0]).st_ino == inode


def test_unreadable_and_oversized_files_are_left_for_validation(tmp_path):
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image")
    huge = tmp_path / "huge.png"
    Image.new("1", (8100, 8000)).save(huge)  # 64.8 MP: validation's bomb guard says no
    missing = str(tmp_path / "gone.jpg")
    entries = [str(junk), str(huge), missing]
    assert uploads.prepare_references(entries, cache_dir=tmp_path / "c") == entries


def test_other_entry_kinds(tmp_path):
    big = photo(tmp_path / "big.jpg", (3000, 2000))
    out = uploads.prepare_references([{"path": big}, ImageFile(big)], cache_dir=tmp_path / "c",
                                     max_each_mp=1)
    assert all(isinstance(o, str) and o != big for o in out)
    text_only = validate_inputs({spec.PROMPT.name: "p"})
    assert uploads.prepare(text_only) is text_only


def test_sent_sizes_match_what_is_sent(tmp_path):
    big = photo(tmp_path / "big.jpg", (6000, 4000))
    sizes = uploads.sent_sizes([URL_A, big])
    [prepared] = uploads.prepare_references([big], cache_dir=tmp_path / "c")
    assert sizes == [None, size_of(prepared)]


def test_a_run_with_a_24_megapixel_photo_sends_a_small_one(sim, sim_state, tmp_path):
    big = photo(tmp_path / "holiday.jpg", (6000, 4000))
    backend = Backend(Settings(api_key=TEST_KEY, api_secret=TEST_SECRET, base_url=sim.base_url,
                               poll_interval=0.02), simulator=sim)
    values = {**spec.defaults(), spec.INPUT_IMAGE.name: [URL_A, big], spec.WIDTH.name: 256,
              spec.HEIGHT.name: 256}
    last = run_values(backend, tmp_path, values)[-1]
    assert last.record is not None, last.status
    [task] = sim_state.tasks()
    sent = task["inputs"]
    assert [i["kind"] for i in sent] == ["url", "file"]
    assert sent[1]["width"] * sent[1]["height"] <= 4 * MP
    assert sent[1]["bytes"] < os.path.getsize(big)


# --- issue 12, point 3: headers only, and a cache that does not only grow --------------------

def test_a_png_header_is_read_without_decoding_its_pixels(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    Image.new("L", (6000, 5000), 7).save(big, compress_level=1)
    decoded = []
    original = Image.Image.load
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(self) or original(self))
    from PIL import ImageFile
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: decoded.append(self) or original(self))
    assert uploads.sent_sizes([str(big)]) == uploads.target_sizes([(6000, 5000)])
    assert decoded == []


def test_old_copies_are_pruned_and_copies_in_use_kept(tmp_path):
    cache = tmp_path / "c"
    old = photo(tmp_path / "old.jpg", (3000, 2000))
    fresh = photo(tmp_path / "fresh.jpg", (2800, 2000))
    [old_copy] = uploads.prepare_references([old], cache_dir=cache, max_each_mp=1)
    [fresh_copy] = uploads.prepare_references([fresh], cache_dir=cache, max_each_mp=1)
    hour_ago = os.stat(old_copy).st_mtime - 3700
    for path in (old_copy, fresh_copy):
        os.utime(path, (hour_ago, hour_ago))
    # Used again just now: a hit refreshes the copy, so it is not pruned from under a run.
    assert uploads.prepare_references([fresh], cache_dir=cache, max_each_mp=1) == [fresh_copy]
    assert uploads.prune_cache(cache, max_age_seconds=3600) == 1
    assert not os.path.exists(old_copy) and not os.path.exists(os.path.dirname(old_copy))
    assert os.path.exists(fresh_copy)
    # Pruned is not broken: the next run makes the copy again.
    [again] = uploads.prepare_references([old], cache_dir=cache, max_each_mp=1)
    assert os.path.exists(again)


def test_preparing_prunes_the_default_cache_now_and_then(tmp_path, monkeypatch):
    cache = tmp_path / "flux2pro-references-test"
    cache.mkdir()
    stale = cache / "0123456789abcdef" / "stale.jpg"
    stale.parent.mkdir()
    stale.write_bytes(b"x")
    os.utime(stale, (1, 1))
    monkeypatch.setattr(uploads, "_default_cache", cache)
    monkeypatch.setattr(uploads, "_last_prune", 0.0)
    monkeypatch.setattr(uploads, "PRUNE_EVERY_SECONDS", 0.0)
    uploads.prepare_references([photo(tmp_path / "a.jpg", (400, 300))])
    assert not stale.exists()
