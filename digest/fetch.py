"""Fetch url sources (arXiv API, Hugging Face daily papers, any URL) into their source files.

A source with a ``url`` (or a ``kind``) in site.toml is fetched before it is loaded: the
response is checked (well-formed XML or JSON of the expected shape) and written, atomically,
to the source's ``path`` (default ``<site>/.digest-cache/sources/<name>``), where the usual
format readers load it. Three kinds:

- ``arxiv``: the arXiv API (``url = "arxiv:cat:cs.LG"``, or ``kind = "arxiv"`` with
  ``categories``/``query``, or an ``…/api/query`` URL), newest submissions first, paged with
  ``start``/``max_results`` up to ``max_results`` entries or the feed's ``totalResults``;
  the pages are joined into one Atom feed.
- ``hf-daily``: the Hugging Face daily papers API (``url = "hf:daily"`` or an
  ``…/api/daily_papers`` URL) for the source's ``date``, else the requested date, else today.
- ``url``: any other URL, fetched as it is.

Every response is kept in an HTTP cache (``<site>/.digest-cache/http/``, one file per URL):
an entry younger than ``cache_hours`` is used without a request, and when the network fails
an older entry is used with a warning. Requests carry a User-Agent naming paper-digest, are
spaced at least ``min_interval`` seconds apart per host (arXiv asks for 3 s), time out after
``timeout`` seconds, and are retried ``retries`` times on 429, 5xx, timeouts and connection
errors with exponential backoff from ``backoff`` seconds, or after the server's Retry-After.
The base URLs of the two APIs can be changed with ``DIGEST_ARXIV_API`` and ``DIGEST_HF_API``
(for mirrors and tests).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import gzip
import hashlib
import http.client
import json
import os
import socket
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar
from urllib.error import HTTPError, URLError
from xml.etree import ElementTree

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as parse_xml

from digest import __version__
from digest.config import Config
from digest.errors import BuildError
from digest.model import Problem, Severity
from digest.sources.base import Source

ARXIV_API = "https://export.arxiv.org/api/query"
HF_DAILY_API = "https://huggingface.co/api/daily_papers"
ARXIV_API_ENV = "DIGEST_ARXIV_API"
HF_API_ENV = "DIGEST_HF_API"
USER_AGENT = f"paper-digest/{__version__} (research-paper digest builder; Python urllib)"
CACHE_DIR = Path(".digest-cache") / "http"
KINDS = ("arxiv", "hf-daily", "url")
MAX_BODY = 64 * 1024 * 1024
MAX_WAIT = 300.0

_ATOM = "{http://www.w3.org/2005/Atom}"
_OPENSEARCH = "{http://a9.com/-/spec/opensearch/1.1/}"

T = TypeVar("T")


class FetchError(Exception):
    """A URL could not be fetched. `reachable` is False when the network or server failed
    (a stale cached copy may stand in), True when the answer itself was unusable."""

    def __init__(self, message: str, reachable: bool):
        super().__init__(message)
        self.reachable = reachable


class _Retry(Exception):
    """A failure worth another try (429, 5xx, timeout, connection error)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Policy:
    """How patiently and politely to ask for one source's URLs (site.toml keys of the same
    names). `backoff` is the first retry's wait; each next retry waits twice as long."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 2.0
    min_interval: float = 1.0
    cache_hours: float = 12.0


@dataclass(frozen=True, slots=True)
class Plan:
    """What to request for one source: its kind, first URL and, for arXiv, the paging."""

    source: Source
    kind: str
    base: str
    params: tuple[tuple[str, str], ...]
    policy: Policy
    max_results: int = 0
    page_size: int = 0

    @property
    def url(self) -> str:
        """The first (for arXiv: first page's) URL."""
        return self.page_url(0, self.page_size) if self.kind == "arxiv" else self.base

    def page_url(self, start: int, size: int) -> str:
        """The arXiv API URL of the page of `size` entries from `start` (0-based)."""
        params = [*self.params, ("start", str(start)), ("max_results", str(size))]
        return f"{self.base}?{_encode(params)}"


def _encode(params: Iterable[tuple[str, str]]) -> str:
    # arXiv's own examples keep ':' and write spaces as '+': cat:cs.LG+OR+cat:cs.AI
    return urllib.parse.urlencode(list(params), quote_via=urllib.parse.quote_plus, safe=":")


def is_remote(source: Source) -> bool:
    """Whether a source is fetched (it has a ``url`` or a ``kind``) rather than a file."""
    return bool(source.url or source.options.get("kind"))


def plan_source(source: Source, date: dt.date | None = None) -> Plan:
    """Turn a url source's settings into the requests to make.

    `date` is the requested day (``--date``); a source's own ``date`` wins over it. Raises
    `FetchError` when the settings do not make a request (an arXiv source without a query).
    """
    opts = source.options
    url = source.url or ""
    kind = opts.get("kind")
    query = ""
    if url.startswith("arxiv:"):
        kind, query, url = kind or "arxiv", url.removeprefix("arxiv:"), ""
    elif url.startswith("hf:"):
        kind, url = kind or "hf-daily", ""
    elif url and kind is None:
        path = urllib.parse.urlsplit(url).path.rstrip("/")
        kind = {"/api/query": "arxiv", "/api/daily_papers": "hf-daily"}.get(
            path[path.rfind("/api/") :] if "/api/" in path else "", "url"
        )
    kind = kind or "url"
    if kind == "url":
        if not url:
            raise FetchError('kind = "url" needs a url = "https://…"', True)
        return Plan(source, kind, url, (), _policy(opts, 1.0))
    default = ARXIV_API if kind == "arxiv" else HF_DAILY_API
    env = ARXIV_API_ENV if kind == "arxiv" else HF_API_ENV
    base, _, given = (url or os.environ.get(env) or default).partition("?")
    params = dict(urllib.parse.parse_qsl(given, keep_blank_values=True))
    if kind == "hf-daily":
        day = source.date or date
        if day is not None and "date" not in params:
            params["date"] = day.isoformat()
        url = f"{base}?{_encode(params.items())}" if params else base
        return Plan(source, kind, url, (), _policy(opts, 1.0))
    return _arxiv_plan(source, base, params, query, date)


def _policy(opts: dict[str, Any], min_interval: float) -> Policy:
    default = Policy()
    return Policy(
        timeout=float(opts.get("timeout", default.timeout)),
        retries=int(opts.get("retries", default.retries)),
        backoff=float(opts.get("backoff", default.backoff)),
        min_interval=float(opts.get("min_interval", min_interval)),
        cache_hours=float(opts.get("cache_hours", default.cache_hours)),
    )


def _arxiv_plan(
    source: Source, base: str, params: dict[str, str], query: str, date: dt.date | None
) -> Plan:
    opts = source.options
    categories = " OR ".join(f"cat:{c}" for c in opts.get("categories", ()))
    terms = [t for t in (params.pop("search_query", ""), query, opts.get("query"), categories) if t]
    days = opts.get("days")
    if days:
        last = source.date or date or dt.datetime.now(dt.UTC).date()
        first = last - dt.timedelta(days=int(days) - 1)
        terms.append(f"submittedDate:[{first:%Y%m%d}0000 TO {last:%Y%m%d}2359]")
    if not terms and not params.get("id_list"):
        raise FetchError(
            'an arXiv source needs a query: url = "arxiv:cat:cs.LG", '
            'query = "ti:diffusion" or categories = ["cs.LG"]',
            True,
        )
    search = " AND ".join(f"({t})" if len(terms) > 1 and " OR " in t else t for t in terms)
    given = params.pop("max_results", "")
    params.pop("start", None)
    wanted = int(opts.get("max_results") or (given if given.isdigit() else 0) or 100)
    ordered = [("search_query", search)] if search else []
    ordered += [
        ("sortBy", params.pop("sortBy", "submittedDate")),
        ("sortOrder", params.pop("sortOrder", "descending")),
        *params.items(),
    ]
    size = min(wanted, int(opts.get("page_size", 100)))
    return Plan(source, "arxiv", base, tuple(ordered), _policy(opts, 3.0), wanted, size)


class RateLimiter:
    """Spaces requests to one host (``host:port``): each starts at least an interval after
    the previous one ended, which is how arXiv's "one request every 3 s" is safest read."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.clock = clock
        self.sleep = sleep
        self._last: dict[str, float] = {}
        self._hosts: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def turn(self, url: str, interval: float) -> Iterator[None]:
        """Sleep until a request to `url`'s host is allowed; the request runs in the block."""
        host = urllib.parse.urlsplit(url).netloc.lower()
        with self._lock:
            host_lock = self._hosts.setdefault(host, threading.Lock())
        # Held through the request so that threads asking one host take turns.
        with host_lock:
            last = self._last.get(host)
            if last is not None:
                delay = last + interval - self.clock()
                if delay > 0:
                    self.sleep(delay)
            try:
                yield
            finally:
                self._last[host] = self.clock()


# One per process: a long-running `digest serve` or several builds stay polite together.
SHARED_LIMITER = RateLimiter()


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached response: the URL, when it was fetched (seconds since 1970) and the body."""

    url: str
    fetched_at: float
    body: bytes


class HttpCache:
    """Response bodies by URL, one file each (a JSON header line, then the body)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path_for(self, url: str) -> Path:
        """The cache file of `url`."""
        return self.folder / (hashlib.sha256(url.encode("utf-8")).hexdigest()[:40] + ".http")

    def load(self, url: str) -> CacheEntry | None:
        """The cached response for `url`, or None (absent or unreadable)."""
        try:
            header, _, body = self.path_for(url).read_bytes().partition(b"\n")
            meta = json.loads(header)
            if meta.get("url") != url:
                return None
            return CacheEntry(url, float(meta["fetched_at"]), body)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def store(self, url: str, body: bytes, fetched_at: float) -> None:
        """Keep `body` as the response for `url`, replacing the old entry atomically."""
        header = json.dumps({"fetched_at": fetched_at, "url": url}, sort_keys=True)
        write_atomic(self.path_for(url), header.encode("utf-8") + b"\n" + body)


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file in its folder and a rename, so a
    reader sees the old bytes or the new ones, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # A dot name ending .tmp: the preview server's watcher ignores it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True)
class Got(Generic[T]):
    """A parsed response and where it came from: ``network``, ``cache`` or ``stale``
    (an expired cache entry used because the network failed: `failure` says why)."""

    url: str
    body: bytes
    value: T
    origin: str
    fetched_at: float
    failure: str = ""


class Fetcher:
    """Gets URLs through the cache, the rate limiter and the retry policy."""

    def __init__(
        self,
        cache: HttpCache,
        refresh: bool = False,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
    ):
        self.cache = cache
        self.refresh = refresh
        self.limiter = limiter or SHARED_LIMITER
        self.sleep = sleep
        self.now = now

    def get(self, url: str, policy: Policy, parse: Callable[[bytes], T]) -> Got[T]:
        """`url`'s body parsed by `parse` (which raises ValueError for a bad body).

        A fresh cache entry is used without a request (unless refreshing); a fetched body
        is cached only once `parse` accepts it. Raises `FetchError`.
        """
        entry = self.cache.load(url)
        if entry and not self.refresh and self._fresh(entry, policy):
            try:
                return Got(url, entry.body, parse(entry.body), "cache", entry.fetched_at)
            except ValueError:
                entry = None  # a damaged entry is simply fetched again
        try:
            body = self.request(url, policy)
        except FetchError as exc:
            if exc.reachable or entry is None:
                raise
            try:
                value = parse(entry.body)
            except ValueError:
                raise exc from None
            return Got(url, entry.body, value, "stale", entry.fetched_at, str(exc))
        try:
            value = parse(body)
        except ValueError as exc:
            raise FetchError(f"malformed response: {exc}", True) from None
        fetched_at = self.now()
        self.cache.store(url, body, fetched_at)
        return Got(url, body, value, "network", fetched_at)

    def _fresh(self, entry: CacheEntry, policy: Policy) -> bool:
        return 0 <= self.now() - entry.fetched_at < policy.cache_hours * 3600

    def request(self, url: str, policy: Policy) -> bytes:
        """GET `url` politely, retrying with backoff; the body, or `FetchError`."""
        attempt = 0
        while True:
            try:
                with self.limiter.turn(url, policy.min_interval):
                    return _get_once(url, policy.timeout)
            except _Retry as exc:
                if attempt >= policy.retries:
                    tries = f" (after {attempt + 1} tries)" if attempt else ""
                    raise FetchError(f"{exc}{tries}", False) from None
                wait = exc.retry_after
                if wait is None:
                    wait = policy.backoff * 2**attempt
                self.sleep(min(wait, MAX_WAIT))
                attempt += 1


def _get_once(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(
        url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "gzip"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body: bytes = response.read(MAX_BODY + 1)
            encoding = response.headers.get("Content-Encoding", "")
    except HTTPError as exc:
        try:
            status, detail = exc.code, _error_detail(exc.read(64 * 1024))
            retry_after = _retry_after(exc.headers.get("Retry-After"))
        except (OSError, http.client.HTTPException):
            status, detail, retry_after = exc.code, "", None
        finally:
            exc.close()
        message = f"HTTP {status} {exc.reason}{detail}"
        if status == 429 or status >= 500:
            raise _Retry(message, retry_after)
        raise FetchError(message, True)
    except (OSError, http.client.HTTPException) as exc:
        raise _Retry(_describe(exc, timeout))
    if len(body) > MAX_BODY:
        raise FetchError(f"response larger than {MAX_BODY // 2**20} MiB", True)
    if encoding.lower() == "gzip":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError) as exc:
            raise FetchError(f"malformed gzip response: {exc}", True)
    return body


def _describe(exc: BaseException, timeout: float) -> str:
    """A network failure in a few words."""
    reason: Any = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(reason, TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused (offline, or the server is down?)"
    if isinstance(reason, socket.gaierror):
        return "cannot resolve the host name (offline?)"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds to wait: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


def _error_detail(body: bytes) -> str:
    """The message an API put in an error body (arXiv: an Atom entry; HF: {"error": …})."""
    text = body.decode("utf-8", "replace").strip()
    message = ""
    if text.startswith("<"):
        with contextlib.suppress(ElementTree.ParseError, DefusedXmlException):
            message = parse_xml(body).findtext(f"{_ATOM}entry/{_ATOM}summary") or ""
    elif text.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            message = str(json.loads(text).get("error", ""))
    message = " ".join(message.split())[:200]
    return f": {message}" if message else ""


@dataclass(frozen=True, slots=True)
class ArxivPage:
    """One parsed arXiv API page."""

    root: ElementTree.Element
    entries: int
    total: int | None


def parse_arxiv_page(body: bytes) -> ArxivPage:
    """Check an arXiv API response: a well-formed Atom feed. Raises ValueError."""
    try:
        root = parse_xml(body)
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise ValueError(f"not well-formed XML ({exc})") from None
    if root.tag != f"{_ATOM}feed":
        raise ValueError(f"expected an Atom feed, got <{root.tag}>")
    total_text = (root.findtext(f"{_OPENSEARCH}totalResults") or "").strip()
    total = int(total_text) if total_text.isdigit() else None
    return ArxivPage(root, len(root.findall(f"{_ATOM}entry")), total)


def parse_hf_daily(body: bytes) -> list[Any]:
    """Check a Hugging Face daily papers response: a JSON array. Raises ValueError."""
    value = _parse_json(body)
    if not isinstance(value, list):
        raise ValueError(f"expected a JSON array of papers, got {type(value).__name__}")
    return value


def parse_any(body: bytes) -> int | None:
    """Check a response of unknown kind: XML and JSON bodies must be well-formed."""
    start = body.lstrip()[:1]
    if start == b"<":
        try:
            parse_xml(body)
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            raise ValueError(f"not well-formed XML ({exc})") from None
    elif start in (b"[", b"{"):
        value = _parse_json(body)
        return len(value) if isinstance(value, list) else None
    return None


def _parse_json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None


@dataclass
class Fetched:
    """What fetching one source did: URLs asked, where answers came from, entries seen,
    whether the source file changed, and problems (warnings, or an error: nothing written)."""

    source: Source
    urls: list[str] = field(default_factory=list)
    origins: list[str] = field(default_factory=list)
    entries: int | None = None
    written: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the source file is usable (no error)."""
        return not any(p.severity == "error" for p in self.problems)

    def summary(self) -> str:
        """One line for ``digest fetch``."""
        counts = ", ".join(
            f"{self.origins.count(o)} {o}"
            for o in ("network", "cache", "stale")
            if o in self.origins
        )
        entries = f", {self.entries} entries" if self.entries is not None else ""
        change = "written" if self.written else "unchanged"
        return (
            f"{self.source.name}: {len(self.urls)} URL(s) ({counts}){entries} → "
            f"{self.source.path} ({change})"
        )


def _problem(source: Source, message: str, kind: str, severity: Severity = "error") -> Problem:
    return Problem(source.name, 0, message, kind, severity)


def fetch_source(plan: Plan, fetcher: Fetcher) -> Fetched:
    """Fetch one planned source and write its source file (only if the bytes changed)."""
    done = Fetched(plan.source)
    url = plan.url
    try:
        if plan.kind == "arxiv":
            body = _fetch_arxiv(plan, fetcher, done)
        else:
            parse = parse_hf_daily if plan.kind == "hf-daily" else parse_any
            done.urls.append(url)
            got: Got[Any] = fetcher.get(url, plan.policy, parse)
            _note(done, got)
            body = got.body
            if isinstance(got.value, list):
                done.entries = len(got.value)
            elif isinstance(got.value, int):
                done.entries = got.value
    except FetchError as exc:
        url = done.urls[-1] if done.urls else url
        fallback = "" if exc.reachable else "; no cached copy to fall back on"
        keep = "; the previous copy is kept" if plan.source.path.exists() else ""
        kind = "fetch-invalid" if exc.reachable else "fetch-offline"
        done.problems.append(
            _problem(plan.source, f"cannot fetch {url}: {exc}{fallback}{keep}", kind)
        )
        return done
    try:
        old = plan.source.path.read_bytes()
    except OSError:
        old = None
    if old != body:
        write_atomic(plan.source.path, body)
        done.written = True
    return done


def _note(done: Fetched, got: Got[Any]) -> None:
    done.origins.append(got.origin)
    if got.origin == "stale":
        when = dt.datetime.fromtimestamp(got.fetched_at, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        done.problems.append(
            _problem(
                done.source,
                f"cannot fetch {got.url}: {got.failure}; using the cached copy from {when}",
                "fetch-stale",
                "warning",
            )
        )


def _fetch_arxiv(plan: Plan, fetcher: Fetcher, done: Fetched) -> bytes:
    """Every page up to max_results (or totalResults), joined into one feed."""
    pages: list[Got[ArxivPage]] = []
    start = 0
    while start < plan.max_results:
        size = min(plan.page_size, plan.max_results - start)
        done.urls.append(plan.page_url(start, size))
        got = fetcher.get(done.urls[-1], plan.policy, parse_arxiv_page)
        _note(done, got)
        pages.append(got)
        start += got.value.entries
        total = got.value.total
        if total is None or start >= total or got.value.entries < size:
            if got.value.entries == 0 and total and start < total:
                done.problems.append(
                    _problem(
                        plan.source,
                        f"arXiv returned an empty page at start={start} of {total} results; "
                        f"kept the {start} entries before it",
                        "fetch-short",
                        "warning",
                    )
                )
            break
    done.entries = sum(p.value.entries for p in pages)
    return join_feeds([p.body for p in pages], done.entries)


def join_feeds(bodies: list[bytes], entries: int) -> bytes:
    """arXiv API pages as one feed: the first page with the later pages' entries inserted
    before its ``</feed>``, so arXiv's own bytes and prefixes stay as they were; when that
    does not give a feed of `entries` entries, the parsed pages are joined and serialized."""
    if len(bodies) == 1:
        return bodies[0]
    first = bodies[0]
    end = first.rfind(b"</feed>")
    parts = [first[:end]]
    for body in bodies[1:]:
        start, stop = body.find(b"<entry"), body.rfind(b"</entry>")
        if start >= 0 and stop > start:
            parts.append(body[start : stop + len(b"</entry>")] + b"\n")
    joined = b"".join([*parts, first[end:]])
    with contextlib.suppress(ValueError):
        if end >= 0 and parse_arxiv_page(joined).entries == entries:
            return joined
    roots = [parse_arxiv_page(body).root for body in bodies]
    for root in roots[1:]:
        roots[0].extend(root.findall(f"{_ATOM}entry"))
    return ElementTree.tostring(roots[0], encoding="utf-8", xml_declaration=True)


def fetch_sources(
    config: Config,
    date: dt.date | None = None,
    refresh: bool = False,
    fetcher: Fetcher | None = None,
) -> list[Fetched]:
    """Fetch every url source of the site, in site.toml order; file sources are skipped.

    `date` is the requested day (``--date``) for sources that depend on one; `refresh`
    asks the network even when the cache is fresh. Never raises for network trouble: it
    is in each result's problems.
    """
    fetcher = fetcher or Fetcher(HttpCache(config.root / CACHE_DIR), refresh)
    results = []
    for source in config.sources:
        if not is_remote(source):
            continue
        try:
            plan = plan_source(source, date)
        except FetchError as exc:
            results.append(Fetched(source, problems=[_problem(source, str(exc), "fetch-config")]))
            continue
        results.append(fetch_source(plan, fetcher))
    return results


def fetch_for_build(config: Config, date: dt.date | None = None) -> list[Problem]:
    """Fetch the url sources before a build: the warnings to show with the build's other
    problems. Raises `BuildError` (one line per failed source) when a source is unusable."""
    if not any(is_remote(s) for s in config.sources):
        return []
    results = fetch_sources(config, date)
    problems = [p for r in results for p in r.problems]
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise BuildError("\n".join(str(p) for p in errors))
    return problems
