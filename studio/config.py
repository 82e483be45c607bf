"""Every setting the app reads, typed and declared once, read once at start.

`Config.load()` reads `.env` overlaid by the environment (the environment wins) and returns
one frozen `Config`: the page's own settings (APP_*), the client's (`config.wiro`, WIRO_*,
declared in wiro/settings.py) and the few of Gradio's that the app acts on. app.py loads it
once and hands it down; nothing else reads the environment. Each variable has its line in
.env.example (tests/test_config.py holds the two together).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from wiro.settings import Settings, documented, merged_environment, read, setting


def _origins(raw: str) -> tuple[str, ...]:
    origins = tuple(o.strip().rstrip("/").lower() for o in raw.split(",") if o.strip())
    for origin in origins:
        if not origin.startswith(("http://", "https://")) or origin.count("/") != 2:
            raise ValueError("must be origins like https://example.com, commas between")
    return origins


def _at_least_one(raw: str) -> int:
    number = float(raw)
    if number != int(number) or number < 1:
        raise ValueError("must be a whole number, 1 or more")
    return int(number)


@dataclass(frozen=True)
class Config:
    wiro: Settings = field(default_factory=Settings)

    # --- the page
    # Runs the app serves at the same time (also Gradio's queue concurrency for runs).
    max_concurrent_runs: int = setting("APP_MAX_CONCURRENT_RUNS", 4, _at_least_one)
    # A run's updates go to the page as soon as Wiro reports a step (True) or on a 0.25 s tick.
    push_updates: bool = setting("APP_PUSH_UPDATES", True)
    # Keyless mode: how fast the simulator walks a task (1.0 ≈ 5 s an image, 0 = instant).
    simulator_pace: float = setting("WIRO_SIMULATOR_PACE", 1.0)
    mcp_server: bool = setting("GRADIO_MCP_SERVER", True)

    # --- guarding a public Space (0 = no cap)
    runs_per_session: int = setting("APP_RUNS_PER_SESSION", 1)
    runs_per_client_per_hour: int = setting("APP_RUNS_PER_CLIENT_PER_HOUR", 30)
    daily_spend_cap_usd: float = setting("APP_DAILY_SPEND_CAP_USD", 0.0)
    bring_your_own_key: bool = setting("APP_BRING_YOUR_OWN_KEY", False)
    # Behind a proxy that appends the visitor's address to X-Forwarded-For (on by itself on a
    # Hugging Face Space): the visitor is the entry `trusted_proxy_hops` from the right.
    trust_proxy_headers: bool = setting("APP_TRUST_PROXY_HEADERS", False)
    trusted_proxy_hops: int = setting("APP_TRUSTED_PROXY_HOPS", 1, _at_least_one)
    # Browsers may call the app only from its own origin; these origins too (comma list).
    allowed_origins: tuple[str, ...] = setting("APP_ALLOWED_ORIGINS", (), _origins)

    # --- what one visitor can make the app hold (0 = no cap)
    max_upload_mb: float = setting("APP_MAX_UPLOAD_MB", 25.0)  # one uploaded file
    max_request_mb: float = setting("APP_MAX_REQUEST_MB", 100.0)  # one request's body
    upload_mb_per_client_per_hour: float = setting("APP_UPLOAD_MB_PER_CLIENT_PER_HOUR", 200.0)
    # The temporary files (uploads, Gradio's cache, results, shrunk copies), all together.
    temp_mb: float = setting("APP_TEMP_MB", 2048.0)
    zips_at_once: int = setting("APP_ZIPS_AT_ONCE", 2, _at_least_one)
    log_lines_per_client_per_hour: int = setting("APP_LOG_LINES_PER_CLIENT_PER_HOUR", 60)

    # --- what survives a restart, and kept results
    data_dir: Path = setting("APP_DATA_DIR", Path(".data"))
    keep_results: int = setting("APP_KEEP_RESULTS", 1000)
    keep_results_mb: float = setting("APP_KEEP_RESULTS_MB", 1024.0)
    # One result's files (at most a tenth of APP_KEEP_RESULTS_MB): what one run can evict.
    keep_result_mb: float = setting("APP_KEEP_RESULT_MB", 32.0)
    sharing: bool = setting("APP_SHARING", True)
    # Everyone's recent runs (prompts, reference images) listed to every visitor.
    public_gallery: bool = setting("APP_PUBLIC_GALLERY", False)

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None,
             dotenv_path: str | os.PathLike | None = ".env") -> Config:
        values = merged_environment(environ, dotenv_path)
        config = read(cls, values)
        changes: dict[str, Any] = {"wiro": read(Settings, values)}
        if values.get("SPACE_ID") and not (values.get("APP_TRUST_PROXY_HEADERS") or "").strip():
            changes["trust_proxy_headers"] = True  # a Space always sits behind its proxy
        return replace(config, **changes)


def variables() -> dict[str, Any]:
    """{variable: default} for every setting the app reads."""
    return {**documented(Settings), **documented(Config)}
