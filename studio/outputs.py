"""Result files kept by the app: Wiro's CDN links expire within minutes, so outputs are
downloaded as soon as a task ends and served from here, one folder per browser session."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


class OutputStore:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root or tempfile.mkdtemp(prefix="flux2pro-outputs-")).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def _folder(self, session: str) -> Path:
        return self.root / (_UNSAFE.sub("_", session) or "anonymous")

    def save(self, session: str, filename: str, data: bytes) -> Path:
        folder = self._folder(session)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / _UNSAFE.sub("_", filename)
        path.write_bytes(data)
        return path

    def drop(self, session: str) -> None:
        """Forget a session's files once its tab is gone, so memory and disk stay bounded."""
        shutil.rmtree(self._folder(session), ignore_errors=True)

    def sessions(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir())
