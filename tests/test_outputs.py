"""Issue 12, point 1: a session id is visitor-controlled text, never a path. Every case
checks real files on disk: the other sessions' results and a bystander file beside the
outputs root survive."""
from __future__ import annotations

import os

import pytest

from studio.outputs import OutputStore, folder_name

HOSTILE_IDS = [".", "..", "%2E%2E", "/", "\\", "a/../..", "../..", "..\\..", "",
               "/etc", "/tmp", "C:\\Windows", "a" * 5000, "é/../..", "\x00", "s-" + "0" * 32]


@pytest.fixture
def world(tmp_path):
    """An outputs root inside a parent folder holding a bystander file, with two visitors'
    results already saved."""
    parent = tmp_path / "system-temp"
    parent.mkdir()
    bystander = parent / "someone-elses-file.txt"
    bystander.write_text("keep me")
    store = OutputStore(parent / "outputs")
    kept = [store.save("visitor-a", "a.png", b"A"), store.save("visitor-b", "b.png", b"B")]
    return store, bystander, kept


@pytest.mark.parametrize("session", HOSTILE_IDS, ids=lambda s: repr(s)[:20])
def test_a_hostile_session_id_deletes_nothing_but_its_own_folder(world, session):
    store, bystander, kept = world
    store.drop(session)
    assert bystander.read_text() == "keep me"
    assert store.root.is_dir()
    assert [p.read_bytes() for p in kept] == [b"A", b"B"]


@pytest.mark.parametrize("session", HOSTILE_IDS, ids=lambda s: repr(s)[:20])
def test_a_hostile_session_id_saves_inside_the_root_and_drops_only_that(world, session):
    store, bystander, kept = world
    path = store.save(session, "../../evil.png", b"X")
    assert path.resolve().parent.parent == store.root  # <root>/<hashed folder>/<file>
    assert path.name.endswith("evil.png") and not path.name.startswith(".")
    store.drop(session)
    assert not path.exists()
    assert bystander.read_text() == "keep me"
    assert [p.read_bytes() for p in kept] == [b"A", b"B"]


def test_absolute_paths_and_the_roots_own_name_are_just_names(world):
    store, bystander, kept = world
    for session in (str(store.root), str(store.root.parent), str(bystander), os.sep):
        store.drop(session)
    assert bystander.exists() and store.root.is_dir()
    assert all(p.exists() for p in kept)


def test_a_folder_is_named_by_a_hash_of_the_id(world):
    store, _, _ = world
    assert folder_name("..") != folder_name(".") != folder_name("%2E%2E")
    assert folder_name("abc") == folder_name("abc")
    assert all(len(folder_name(s)) == 34 for s in HOSTILE_IDS)
    folders = sorted(p.name for p in store.root.iterdir() if p.is_dir())
    assert folders == sorted([folder_name("visitor-a"), folder_name("visitor-b")])


def test_drop_never_follows_a_link_out_of_the_root(world, tmp_path):
    store, bystander, _ = world
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "data").write_text("precious")
    (store.root / folder_name("linked")).symlink_to(victim, target_is_directory=True)
    store.drop("linked")
    assert (victim / "data").read_text() == "precious"


def test_a_visitors_own_results_are_dropped(world):
    store, _, kept = world
    store.drop("visitor-a")
    assert not kept[0].exists() and kept[1].exists()


# --- the attack as it was seen: a heartbeat for session `..`, then hanging up ----------------

pytest_plugins = ["tests.app_harness"]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("session", ["%2E%2E", "%2E"])
def test_a_closed_heartbeat_for_a_dot_session_deletes_nothing_else(live_app, session):
    import urllib.parse
    import uuid

    import requests

    root = live_app.app.outputs.root
    bystander = root.parent / f"bystander-{uuid.uuid4().hex}.txt"
    bystander.write_text("keep me")
    other = live_app.app.outputs.save("another-visitor", "result.png", b"PNG")
    # The folder the close-tab handler may remove for this id: when it is gone, it has run.
    decoded = urllib.parse.unquote(session)
    marker = live_app.app.outputs.save(decoded, "marker.png", b"M")
    try:
        with requests.get(f"{live_app.url}/gradio_api/heartbeat/{session}", stream=True,
                          timeout=10) as response:
            assert response.status_code == 200
            next(response.iter_content(8))
        live_app.wait_until(lambda: not marker.exists(), timeout=20,
                            message="the close-tab handler to run")
        assert bystander.read_text() == "keep me"
        assert root.is_dir() and other.read_bytes() == b"PNG"
    finally:
        bystander.unlink(missing_ok=True)
        live_app.app.outputs.drop("another-visitor")
