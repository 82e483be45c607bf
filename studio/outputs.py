"""Result files kept by the app: Wiro's CDN links expire within minutes, so outputs are
downloaded as soon as a task ends and served from here, one folder per browser session.

A session id is text the visitor controls (Gradio takes it from the URL of a heartbeat or a
queue join), so it never becomes a path: a session's folder is named by a hash of the id,
and every delete checks that what it removes sits directly inside the root.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_FOLDER = re.compile(r"^s-[0-9a-f]{32}$")
MAX_FILENAME = 120


def folder_name(session: str) -> str:
    """The folder for a session id: the same id always maps to the same name, and no id can
    name anything but one folder inside the root."""
    digest = hashlib.blake2b(str(session).encode("utf-8", "surrogatepass"),
                             digest_size=16).hexdigest()
    return f"s-{digest}"


def _file_name(filename: str) -> str:
    name = _UNSAFE.sub("_", filename)[-MAX_FILENAME:].lstrip(".")
    return name or "output"


class OutputStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="flux2pro-outputs-")).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _folder(self, session: str) -> Path:
        return self.root / folder_name(session)

    def path(self, session: str, filename: str) -> Path:
        """Where the session's file `filename` goes (its folder made)."""
        folder = self._folder(session)
        folder.mkdir(parents=True, exist_ok=True)
        return folder / _file_name(filename)

    def save(self, session: str, filename: str, data: bytes) -> Path:
        path = self.path(session, filename)
        path.write_bytes(data)
        return path

    def clear(self, session: str, prefix: str, keep: str = "") -> None:
        """Delete the session's files whose names start with `prefix`, but `keep`."""
        folder = self._folder(session)
        for path in folder.glob(_file_name(prefix) + "*") if folder.is_dir() else ():
            if path.name != keep:
                path.unlink(missing_ok=True)

    def drop(self, session: str) -> None:
        """Forget a session's files once its tab is gone, so memory and disk stay bounded."""
        folder = self._folder(session)
        # Belt and braces: whatever the name, only a session folder directly in the root
        # (and not a link out of it) is ever removed.
        if (folder.parent != self.root or not _FOLDER.match(folder.name)
                or folder.is_symlink() or not folder.is_dir()):
            return
        if folder.resolve().parent != self.root:
            return
        shutil.rmtree(folder, ignore_errors=True)
