"""Issue 12, point 2: the hourly cap counts the visitor a trusted proxy saw, not whatever a
visitor writes into X-Forwarded-For; MCP callers are counted by their own address and each
MCP session has its own run slot."""
from __future__ import annotations

import asyncio
import concurrent.futures
import random
from dataclasses import dataclass

import pytest

from studio.config import Config
from studio.guards import Guard
from studio.visitors import (MCP_HEADER, Visitors, address_of, mcp_caller_header,
                             read_mcp_caller)

pytest_plugins = ["tests.app_harness"]
pytestmark = pytest.mark.timeout(180)

REAL = "203.0.113.7"


def spoof() -> str:
    """A made-up visitor address (never loopback: 127/8 would be this machine)."""
    first = random.choice([n for n in range(1, 224) if n != 127])
    return f"{first}.{random.randint(0, 255)}.{random.randint(0, 255)}.9"


# --- reading the headers --------------------------------------------------------------------

def test_a_made_up_first_entry_is_ignored_behind_one_trusted_proxy():
    for _ in range(20):
        assert address_of("10.1.2.3", {"x-forwarded-for": f"{spoof()}, {REAL}"},
                          trust_proxy_headers=True) == REAL


def test_the_nth_entry_from_the_right_with_more_proxies():
    header = {"x-forwarded-for": f"{spoof()}, {spoof()}, {REAL}, 10.0.0.2"}
    assert address_of("10.0.0.3", header, trust_proxy_headers=True, hops=2) == REAL


def test_several_header_lines_are_read_as_one_list():
    class Headers:
        def getlist(self, name):
            return [spoof(), REAL] if name == "x-forwarded-for" else []
    assert address_of("10.0.0.3", Headers(), trust_proxy_headers=True) == REAL


def test_fewer_entries_than_proxies_counts_the_peer():
    assert address_of("10.0.0.3", {"x-forwarded-for": REAL}, trust_proxy_headers=True,
                      hops=2) == "10.0.0.3"


def test_without_trusted_proxies_the_header_is_ignored():
    assert address_of("198.51.100.4", {"x-forwarded-for": spoof()},
                      trust_proxy_headers=False) == "198.51.100.4"


def test_a_peer_uvicorn_rewrote_from_the_header_counts_as_loopback():
    # uvicorn trusting loopback would have made the peer the header's last entry.
    made_up = spoof()
    assert address_of(made_up, {"x-forwarded-for": made_up},
                      trust_proxy_headers=False) == "127.0.0.1"


def test_ipv6_visitors_are_counted_per_64_and_ports_dropped():
    a = address_of("2001:db8:1:2::1", {}, trust_proxy_headers=False)
    b = address_of("2001:db8:1:2:ffff::9", {}, trust_proxy_headers=False)
    assert a == b == "2001:db8:1:2::/64"
    assert address_of("10.0.0.1", {"x-forwarded-for": "[2001:db8::1]:443"},
                      trust_proxy_headers=True) == "2001:db8::/64"
    assert address_of("10.0.0.1", {"x-forwarded-for": "198.51.100.9:5555"},
                      trust_proxy_headers=True) == "198.51.100.9"


def test_junk_in_the_header_falls_back_to_the_peer():
    assert address_of("10.0.0.1", {"x-forwarded-for": "evil, not-an-ip"},
                      trust_proxy_headers=True) == "10.0.0.1"


def test_only_a_header_this_process_signed_names_an_mcp_caller():
    good = mcp_caller_header(REAL, "abc")
    assert read_mcp_caller(good) == (REAL, "abc")
    payload, signature = good.split(".")
    forged = mcp_caller_header(spoof(), "abc").split(".")[0] + "." + signature
    for bad in (forged, payload + ".00", "", "x", good + ".x"):
        assert read_mcp_caller(bad) is None


@dataclass
class FakeRequest:
    headers: dict
    client: object = None


def test_a_forged_mcp_header_is_just_ignored():
    visitors = Visitors(Config())
    peer = type("Peer", (), {"host": "198.51.100.4"})()
    forged = FakeRequest({MCP_HEADER: "e30." + "0" * 64}, peer)
    assert visitors.identify(forged, "tab").address == "198.51.100.4"
    vouched = FakeRequest({MCP_HEADER: mcp_caller_header(REAL, "s1")}, peer)
    assert visitors.identify(vouched, "tab").address == REAL
    assert visitors.identify(vouched, "tab").session == "mcp-s1"


# --- the running app --------------------------------------------------------------------------

@pytest.fixture
def capped(live_app, app_sim, monkeypatch):
    """The live app with an hourly cap of 3 and proxy headers trusted or not."""
    page = live_app.app.page
    pace = live_app.state.pace
    live_app.state.configure(pace=0)  # instant runs: only admission matters here

    def set_up(trust: bool, per_hour: int = 3):
        monkeypatch.setattr(page, "guard", Guard(Config(
            runs_per_session=1, max_concurrent_runs=8, runs_per_client_per_hour=per_hour)))
        monkeypatch.setattr(page, "visitors", Visitors(Config(trust_proxy_headers=trust)))
        monkeypatch.setattr(page.visitors, "hops", 1)
        return page
    yield set_up
    live_app.state.configure(pace=pace)
    Visitors(live_app.app.CONFIG)  # the app's own settings for MCP again


def api_call(live_app, headers):
    from gradio_client import Client

    client = Client(live_app.url, verbose=False, analytics_enabled=False, headers=headers)
    try:
        return client.predict([], "a red bicycle", 256, 256, 2, 1, "png",
                              api_name="/generate")
    except Exception as exc:  # noqa: BLE001 — the refusal, as the caller sees it
        return exc
    finally:
        client.close()


def test_made_up_forwarded_addresses_do_not_dodge_the_hourly_cap(live_app, capped):
    capped(trust=True)
    before = live_app.state.run_calls
    # Each caller writes a new first entry; the (pretend) proxy appends the address it saw.
    results = [api_call(live_app, {"X-Forwarded-For": f"{spoof()}, {REAL}"}) for _ in range(5)]
    assert live_app.state.run_calls - before == 3
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(refused) == 2 and "runs for the hour" in str(refused[0])
    # Someone else behind the same proxy is not affected.
    assert not isinstance(api_call(live_app, {"X-Forwarded-For": "198.51.100.20"}), Exception)


def test_with_trust_off_the_header_counts_for_nothing(live_app, capped):
    capped(trust=False)
    before = live_app.state.run_calls
    for _ in range(5):
        api_call(live_app, {"X-Forwarded-For": spoof()})
    assert live_app.state.run_calls - before == 3


def test_a_refused_api_call_writes_one_plain_log_line(live_app, capped, caplog, capfd):
    capped(trust=False, per_hour=1)
    api_call(live_app, {})
    caplog.clear()
    capfd.readouterr()
    with caplog.at_level("INFO"):
        refused = api_call(live_app, {})
    printed = capfd.readouterr()
    assert "Traceback" not in printed.err + printed.out
    assert isinstance(refused, Exception)
    text = str(refused)
    assert "nothing was charged" in text and "runs for the hour" in text
    assert "charged.You" not in text.replace("\n", " ") and "charged. You" in " ".join(
        text.split())
    ours = [r for r in caplog.records if r.name == "studio.admission"]
    assert len(ours) == 1 and "runs for the hour" in ours[0].getMessage()
    assert not any("Traceback" in r.getMessage() or r.exc_info for r in caplog.records)


# --- MCP ------------------------------------------------------------------------------------

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamablehttp_client  # noqa: E402


def _from(source: str | None):
    """An httpx client factory whose connections come from `source` (127.0.0.2, …: on Linux
    the whole of 127/8 is this machine), so MCP callers can have addresses of their own."""
    import httpx

    def factory(headers=None, timeout=None, auth=None):
        transport = httpx.AsyncHTTPTransport(local_address=source) if source else None
        return httpx.AsyncClient(headers=headers, timeout=timeout, auth=auth,
                                 transport=transport, follow_redirects=True)
    return factory


async def _mcp_generate(url: str, headers: dict, seed: int, source: str | None = None):
    async with streamablehttp_client(url, headers=headers, timeout=60, sse_read_timeout=120,
                                     httpx_client_factory=_from(source)) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            return await session.call_tool("generate", {
                "inputImage": [], "prompt": "a lighthouse", "width": 256, "height": 256,
                "safetyTolerance": 2, "seed": seed, "outputFormat": "png"})


def mcp_calls(live_app, headers_list, sources=None):
    """The calls at the same time, each from its own MCP client."""
    url = f"{live_app.url}/gradio_api/mcp/"
    sources = sources or [None] * len(headers_list)

    async def together():
        return await asyncio.gather(*[_mcp_generate(url, h, n, source)
                                      for n, (h, source) in enumerate(zip(headers_list,
                                                                          sources))])
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, together()).result()


def test_spoofed_headers_through_mcp_do_not_dodge_the_cap(live_app, capped):
    capped(trust=False)
    before = live_app.state.run_calls
    for _ in range(5):
        mcp_calls(live_app, [{"X-Forwarded-For": spoof()}])
    assert live_app.state.run_calls - before == 3


def test_two_mcp_callers_at_once_do_not_refuse_each_other(live_app, capped):
    # Each caller has its own address; Gradio's MCP server calls the app back from 127.0.0.1
    # for both, which used to make them one visitor with one run for the hour.
    capped(trust=False, per_hour=1)
    live_app.state.configure(pace=0.3)  # both runs overlap
    results = mcp_calls(live_app, [{}, {}], sources=["127.0.0.2", "127.0.0.3"])
    assert [r.isError for r in results] == [False, False], [r.content for r in results]
    # Each has used its own hour's run, and only its own.
    [again] = mcp_calls(live_app, [{}], sources=["127.0.0.2"])
    assert again.isError and "runs for the hour" in again.content[0].text
    [other] = mcp_calls(live_app, [{}], sources=["127.0.0.4"])
    assert not other.isError
