"""Client settings from the environment and an optional `.env` (the environment wins)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from dotenv import dotenv_values

DEFAULT_BASE_URL = "https://api.wiro.ai/v1"
DEFAULT_SOCKET_URL = "wss://socket.wiro.ai/v1"


@dataclass(frozen=True)
class Settings:
    # Secrets stay out of repr so a logged Settings never shows them.
    api_key: str | None = field(default=None, repr=False)
    api_secret: str | None = field(default=None, repr=False)
    base_url: str = DEFAULT_BASE_URL
    socket_url: str = DEFAULT_SOCKET_URL
    poll_interval: float = 2.0  # seconds between Detail polls without a socket (wiro.live)
    request_timeout: float = 30.0
    # Following a paid task (wiro.live): how long Task/Detail may take to answer, how long
    # task_error or an unknown status may sit still before the task is killed, how long a
    # finished-looking task (pexit "0" with outputs) may sit still before it is delivered
    # anyway, the whole run's deadline, and how long a charged output's download is retried.
    detail_timeout: float = 5.0
    stall_window: float = 30.0
    settle_window: float = 3.0
    task_timeout: float = 600.0
    download_window: float = 60.0
    # How local reference images reach Run: "upload" (File/Upload, then JSON with URLs, as
    # Wiro's own SDKs do) or "multipart" (the files sent to Run itself, as the docs show).
    file_input: str = "upload"

    @property
    def has_key(self) -> bool:
        return bool(self.api_key)


def merged_environment(environ: Mapping[str, str] | None = None,
                       dotenv_path: str | os.PathLike | None = ".env") -> dict[str, str]:
    """`.env` values overlaid by the real environment."""
    values: dict[str, str] = {}
    if dotenv_path and os.path.exists(dotenv_path):
        values.update({k: v for k, v in dotenv_values(dotenv_path).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def flag(values: Mapping[str, str], name: str, default: bool) -> bool:
    """An on/off setting: 1/true/yes/on or 0/false/no/off; empty or anything else, the default."""
    raw = (values.get(name) or "").strip().lower()
    if raw in {"1", "true", "yes", "on"}:
        return True
    if raw in {"0", "false", "no", "off"}:
        return False
    return default


def _number(values: Mapping[str, str], name: str, default: float) -> float:
    raw = (values.get(name) or "").strip()
    if not raw:
        return default
    try:
        number = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not number >= 0:
        raise ValueError(f"{name} must be zero or more, got {raw!r}")
    return number


def load_settings(environ: Mapping[str, str] | None = None,
                  dotenv_path: str | os.PathLike | None = ".env") -> Settings:
    values = merged_environment(environ, dotenv_path)
    return Settings(
        api_key=(values.get("WIRO_API_KEY") or "").strip() or None,
        api_secret=(values.get("WIRO_API_SECRET") or "").strip() or None,
        base_url=(values.get("WIRO_API_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
        socket_url=(values.get("WIRO_SOCKET_URL") or DEFAULT_SOCKET_URL).rstrip("/"),
        poll_interval=_number(values, "WIRO_POLL_INTERVAL", 2.0),
        request_timeout=_number(values, "WIRO_REQUEST_TIMEOUT", 30.0),
        detail_timeout=_number(values, "WIRO_DETAIL_TIMEOUT", 5.0),
        stall_window=_number(values, "WIRO_STALL_WINDOW", 30.0),
        settle_window=_number(values, "WIRO_SETTLE_WINDOW", 3.0),
        task_timeout=_number(values, "WIRO_TASK_TIMEOUT", 600.0),
        download_window=_number(values, "WIRO_DOWNLOAD_WINDOW", 60.0),
        file_input=_file_input(values),
    )


FILE_INPUT_MODES = ("upload", "multipart")


def _file_input(values: Mapping[str, str]) -> str:
    raw = (values.get("WIRO_FILE_INPUT") or "").strip().lower() or "upload"
    if raw not in FILE_INPUT_MODES:
        raise ValueError(f"WIRO_FILE_INPUT must be upload or multipart, got {raw!r}")
    return raw
