"""A small, polite and safe web fetcher for feeds and article pages (httpx2, synchronous).

Every request:
- goes only to http(s) addresses, and only to public IP addresses: the host name is resolved here,
  every address it resolves to is checked (loopback, private, link-local/cloud metadata, multicast,
  reserved and IPv4-mapped/embedded IPv6 forms are refused unless allowed by the policy), and the
  connection is made to the very address that was checked (the URL's host is replaced by the address;
  the Host header and TLS server name keep the name), so a second DNS answer cannot redirect it;
- follows redirects itself, at most `max_redirects`, checking each hop the same way, and stops on a loop;
- respects robots.txt (read through this same fetcher, cached per site) and its Crawl-delay;
- is paced per host (one request per host at a time, `host_interval_seconds` apart);
- has timeouts (per read, and one for the whole response), a size cap applied while streaming
  (after decompression), and accepts only text, HTML, XML (RSS/Atom) and JSON content types;
- names Byline in its User-Agent.
Failures raise FetchError subclasses whose message is one line naming the address and the reason.
Proxies from the environment are not used: they would resolve names themselves, defeating the check.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx2

from corpus.errors import BylineError
from corpus.urls import InvalidUrlError, shorten, web_url

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]

ACCEPT_ANY = "text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,text/*;q=0.8,application/json;q=0.8"
ACCEPT_FEED = "application/rss+xml,application/atom+xml,application/feed+json,application/xml;q=0.9,text/xml;q=0.9,text/html;q=0.5"
TEXT_TYPES = (
    "application/xml",
    "application/xhtml+xml",
    "application/json",
    "application/rss+xml",
    "application/atom+xml",
)
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
ROBOTS_TTL_SECONDS = 3600.0
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309 lets crawlers stop reading at 500 KiB
MAX_CRAWL_DELAY_SECONDS = 10.0
# Cloud metadata services: refused with that name (they are also link-local or private).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
NAT64_PREFIX = ipaddress.ip_network("64:ff9b::/96")


class FetchError(BylineError):
    """A page or feed could not be fetched; the message names the address and why."""


class UnsafeAddressError(FetchError):
    """The address resolves to a loopback, private, link-local, metadata, multicast or reserved IP."""


class HttpStatusError(FetchError):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class FetchTimeoutError(FetchError):
    pass


class ConnectionFailedError(FetchError):
    """DNS, TCP or TLS failure."""


class TooLargeError(FetchError):
    pass


class RedirectError(FetchError):
    pass


class UnsupportedContentError(FetchError):
    pass


class RobotsDisallowedError(FetchError):
    pass


@dataclass(frozen=True)
class FetchPolicy:
    user_agent: str
    allow_private: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    host_interval_seconds: float = 1.0

    @property
    def robots_agent(self) -> str:
        """The product token robots.txt rules are matched against ("Byline")."""
        return self.user_agent.split("/", 1)[0].split()[0] if self.user_agent.strip() else "*"


@dataclass(frozen=True)
class FetchResult:
    """What a GET returned: `url` is the address after redirects; `not_modified` for a 304."""

    url: str
    requested_url: str
    status: int
    media_type: str = ""
    charset: str | None = None
    data: bytes = b""
    etag: str | None = None
    last_modified: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def system_resolver(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the order the system gives them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def address_problem(address: IPAddress) -> str | None:
    """Why a fetch must not connect to `address`, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is None and address in NAT64_PREFIX:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            problem = address_problem(embedded)
            return f"{problem} inside an IPv6 address" if problem else None
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for test, name in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "an unspecified address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, test):
            return name
    if not address.is_global:
        return "not a public address"
    return None


class HostPacer:
    """One request per host at a time, each at least `interval` seconds after the previous one ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._slots: dict[str, tuple[threading.Lock, list[float]]] = {}

    @contextmanager
    def turn(self, host: str, interval: float) -> Iterator[None]:
        with self._lock:
            lock, next_time = self._slots.setdefault(host, (threading.Lock(), [0.0]))
        with lock:
            wait = next_time[0] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                next_time[0] = time.monotonic() + interval


@dataclass
class _Robots:
    parser: RobotFileParser | None  # None: every path allowed
    fetched_at: float
    problem: str | None = None  # set when robots.txt could not be read: everything disallowed


@dataclass
class _Response:
    status: int
    headers: httpx2.Headers
    data: bytes = b""
    media_type: str = ""
    charset: str | None = None


@dataclass
class Fetcher:
    """Thread-safe: the Discord bot's worker threads and the command line share one per process."""

    policy: FetchPolicy
    resolver: Resolver = system_resolver
    _pacer: HostPacer = field(default_factory=HostPacer, init=False)
    _robots: dict[str, _Robots] = field(default_factory=dict, init=False)
    _robots_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _client: httpx2.Client = field(init=False)

    def __post_init__(self) -> None:
        self._client = httpx2.Client(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx2.Timeout(self.policy.timeout_seconds),
            # No connection reuse: the pool is keyed by IP address, and two sites may share one.
            limits=httpx2.Limits(max_keepalive_connections=0),
        )

    def close(self) -> None:
        self._client.close()

    def get(
        self,
        url: str,
        *,
        accept: str = ACCEPT_ANY,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """GET `url`, following redirects; a 304 when `etag`/`last_modified` still match."""
        requested = url = web_url(url)
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._follow(requested, url, headers, check_robots=True, max_bytes=self.policy.max_bytes)

    def _follow(
        self, requested: str, url: str, headers: dict[str, str], check_robots: bool, max_bytes: int
    ) -> FetchResult:
        seen = {url}
        for _ in range(self.policy.max_redirects + 1):
            if check_robots:
                self._safe_addresses(url)  # refuse an unsafe host before anything, robots.txt included
                self._check_robots(url)
            response = self._exchange(url, headers, max_bytes)
            if response.status in REDIRECT_STATUSES:
                url = self._redirect_target(url, response, seen)
                continue
            return FetchResult(
                url=url,
                requested_url=requested,
                status=response.status,
                media_type=response.media_type,
                charset=response.charset,
                data=response.data,
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )
        raise RedirectError(f"{shorten(requested)}: more than {self.policy.max_redirects} redirects")

    @staticmethod
    def _redirect_target(url: str, response: _Response, seen: set[str]) -> str:
        location = response.headers.get("location", "").strip()
        if not location:
            raise RedirectError(f"{shorten(url)}: a redirect ({response.status}) without a Location")
        try:
            target = web_url(urljoin(url, location))
        except InvalidUrlError as error:
            raise RedirectError(f"{shorten(url)} redirects to an address that cannot be fetched ({error})") from None
        if target in seen:
            raise RedirectError(f"{shorten(url)}: redirect loop (back to {shorten(target)})")
        seen.add(target)
        return target

    # --- one request to one address

    def _exchange(self, url: str, headers: dict[str, str], max_bytes: int) -> _Response:
        host = _host(url)
        with self._pacer.turn(host, self._interval(url)):
            addresses = self._safe_addresses(url)
            last_error: ConnectionFailedError | None = None
            for address in addresses:
                try:
                    return self._request(url, host, address, headers, max_bytes)
                except ConnectionFailedError as error:  # try the host's next address
                    last_error = error
            assert last_error is not None
            raise last_error

    def _safe_addresses(self, url: str) -> list[IPAddress]:
        """The addresses of the URL's host, all checked; UnsafeAddressError if any of them is not allowed."""
        parts = urlsplit(url)
        host = _host(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        literal = _ip_literal(host)
        if literal is not None:
            addresses: list[IPAddress] = [literal]
        else:
            try:
                addresses = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolver(host, port)]
            except (OSError, UnicodeError, ValueError) as error:
                raise ConnectionFailedError(
                    f"{shorten(url)}: the host name {host} cannot be resolved ({error})"
                ) from None
            if not addresses:
                raise ConnectionFailedError(f"{shorten(url)}: the host name {host} has no address")
        for address in addresses:
            problem = None if self._allowed(address) else address_problem(address)
            if problem:
                where = host if literal is not None else f"{host} resolves to {address},"
                raise UnsafeAddressError(
                    f"refused to fetch {shorten(url)}: {where} {problem} "
                    "(set BYLINE_FETCH_ALLOW_PRIVATE=true to allow such addresses)"
                )
        return addresses

    def _allowed(self, address: IPAddress) -> bool:
        return self.policy.allow_private or any(address in network for network in self.policy.allowed_networks)

    def _request(self, url: str, host: str, address: IPAddress, headers: dict[str, str], max_bytes: int) -> _Response:
        original = httpx2.URL(url)
        target = original.copy_with(host=str(address))
        all_headers = {
            "User-Agent": self.policy.user_agent,
            "Host": original.netloc.decode("ascii"),
            "Accept-Encoding": "gzip, deflate",
            **headers,
        }
        extensions = {"sni_hostname": host} if original.scheme == "https" else {}
        deadline = time.monotonic() + self.policy.timeout_seconds
        try:
            with self._client.stream("GET", target, headers=all_headers, extensions=extensions) as response:
                return self._read(url, response, max_bytes, deadline)
        except httpx2.TimeoutException:
            raise FetchTimeoutError(
                f"{shorten(url)}: timed out (no answer within {self.policy.timeout_seconds:g} s)"
            ) from None
        except httpx2.ConnectError as error:
            raise ConnectionFailedError(f"{shorten(url)}: {_connect_problem(error)}") from None
        except httpx2.DecodingError as error:
            raise FetchError(f"{shorten(url)}: the response could not be decoded ({error})") from None
        except httpx2.HTTPError as error:
            raise ConnectionFailedError(f"{shorten(url)}: {_connect_problem(error)}") from None

    def _read(self, url: str, response: httpx2.Response, max_bytes: int, deadline: float) -> _Response:
        status = response.status_code
        if status in REDIRECT_STATUSES or status == 304:
            return _Response(status, response.headers)
        if status >= 400:
            raise HttpStatusError(f"{shorten(url)}: {_status_text(status, response.reason_phrase)}", status)
        if status != 200:
            raise HttpStatusError(f"{shorten(url)}: unexpected answer {status} {response.reason_phrase}", status)
        media_type, charset = _content_type(response.headers.get("content-type", ""))
        if media_type and not _is_text(media_type):
            raise UnsupportedContentError(f"{shorten(url)}: not a web page or feed (content type {media_type})")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise TooLargeError(f"{shorten(url)}: too large ({int(declared):,} bytes; the limit is {max_bytes:,})")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise TooLargeError(f"{shorten(url)}: too large (more than {max_bytes:,} bytes)")
            if time.monotonic() > deadline:
                raise FetchTimeoutError(
                    f"{shorten(url)}: timed out (the response took longer than {self.policy.timeout_seconds:g} s)"
                )
            chunks.append(chunk)
        return _Response(status, response.headers, b"".join(chunks), media_type, charset)

    # --- politeness

    def _interval(self, url: str) -> float:
        robots = self._robots.get(_site(url))
        delay = 0.0
        if robots is not None and robots.parser is not None:
            delay = float(robots.parser.crawl_delay(self.policy.robots_agent) or 0)
        return max(self.policy.host_interval_seconds, min(delay, MAX_CRAWL_DELAY_SECONDS))

    def _check_robots(self, url: str) -> None:
        robots = self._robots_for(url)
        if robots.problem:
            raise RobotsDisallowedError(f"{shorten(url)}: {robots.problem}")
        if robots.parser is not None and not robots.parser.can_fetch(self.policy.robots_agent, url):
            raise RobotsDisallowedError(f"{shorten(url)}: the site's robots.txt does not allow fetching it")

    def _robots_for(self, url: str) -> _Robots:
        site = _site(url)
        with self._robots_lock:
            cached = self._robots.get(site)
        if cached is not None and time.monotonic() - cached.fetched_at < ROBOTS_TTL_SECONDS:
            return cached
        robots = self._read_robots(site, url)
        with self._robots_lock:
            self._robots[site] = robots
        return robots

    def _read_robots(self, site: str, page_url: str) -> _Robots:
        """RFC 9309: rules from a readable robots.txt; none for a 4xx (or one that is not a text file, too
        large, or redirected too often); a 5xx means stay away for now. A site that cannot be reached
        fails the page the same way, with the page's address."""
        robots_url = site + "/robots.txt"
        fetched_at = time.monotonic()
        try:
            result = self._follow(robots_url, robots_url, {"Accept": "text/plain"}, False, ROBOTS_MAX_BYTES)
        except HttpStatusError as error:
            if 400 <= error.status < 500:
                return _Robots(None, fetched_at)
            return _Robots(None, fetched_at, problem=f"the site's robots.txt cannot be read (error {error.status})")
        except UnsafeAddressError:
            raise
        except (ConnectionFailedError, FetchTimeoutError) as error:
            reason = str(error).split(": ", 1)[-1]
            raise type(error)(f"{shorten(page_url)}: {reason}") from None
        except FetchError:
            return _Robots(None, fetched_at)
        parser = RobotFileParser(robots_url)
        parser.parse(result.data.decode(result.charset or "utf-8", errors="replace").splitlines())
        return _Robots(parser, fetched_at)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _site(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _content_type(header: str) -> tuple[str, str | None]:
    media_type, _, params = header.partition(";")
    charset = None
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.lower() == "charset" and value:
            charset = value.strip("\"' ").lower()
    return media_type.strip().lower(), charset


def _is_text(media_type: str) -> bool:
    return media_type.startswith("text/") or media_type in TEXT_TYPES or media_type.endswith(("+xml", "+json"))


def _status_text(status: int, reason: str) -> str:
    if status in (404, 410):
        return f"not found ({status} {reason})" if status == 404 else f"gone ({status} {reason})"
    if status in (401, 403):
        return f"access refused ({status} {reason})"
    if status == 429:
        return f"the site asks to slow down ({status} {reason})"
    if status >= 500:
        return f"server error ({status} {reason})"
    return f"refused ({status} {reason})"


def _connect_problem(error: Exception) -> str:
    """A short reason for a connection failure, naming TLS problems as such."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"TLS certificate not accepted ({cause.verify_message or cause.reason})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error ({cause.reason or cause})"
        cause = cause.__cause__ or cause.__context__
    text = str(error) or type(error).__name__
    if "SSL" in text or "TLS" in text:
        return f"TLS error ({text})"
    return f"could not connect ({text})"
