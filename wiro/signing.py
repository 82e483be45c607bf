"""Wiro's request signing: HMAC-SHA256 keyed with the API key over API_SECRET + NONCE."""
from __future__ import annotations

import hashlib
import hmac
import threading
import time


def signature(api_key: str, api_secret: str, nonce: str) -> str:
    """Hex digest, the same as `echo -n "$SECRET$NONCE" | openssl dgst -sha256 -hmac "$KEY"`."""
    return hmac.new(api_key.encode(), (api_secret + nonce).encode(), hashlib.sha256).hexdigest()


class NonceSource:
    """Millisecond unix time, bumped so that no two requests ever share a nonce."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            self._last = max(int(time.time() * 1000), self._last + 1)
            return str(self._last)


def auth_headers(api_key: str, api_secret: str | None, nonce: str) -> dict[str, str]:
    """Headers for one request. A key without a secret is Wiro's "API key only" project."""
    headers = {"x-api-key": api_key}
    if api_secret:
        headers["x-nonce"] = nonce
        headers["x-signature"] = signature(api_key, api_secret, nonce)
    return headers
