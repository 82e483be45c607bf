"""Who a request comes from, for the caps: an address for the hourly cap, a session for the
run slot. Everything a visitor writes (X-Forwarded-For entries, session ids) is treated as
made up unless something we trust vouches for it.

- Behind trusted proxies (`APP_TRUST_PROXY_HEADERS=1`, or on a Space) each proxy *appends*
  the address it saw to X-Forwarded-For, so the visitor is the N-th entry from the right,
  N = `APP_TRUSTED_PROXY_HOPS` (default 1). Entries further left are the visitor's own words.
- Without trusted proxies the visitor is the TCP peer. Uvicorn would replace the peer by the
  last X-Forwarded-For entry when the peer is loopback (its `FORWARDED_ALLOW_IPS` default),
  so that is switched off here, and a peer that looks rewritten anyway counts as loopback.
- IPv6 visitors are counted per /64: one home or server gets a whole /64 to pick from.
- MCP: Gradio's MCP server calls the app back over loopback through one shared client, with
  the MCP caller's headers. studio/gradio_patches.py makes it add a header signed here naming
  the caller's real address (read from the MCP request the same way) and the MCP session, so
  each caller is counted as itself and each MCP session has its own run slot.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any, Mapping

MCP_HEADER = "x-flux2pro-mcp-caller"
_KEY = secrets.token_bytes(32)  # per process: the loopback call is made by this process
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Visitor:
    address: str  # what the hourly cap counts
    session: str  # what the per-session cap counts
    via_mcp: bool = False


def _headers_list(headers: Any, name: str) -> list[str]:
    if headers is None:
        return []
    if hasattr(headers, "getlist"):
        return list(headers.getlist(name))
    if isinstance(headers, Mapping):
        return [v for k, v in headers.items() if str(k).lower() == name]
    return []


def _forwarded_entries(headers: Any) -> list[str]:
    entries: list[str] = []
    for value in _headers_list(headers, "x-forwarded-for"):
        entries += [e.strip() for e in str(value).split(",") if e.strip()]
    return entries


def normalise_address(text: str | None) -> str | None:
    """An address as the caps count it (port and brackets dropped, IPv6 as its /64), or
    None if it is not an IP address."""
    if not text:
        return None
    text = text.strip().strip('"')
    if text.startswith("["):  # [v6]:port
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped:
            return str(addr.ipv4_mapped)
        return str(ipaddress.IPv6Network((addr, 64), strict=False))
    return str(addr)


def _looks_rewritten(peer: str, entries: list[str]) -> bool:
    """True if the peer is what uvicorn would have put there from X-Forwarded-For when it
    trusts loopback: the rightmost entry that is not loopback. Then the real peer was a
    loopback caller and the header says nothing we can trust."""
    for entry in reversed(entries):
        address = normalise_address(entry)
        if address is None:
            continue
        if ipaddress.ip_network(address, strict=False).network_address.is_loopback:
            continue
        return address == peer
    return False


def address_of(peer_host: str | None, headers: Any, *, trust_proxy_headers: bool,
               hops: int = 1) -> str:
    """The address the hourly cap counts for a request from `peer_host` with `headers`."""
    peer = normalise_address(peer_host) or UNKNOWN
    entries = _forwarded_entries(headers)
    if entries and _looks_rewritten(peer, entries):
        peer = "127.0.0.1"
    if not trust_proxy_headers or not entries:
        return peer
    hops = max(1, hops)
    if len(entries) < hops:
        return peer  # fewer entries than proxies: someone skipped a proxy; count the peer
    return normalise_address(entries[-hops]) or peer


# --- MCP -----------------------------------------------------------------------------------

def _sign(payload: bytes) -> str:
    return hmac.new(_KEY, payload, hashlib.sha256).hexdigest()


def mcp_caller_header(address: str, session: str) -> str:
    payload = base64.urlsafe_b64encode(json.dumps([address, session]).encode()).decode()
    return f"{payload}.{_sign(payload.encode())}"


def read_mcp_caller(value: str | None) -> tuple[str, str] | None:
    """(address, session) from a header this process signed; None for anything else."""
    if not value or value.count(".") != 1:
        return None
    payload, signature = value.split(".")
    if not hmac.compare_digest(_sign(payload.encode()), signature):
        return None
    try:
        address, session = json.loads(base64.urlsafe_b64decode(payload.encode()))
    except (ValueError, TypeError):
        return None
    return str(address), str(session)


def mcp_session(headers: Any, address: str) -> str:
    """An MCP session id if the client sent one (scoped to its address, so it cannot take
    another caller's slot), else a new one: Gradio's MCP server is stateless, so every
    tool call is then its own session."""
    sent = next(iter(_headers_list(headers, "mcp-session-id")), "")
    if sent:
        return hashlib.blake2b(f"{address}|{sent}".encode(), digest_size=12).hexdigest()
    return uuid.uuid4().hex


class Visitors:
    """Identifies visitors for the caps, by the app's settings (studio/config.py)."""

    def __init__(self, config: Any):
        self.trust_proxy_headers = bool(config.trust_proxy_headers)
        self.hops = int(config.trusted_proxy_hops or 1)

    def address(self, peer_host: str | None, headers: Any) -> str:
        return address_of(peer_host, headers, trust_proxy_headers=self.trust_proxy_headers,
                          hops=self.hops)

    def identify(self, request: Any, session: str) -> Visitor:
        """The visitor behind a Gradio request; `session` is the run slot it would use."""
        headers = getattr(request, "headers", None)
        vouched = read_mcp_caller(next(iter(_headers_list(headers, MCP_HEADER)), None))
        if vouched:
            return Visitor(vouched[0], f"mcp-{vouched[1]}", via_mcp=True)
        client = getattr(request, "client", None)
        return Visitor(self.address(getattr(client, "host", None), headers), session)

