"""Start `python app.py` as a real process, as a user would, for tests that need one
(SIGTERM, a canary key that must never show up anywhere)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AppProcess:
    process: subprocess.Popen
    url: str
    log_path: Path
    temp_dir: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_app(tmp_path: Path, env: dict[str, str], timeout: float = 120,
              port: int | None = None, root: Path = ROOT) -> AppProcess:
    """`port`: the same one again for a restart (a browser keeps local storage per origin);
    `root`: another checkout's app.py (benchmarks run today's code beside ours)."""
    port = port or free_port()
    temp_dir = tmp_path / "app-tmp"
    temp_dir.mkdir()
    log_path = tmp_path / "app.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("WIRO_", "APP_"))}
    full_env.update({"GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                     "GRADIO_ANALYTICS_ENABLED": "False", "TMPDIR": str(temp_dir),
                     "GRADIO_TEMP_DIR": str(temp_dir / "gradio"), "PYTHONUNBUFFERED": "1"})
    full_env.update(env)
    log = open(log_path, "wb")
    # cwd is the temp folder, so any file the app writes lands where the test can scan it.
    process = subprocess.Popen([sys.executable, str(Path(root) / "app.py")], cwd=str(tmp_path),
                               env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app exited early:\n{log_path.read_text()}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return AppProcess(process, url, log_path, temp_dir)
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"app did not start:\n{log_path.read_text()}")
