"""The safe fetcher against a real HTTP server on 127.0.0.1.

Refusals of non-public addresses are checked before any connection: the tests assert that the server
saw no request, and every address they name is on the loopback range or is never connected to.
"""

from __future__ import annotations

import ipaddress
import threading
import time

import pytest
from werkzeug import Request, Response

from corpus.fetch import (
    ConnectionFailedError,
    Fetcher,
    FetchPolicy,
    FetchTimeoutError,
    HttpStatusError,
    RedirectError,
    RobotsDisallowedError,
    TooLargeError,
    UnsafeAddressError,
    UnsupportedContentError,
    address_problem,
)
from corpus.urls import InvalidUrlError
from tests.ingest.news_site import NewsSite

USER_AGENT = "Byline/0.1 (news question-answering bot; +https://example.org/byline)"


def fetcher(resolver=None, **policy: object) -> Fetcher:
    values = {"user_agent": USER_AGENT, "allow_private": True, "host_interval_seconds": 0.0, "timeout_seconds": 5.0}
    values.update(policy)
    if resolver is None:
        return Fetcher(FetchPolicy(**values))  # type: ignore[arg-type]
    return Fetcher(FetchPolicy(**values), resolver)  # type: ignore[arg-type]


def fixed_resolver(mapping: dict[str, list[str]], calls: list[str] | None = None):
    """Resolves only the names given (as a DNS server answering for them would)."""

    def resolve(host: str, port: int) -> list[str]:
        if calls is not None:
            calls.append(host)
        if host not in mapping:
            raise OSError(f"unknown host {host}")
        return mapping[host]

    return resolve


def test_fetches_a_page_with_a_user_agent_naming_byline(site: NewsSite) -> None:
    url = site.serve("/story", "<html><body><p>Hello</p></body></html>", headers={"ETag": '"v1"'})
    result = fetcher().get(url)
    assert result.status == 200 and result.media_type == "text/html" and b"Hello" in result.data
    assert result.etag == '"v1"'
    page = [r for r in site.requests if r.path == "/story"][0]
    assert page.headers["User-Agent"] == USER_AGENT and "Byline" in page.headers["User-Agent"]


@pytest.mark.parametrize(
    "address, problem",
    [
        ("127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.9", "private"),
        ("192.168.1.20", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.64.0.1", "not a public address"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("::1", "loopback"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("::ffff:127.0.0.1", "loopback address inside an IPv6"),
        ("::ffff:10.0.0.1", "private address inside an IPv6"),
        ("64:ff9b::a9fe:a9fe", "metadata address inside an IPv6"),
        ("2002:c0a8:0101::1", "private address inside an IPv6"),
    ],
)
def test_non_public_addresses_are_named_for_what_they_are(address: str, problem: str) -> None:
    found = address_problem(ipaddress.ip_address(address))
    assert found is not None and problem in found


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "1.1.1.1"])
def test_public_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


def test_loopback_and_localhost_are_refused_before_any_connection(site: NewsSite) -> None:
    url = site.serve("/story", "<p>secret</p>")
    safe = fetcher(allow_private=False)
    for address in (url, url.replace("127.0.0.1", "localhost"), url.replace("127.0.0.1", "[::ffff:127.0.0.1]")):
        with pytest.raises(UnsafeAddressError, match="loopback address") as refused:
            safe.get(address)
        assert "BYLINE_FETCH_ALLOW_PRIVATE=true" in str(refused.value)
    assert site.requests == [], "nothing was sent to the server, not even robots.txt"


@pytest.mark.parametrize(
    "answer, problem",
    [
        ("10.0.0.7", "a private address"),
        ("169.254.169.254", "a cloud metadata address"),
        ("fe80::1", "a link-local address"),
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused_after_dns(
    site: NewsSite, answer: str, problem: str
) -> None:
    calls: list[str] = []
    safe = fetcher(fixed_resolver({"news.internal": [answer]}, calls), allow_private=False)
    with pytest.raises(UnsafeAddressError) as refused:
        safe.get("http://news.internal/feed.xml")
    assert f"news.internal resolves to {answer}, {problem}" in str(refused.value)
    assert calls == ["news.internal"] and site.requests == []


def test_a_name_with_one_internal_address_among_public_ones_is_refused(site: NewsSite) -> None:
    safe = fetcher(fixed_resolver({"mixed.test": ["93.184.216.34", "127.0.0.1"]}), allow_private=False)
    with pytest.raises(UnsafeAddressError, match="resolves to 127.0.0.1"):
        safe.get(f"http://mixed.test:{site.server.port}/story")
    assert site.requests == []


def test_the_connection_goes_to_the_address_that_was_checked(site: NewsSite) -> None:
    """The name exists only in our resolver: reaching the server proves the checked address was used."""
    site.serve("/story", "<p>Hello</p>")
    calls: list[str] = []
    local = fetcher(fixed_resolver({"wire.test": ["127.0.0.1"]}, calls))
    result = local.get(f"http://wire.test:{site.server.port}/story")
    assert result.status == 200 and result.url == f"http://wire.test:{site.server.port}/story"
    story = [r for r in site.requests if r.path == "/story"][0]
    assert story.headers["Host"] == f"wire.test:{site.server.port}"
    assert set(calls) == {"wire.test"}


def test_every_redirect_hop_is_checked_before_connecting(site: NewsSite) -> None:
    """Only 127.0.0.1 is allowed: a redirect to another loopback address is refused without a request."""
    port = site.server.port
    site.serve("/moved", "", status=302, headers={"Location": f"http://127.0.0.2:{port}/inside"})
    allowed = fetcher(allow_private=False, allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),))
    with pytest.raises(UnsafeAddressError, match="127.0.0.2 a loopback address"):
        allowed.get(site.url("/moved"))
    assert site.page_requests() == ["/moved"]


def test_a_dns_answer_that_changes_to_an_internal_address_is_refused(site: NewsSite) -> None:
    """DNS rebinding: the first answers are allowed, a later one is not; that request is never sent."""
    site.serve("/a", "<p>first</p>")
    site.serve("/b", "<p>second</p>")
    answers = iter(["127.0.0.1"] * 3 + ["127.0.0.2"] * 10)
    allowed = fetcher(
        lambda host, port: [next(answers)],
        allow_private=False,
        allowed_networks=(ipaddress.ip_network("127.0.0.1/32"),),
    )
    base = f"http://rebind.test:{site.server.port}"
    assert allowed.get(base + "/a").status == 200  # check, robots.txt, the page: three answers of 127.0.0.1
    with pytest.raises(UnsafeAddressError, match="rebind.test resolves to 127.0.0.2"):
        allowed.get(base + "/b")
    assert site.page_requests() == ["/a"]


@pytest.mark.parametrize(
    "url, message",
    [
        ("ftp://example.org/feed.xml", "not an http:// or https:// address"),
        ("file:///etc/passwd", "not an http:// or https:// address"),
        ("javascript:alert(1)", "not an http:// or https:// address"),
        ("example.org/feed", "not an http:// or https:// address"),
        ("http:///nohost", "no host name"),
        ("http://user:secret@example.org/", "user name or password"),
    ],
)
def test_addresses_that_are_not_http_are_refused(url: str, message: str) -> None:
    with pytest.raises(InvalidUrlError, match=message):
        fetcher().get(url)


@pytest.mark.parametrize(
    "status, message",
    [(404, "not found (404"), (410, "gone (410"), (500, "server error (500"), (503, "server error (503")],
)
def test_http_errors_are_one_clear_line(site: NewsSite, status: int, message: str) -> None:
    url = site.serve("/broken", "oops", status=status)
    with pytest.raises(HttpStatusError) as failed:
        fetcher().get(url)
    assert failed.value.status == status and message in str(failed.value) and str(failed.value).startswith(url)


def test_redirects_are_followed_and_loops_stopped(site: NewsSite) -> None:
    site.serve("/old", "", status=301, headers={"Location": "/new"})
    site.serve("/new", "<p>moved here</p>")
    result = fetcher().get(site.url("/old"))
    assert result.url == site.url("/new") and result.requested_url == site.url("/old")
    site.serve("/ping", "", status=302, headers={"Location": "/pong"})
    site.serve("/pong", "", status=302, headers={"Location": "/ping"})
    with pytest.raises(RedirectError, match="redirect loop"):
        fetcher().get(site.url("/ping"))
    for hop in range(4):
        site.serve(f"/hop{hop}", "", status=302, headers={"Location": f"/hop{hop + 1}"})
    with pytest.raises(RedirectError, match="more than 2 redirects"):
        fetcher(max_redirects=2).get(site.url("/hop0"))
    site.serve("/to-ftp", "", status=302, headers={"Location": "ftp://example.org/x"})
    with pytest.raises(RedirectError, match="cannot be fetched"):
        fetcher().get(site.url("/to-ftp"))


def test_only_text_html_xml_and_json_are_accepted(site: NewsSite) -> None:
    site.serve("/photo.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, content_type="image/png")
    site.serve("/archive.zip", b"PK\x03\x04", content_type="application/zip")
    for path in ("/photo.png", "/archive.zip"):
        with pytest.raises(UnsupportedContentError, match="not a web page or feed"):
            fetcher().get(site.url(path))
    for path, kind in (
        ("/f.rss", "application/rss+xml"),
        ("/f.atom", "application/atom+xml"),
        ("/f.json", "application/feed+json"),
    ):
        site.serve(path, "<x/>", content_type=kind)
        assert fetcher().get(site.url(path)).media_type == kind


def test_responses_over_the_size_cap_are_stopped_while_streaming(site: NewsSite) -> None:
    site.serve("/big", "<p>" + "x" * 50_000 + "</p>")
    with pytest.raises(TooLargeError, match="too large"):
        fetcher(max_bytes=20_000).get(site.url("/big"))

    def endless(request: Request) -> Response:  # no Content-Length: only counting while reading can stop it
        return Response((b"<p>" + b"y" * 4096 for _ in range(100)), content_type="text/html")

    site.handle("/stream", endless)
    with pytest.raises(TooLargeError, match="more than 20,000 bytes"):
        fetcher(max_bytes=20_000).get(site.url("/stream"))


def test_a_silent_server_times_out(site: NewsSite) -> None:
    release = threading.Event()

    def stall(request: Request) -> Response:
        release.wait(5)
        return Response("late", content_type="text/html")

    site.handle("/slow", stall)
    try:
        with pytest.raises(FetchTimeoutError, match="timed out"):
            fetcher(timeout_seconds=0.5).get(site.url("/slow"))
    finally:
        release.set()


def test_tls_errors_are_named(site: NewsSite) -> None:
    """https:// to a server that speaks plain HTTP: the TLS handshake fails."""
    with pytest.raises(ConnectionFailedError, match="TLS"):
        fetcher().get(site.url("/story").replace("http://", "https://"))


def test_an_unreachable_port_is_a_clear_error() -> None:
    with pytest.raises(ConnectionFailedError, match="could not connect"):
        fetcher().get("http://127.0.0.1:9/nothing-listens-here")


def test_robots_txt_is_respected(site: NewsSite) -> None:
    site.serve(
        "/robots.txt",
        "User-agent: Byline\nDisallow: /members/\n\nUser-agent: *\nDisallow:\n",
        content_type="text/plain",
    )
    site.serve("/members/story", "<p>members only</p>")
    site.serve("/news/story", "<p>open</p>")
    polite = fetcher()
    with pytest.raises(RobotsDisallowedError, match="robots.txt does not allow"):
        polite.get(site.url("/members/story"))
    assert polite.get(site.url("/news/story")).status == 200
    assert "/members/story" not in site.page_requests()
    assert site.hits("/robots.txt") == 1, "robots.txt is read once per site and kept"


def test_a_missing_robots_txt_allows_everything_and_a_failing_one_nothing(site: NewsSite) -> None:
    del site.routes["/robots.txt"]
    site.serve("/story", "<p>ok</p>")
    assert fetcher().get(site.url("/story")).status == 200
    site.serve("/robots.txt", "down", status=503)
    with pytest.raises(RobotsDisallowedError, match="robots.txt cannot be read"):
        fetcher().get(site.url("/story"))


def test_one_request_per_host_at_a_time(threaded_site: NewsSite) -> None:
    """Four threads fetch from one host at once from a server that could serve them all in parallel;
    it never sees two of them overlap."""
    state = {"now": 0, "most": 0}
    lock = threading.Lock()

    def counted(request: Request) -> Response:
        with lock:
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        return Response("<p>ok</p>", content_type="text/html")

    threaded_site.handle("/counted", counted)
    shared = fetcher()
    shared.get(threaded_site.url("/robots.txt"))  # warm robots.txt so all four go for the page
    threads = [threading.Thread(target=shared.get, args=(threaded_site.url("/counted"),)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert threaded_site.hits("/counted") == 4 and state["most"] == 1


def test_conditional_get_returns_not_modified(site: NewsSite) -> None:
    url = site.serve_feed("/feed.xml", "<rss version='2.0'><channel><title>T</title></channel></rss>")
    first = fetcher().get(url)
    again = fetcher().get(url, etag=first.etag, last_modified=first.last_modified)
    assert first.status == 200 and again.not_modified and again.data == b""
    conditional = [r for r in site.requests if r.path == "/feed.xml"][-1]
    assert conditional.headers["If-None-Match"] == first.etag
