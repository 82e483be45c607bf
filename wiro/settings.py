"""The client's settings (WIRO_*), each declared once: its type, default and variable.

`read(cls, values)` turns a mapping of variables into any dataclass declared with `setting`
fields, with one parser per type, and names the variable when a value is wrong.
`load_settings` reads the client's settings from the environment overlaid on `.env`; the app
reads all of its settings, these included, once at start (studio/config.py).
"""
from __future__ import annotations

import math
import os
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from dotenv import dotenv_values

DEFAULT_BASE_URL = "https://api.wiro.ai/v1"
DEFAULT_SOCKET_URL = "wss://socket.wiro.ai/v1"
FILE_INPUT_MODES = ("upload", "multipart")
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}

T = TypeVar("T")


def setting(env: str, default: Any, parse: Callable[[str], Any] | None = None,
            **options: Any) -> Any:
    """A dataclass field read from the variable `env` (blank or unset: `default`)."""
    return field(default=default, metadata={"env": env, "parse": parse}, **options)


def _flag(raw: str) -> bool:
    word = raw.lower()
    if word in _TRUE or word in _FALSE:
        return word in _TRUE
    raise ValueError("must be 1 or 0 (true/false, yes/no, on/off)")


def _number(kind: type) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        number = float(raw)  # ValueError for words
        if not math.isfinite(number) or number < 0:
            raise ValueError("must be a number, zero or more")
        if kind is int:
            if number != int(number):
                raise ValueError("must be a whole number")
            return int(number)
        return number
    return parse


def _parser(default: Any) -> Callable[[str], Any]:
    if isinstance(default, bool):
        return _flag
    if isinstance(default, (int, float)):
        return _number(type(default))
    if isinstance(default, Path):
        return Path
    return str


def read(cls: type[T], values: Mapping[str, str]) -> T:
    """An instance of `cls` from `values`: each `setting` field from its variable."""
    chosen: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        env = f.metadata.get("env")
        raw = (values.get(env) or "").strip() if env else ""
        if not raw:
            continue
        parse = f.metadata.get("parse") or _parser(
            f.default if f.default is not MISSING else None)
        try:
            chosen[f.name] = parse(raw)
        except ValueError as exc:
            raise ValueError(f"{env} {exc if str(exc).startswith('must') else 'is not valid'}"
                             f" (got {raw!r})") from None
    return cls(**chosen)


def documented(cls: type) -> dict[str, Any]:
    """{variable: default} for every setting of `cls` (the .env.example check reads it)."""
    return {f.metadata["env"]: f.default for f in fields(cls) if f.metadata.get("env")}


def _file_input(raw: str) -> str:
    mode = raw.lower()
    if mode not in FILE_INPUT_MODES:
        raise ValueError("must be upload or multipart")
    return mode


def _url(raw: str) -> str:
    return raw.rstrip("/")


@dataclass(frozen=True)
class Settings:
    # Secrets stay out of repr so a logged Settings never shows them.
    api_key: str | None = setting("WIRO_API_KEY", None, repr=False)
    api_secret: str | None = setting("WIRO_API_SECRET", None, repr=False)
    base_url: str = setting("WIRO_API_BASE_URL", DEFAULT_BASE_URL, _url)
    socket_url: str = setting("WIRO_SOCKET_URL", DEFAULT_SOCKET_URL, _url)
    # Seconds between Task/Detail calls while a task is followed by polling (wiro.live:
    # the SDKs' pace; backs off only while the task is queued).
    poll_interval: float = setting("WIRO_POLL_INTERVAL", 2.0)
    request_timeout: float = setting("WIRO_REQUEST_TIMEOUT", 30.0)
    # Following a paid task (wiro.live): how long Task/Detail may take to answer, how long
    # a status this client does not know may sit still before the task is killed, how long a
    # finished-looking task (pexit "0" with outputs) may sit still before it is delivered
    # anyway, the whole run's deadline, and how long a charged output's download is retried.
    detail_timeout: float = setting("WIRO_DETAIL_TIMEOUT", 5.0)
    stall_window: float = setting("WIRO_STALL_WINDOW", 30.0)
    settle_window: float = setting("WIRO_SETTLE_WINDOW", 3.0)
    task_timeout: float = setting("WIRO_TASK_TIMEOUT", 600.0)
    download_window: float = setting("WIRO_DOWNLOAD_WINDOW", 60.0)
    # How local reference images reach Run: "upload" (File/Upload, then JSON with URLs, as
    # Wiro's own SDKs do) or "multipart" (the files sent to Run itself, as the docs show).
    file_input: str = setting("WIRO_FILE_INPUT", "upload", _file_input)

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


def load_settings(environ: Mapping[str, str] | None = None,
                  dotenv_path: str | os.PathLike | None = ".env") -> Settings:
    """The client's settings alone, for scripts that use `wiro` without the app."""
    return read(Settings, merged_environment(environ, dotenv_path))
