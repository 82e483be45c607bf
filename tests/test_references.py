"""The reference-image list the page keeps: order, add, remove, move, the 8-image cap."""
from studio import references
from wiro import spec

URL_A = "https://example.com/a.jpg"
URL_B = "https://example.com/b.png"


def test_files_and_urls_mix_in_the_order_added(tmp_path):
    upload = tmp_path / "road.png"
    entries, note = references.add_url([], URL_A)
    entries, note = references.add_files(entries, [str(upload)])
    entries, note = references.add_url(entries, URL_B)
    assert entries == [URL_A, str(upload), URL_B]
    assert note == ""
    assert [references.label(entries, n) for n in (1, 2, 3)] == [
        "image 1: a.jpg", "image 2: road.png", "image 3: b.png"]


def test_adding_past_eight_keeps_eight_and_says_how_many_were_left_out():
    entries = [f"https://example.com/{n}.jpg" for n in range(7)]
    kept, note = references.add_files(entries, ["/tmp/x.png", "/tmp/y.png", "/tmp/z.png"])
    assert len(kept) == spec.MAX_REFERENCE_IMAGES
    assert kept[-1] == "/tmp/x.png"
    assert "2 not added" in note


def test_a_url_that_is_not_http_is_refused_with_a_reason():
    entries, note = references.add_url([URL_A], "javascript:alert(1)")
    assert entries == [URL_A]
    assert "not an http(s) URL" in note


def test_remove_and_move_use_the_numbers_shown_on_the_page():
    entries = [URL_A, URL_B, "/tmp/c.png"]
    assert references.remove(entries, 2) == [URL_A, "/tmp/c.png"]
    assert references.move(entries, 3, -1) == [URL_A, "/tmp/c.png", URL_B]
    assert references.move(entries, 1, -1) == entries  # already first
    assert references.move(entries, 1, +1) == [URL_B, URL_A, "/tmp/c.png"]
    assert references.remove(entries, None) == entries
    assert references.remove(entries, 9) == entries
