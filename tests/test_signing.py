"""Wiro's signature must match the docs' openssl recipe byte for byte."""
from __future__ import annotations

import re
import subprocess
import threading

import pytest

from wiro.signing import NonceSource, auth_headers, signature



def openssl_signature(key: str, secret: str, nonce: str) -> str:
    """`echo -n "$SECRET$NONCE" | openssl dgst -sha256 -hmac "$KEY"`, as the docs do it."""
    out = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", key],
        input=(secret + nonce).encode("utf-8"), capture_output=True, check=True,
    ).stdout.decode()
    # "SHA2-256(stdin)= <hex>" (OpenSSL 3) or "(stdin)= <hex>" (1.1): the hex is last.
    match = re.search(r"([0-9a-f]{64})\s*$", out)
    assert match, out
    return match.group(1)


@pytest.mark.parametrize(
    ("key", "secret", "nonce"),
    [
        ("test-key", "test-secret", "1734513807"),
        ("k", "s", "0"),
        ("a" * 64, "b" * 200, "17345138070001"),
        ("clé-ünïcødé", "sécret-密钥-🔑", "42"),
        ("key with spaces", "secret with $ and \"quotes\"", "9999999999999"),
        ("日本語のキー", "", "123"),
    ],
)
def test_signature_matches_openssl(key: str, secret: str, nonce: str) -> None:
    assert signature(key, secret, nonce) == openssl_signature(key, secret, nonce)


def test_signature_depends_on_every_part() -> None:
    base = signature("key", "secret", "1")
    assert signature("key2", "secret", "1") != base
    assert signature("key", "secret2", "1") != base
    assert signature("key", "secret", "2") != base
    assert re.fullmatch(r"[0-9a-f]{64}", base)


def test_nonce_never_repeats_in_a_tight_loop() -> None:
    source = NonceSource()
    nonces = [source() for _ in range(10_000)]
    assert len(set(nonces)) == len(nonces)
    assert all(n.isdigit() for n in nonces)
    # Strictly increasing: Wiro may reject a nonce that goes backwards.
    assert [int(n) for n in nonces] == sorted(int(n) for n in nonces)


def test_nonce_never_repeats_across_threads() -> None:
    source = NonceSource()
    per_thread = 2_500
    results: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(results))

    def worker(out: list[str]) -> None:
        start.wait()
        for _ in range(per_thread):
            out.append(source())

    threads = [threading.Thread(target=worker, args=(out,)) for out in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    everything = [n for out in results for n in out]
    assert len(everything) == per_thread * len(results)
    assert len(set(everything)) == len(everything)


def test_nonce_looks_like_unix_time_in_ms() -> None:
    import time

    nonce = int(NonceSource()())
    assert abs(nonce - time.time() * 1000) < 60_000


def test_auth_headers_signed() -> None:
    headers = auth_headers("test-key", "test-secret", "1234")
    assert headers == {
        "x-api-key": "test-key",
        "x-nonce": "1234",
        "x-signature": openssl_signature("test-key", "test-secret", "1234"),
    }


@pytest.mark.parametrize("secret", [None, ""])
def test_auth_headers_key_only_sends_only_the_key(secret: str | None) -> None:
    assert auth_headers("test-key", secret, "1234") == {"x-api-key": "test-key"}
