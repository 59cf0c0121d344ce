"""Url sources: the real HTTP code against a local server that replays recorded arXiv API and
Hugging Face daily papers responses — retries, timeouts, paging, rate limits, the cache,
offline runs, malformed bodies — and a `digest build` of a site whose sources are URLs."""

from __future__ import annotations

import datetime as dt
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner
from conftest import REPO, SiteFactory

from digest.cli import main
from digest.config import load_config
from digest.fetch import (
    CACHE_DIR,
    USER_AGENT,
    Fetched,
    Fetcher,
    HttpCache,
    Policy,
    RateLimiter,
    fetch_sources,
    join_feeds,
    parse_arxiv_page,
    plan_source,
)

FORMATS = REPO / "tests" / "fixtures" / "formats"
ARXIV_PAGE = (FORMATS / "arxiv_api_2026_cs_lg_ai_brevio.xml").read_bytes()  # 20 entries
ARXIV_PAGE_2 = (FORMATS / "arxiv_api_2026_q_testing_body.xml").read_bytes()  # 10 entries
HF_DAY = dt.date(2026, 8, 13)
HF_BODY = (FORMATS / "hf_daily_papers_2026-08-13.json").read_bytes()  # 20 items
ARXIV_TITLE = "Turning the TIDE: Cross-Architecture Distillation"
HF_TITLE = "OpenART: Scaling Agent Red Teaming"
# Every test source is impatient: no spacing, one quick retry, short timeouts.
FAST = "min_interval = 0\nretries = 1\nbackoff = 0.01\ntimeout = 2\n"


@dataclass
class Reply:
    """What the fake API answers to one request."""

    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Seen:
    """One request the fake API received."""

    path: str
    query: dict[str, str]
    at: float
    user_agent: str


Route = Callable[[dict[str, str]], Reply]


class FakeApi:
    """A real HTTP server on 127.0.0.1 (a free port) answering from per-path routes: a
    function of the query, or a list of replies given in turn (the last one repeats)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route | list[Reply]] = {}
        self.requests: list[Seen] = []
        self.stopped = threading.Event()
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.server.api = self
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,))
        self.thread.start()

    def url(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def reply(self, path: str, query: dict[str, str]) -> Reply:
        """The reply to a request (404 for an unknown path)."""
        route = self.routes.get(path)
        if route is None:
            return Reply(b'{"error": "no such route"}', 404)
        if callable(route):
            return route(query)
        return route.pop(0) if len(route) > 1 else route[0]

    def stop(self) -> None:
        """Stop serving and close the socket; the port then refuses connections."""
        if not self.stopped.is_set():
            self.stopped.set()
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


class _Server(ThreadingHTTPServer):
    # Handler threads are joined by server_close, so none outlives its test.
    daemon_threads = False
    api: FakeApi


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        api = self.server.api
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        seen = Seen(parts.path, query, time.monotonic(), self.headers.get("User-Agent", ""))
        api.requests.append(seen)
        reply = api.reply(parts.path, query)
        if reply.delay and api.stopped.wait(reply.delay):
            return
        try:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Requests to 127.0.0.1 must not go through a developer's proxy."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("DIGEST_ARXIV_API", raising=False)
    monkeypatch.delenv("DIGEST_HF_API", raising=False)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    """The fake arXiv + Hugging Face API, stopped after the test."""
    server = FakeApi()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def closed_url() -> str:
    """A URL on a local port nobody listens on: connection refused, as when offline."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def hf_route(query: dict[str, str]) -> Reply:
    """The daily papers API: the recorded 2026-08-13 listing, an API error for other days."""
    if query.get("date") == HF_DAY.isoformat():
        return Reply(HF_BODY, headers={"Content-Type": "application/json"})
    return Reply(b'{"error": "no daily papers for this date"}', 400)


def arxiv_pages(query: dict[str, str]) -> Reply:
    """Two recorded pages of one search whose feed says 30 results in all."""
    start = int(query.get("start", "0"))
    page = ARXIV_PAGE if start == 0 else ARXIV_PAGE_2
    total = b"<opensearch:totalResults>30<"
    body = page.replace(b"<opensearch:totalResults>364218<", total)
    body = body.replace(b"<opensearch:totalResults>214881<", total)
    return Reply(body, headers={"Content-Type": "application/atom+xml"})


def site(factory: SiteFactory, *sources: str, extra: str = "") -> Path:
    """A site whose [[sources]] tables are the given TOML snippets."""
    tables = "".join(f"\n[[sources]]\n{s.strip()}\n" for s in sources)
    return factory(config=f'title = "Live"\nbase_url = "https://example.org/"\n{extra}{tables}')


def fetch(root: Path, **kwargs: object) -> list[Fetched]:
    config = load_config(root / "site.toml")
    assert not config.errors, config.errors
    return fetch_sources(config, **kwargs)  # type: ignore[arg-type]


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


# --- planning: site.toml → URLs ---


def test_arxiv_categories_make_the_documented_query(site_factory: SiteFactory) -> None:
    root = site(
        site_factory,
        'name = "ml"\nkind = "arxiv"\ncategories = ["cs.LG", "cs.AI"]\nmax_results = 50',
        'name = "lg"\nurl = "arxiv:cat:cs.LG"',
        'name = "hf"\nurl = "hf:daily"',
        'name = "hf-day"\nurl = "hf:daily"\ndate = 2024-05-27',
    )
    ml, lg, hf, hf_day = load_config(root / "site.toml").sources
    assert plan_source(ml).url == (
        "https://export.arxiv.org/api/query?search_query=cat:cs.LG+OR+cat:cs.AI"
        "&sortBy=submittedDate&sortOrder=descending&start=0&max_results=50"
    )
    assert plan_source(ml).policy.min_interval == 3.0  # arXiv's own request
    assert plan_source(lg).url.startswith(
        "https://export.arxiv.org/api/query?search_query=cat:cs.LG&sortBy=submittedDate"
    )
    assert plan_source(hf).url == "https://huggingface.co/api/daily_papers"
    assert plan_source(hf, HF_DAY).url.endswith("/api/daily_papers?date=2026-08-13")
    assert plan_source(hf_day, HF_DAY).url.endswith("?date=2024-05-27")  # its own date wins
    assert ml.path == root / ".digest-cache" / "sources" / "ml"


def test_base_urls_come_from_the_environment(
    site_factory: SiteFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_ARXIV_API", "http://127.0.0.1:9/arxiv")
    monkeypatch.setenv("DIGEST_HF_API", "http://127.0.0.1:9/hf")
    root = site(
        site_factory,
        'name = "a"\nkind = "arxiv"\nquery = "ti:diffusion"\ncategories = ["cs.CV"]\ndays = 2',
        'name = "h"\nkind = "hf-daily"',
    )
    arxiv, hf = load_config(root / "site.toml").sources
    url = plan_source(arxiv, HF_DAY).url
    assert url.startswith("http://127.0.0.1:9/arxiv?search_query=ti:diffusion+AND+cat:cs.CV+AND+")
    assert "+AND+submittedDate:%5B202608120000+TO+202608132359%5D&sortBy" in url
    assert plan_source(hf, HF_DAY).url == "http://127.0.0.1:9/hf?date=2026-08-13"


def test_url_source_keys_are_validated(site_factory: SiteFactory) -> None:
    root = site(
        site_factory,
        'name = "x"\nkind = "rss"\nretries = -1\ntimeout = "soon"\nmax_result = 5',
    )
    issues = [str(i) for i in load_config(root / "site.toml").errors]
    assert any("kind: expected one of arxiv, hf-daily, url" in i for i in issues)
    assert any("retries: expected an integer >= 0" in i for i in issues)
    assert any('timeout: expected a number, got "soon"' in i for i in issues)
    assert any("max_result: unknown key (did you mean 'max_results'?)" in i for i in issues)


# --- the HTTP client against the local server ---


def test_fetch_writes_the_source_file_and_names_paper_digest(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/daily_papers"] = hf_route
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    [result] = fetch(root, date=HF_DAY)
    assert result.ok and result.written and result.entries == 20
    assert (root / ".digest-cache" / "sources" / "hf").read_bytes() == HF_BODY
    assert api.requests[0].query == {"date": "2026-08-13"}
    assert api.requests[0].user_agent == USER_AGENT
    assert USER_AGENT.startswith("paper-digest/")


def test_503_then_success_is_retried(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = [Reply(b"busy", 503), Reply(HF_BODY)]
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    [result] = fetch(root)
    assert result.ok, result.problems
    assert len(api.requests) == 2
    assert (root / ".digest-cache" / "sources" / "hf").read_bytes() == HF_BODY


def test_retry_after_is_honoured_and_backoff_doubles(api: FakeApi, tmp_path: Path) -> None:
    api.routes["/busy"] = [
        Reply(b"", 429, {"Retry-After": "7"}),
        Reply(b"", 502),
        Reply(b"", 503),
        Reply(b"[]"),
    ]
    slept: list[float] = []
    fetcher = Fetcher(HttpCache(tmp_path), limiter=RateLimiter(), sleep=slept.append)
    policy = Policy(retries=3, backoff=0.5, min_interval=0)
    assert fetcher.request(api.url("/busy"), policy) == b"[]"
    assert slept == [7.0, 1.0, 2.0]


def test_client_errors_are_not_retried(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = hf_route
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    [result] = fetch(root, date=dt.date(2020, 1, 1))
    assert len(api.requests) == 1
    [problem] = result.problems
    assert problem.severity == "error"
    assert "HTTP 400 Bad Request: no daily papers for this date" in problem.message


def test_a_slow_server_times_out_after_the_retries(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = [Reply(HF_BODY, delay=5)]
    url = api.url("/api/daily_papers")
    root = site(
        site_factory,
        f'name = "hf"\nurl = "{url}"\nmin_interval = 0\ntimeout = 0.2\nretries = 1\nbackoff = 0.01',
    )
    started = time.monotonic()
    [result] = fetch(root)
    assert time.monotonic() - started < 2
    assert len(api.requests) == 2
    [problem] = result.problems
    assert str(problem) == (
        f"hf: cannot fetch {url}: no answer within 0.2 s (after 2 tries); "
        "no cached copy to fall back on"
    )


def test_malformed_xml_is_an_error_and_the_good_copy_is_kept(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/query"] = [Reply(ARXIV_PAGE), Reply(ARXIV_PAGE[:5000])]
    url = api.url("/api/query?search_query=cat:cs.LG")
    root = site(
        site_factory, f'name = "lg"\nurl = "{url}"\nmax_results = 20\ncache_hours = 0\n{FAST}'
    )
    assert fetch(root)[0].ok
    source = root / ".digest-cache" / "sources" / "lg"
    [cached] = (root / CACHE_DIR).iterdir()
    good = cached.read_bytes()
    [result] = fetch(root)
    assert len(api.requests) == 2
    [problem] = result.problems
    assert problem.severity == "error" and problem.file == "lg"
    assert "malformed response: not well-formed XML" in problem.message
    assert problem.message.endswith("the previous copy is kept")
    assert source.read_bytes() == ARXIV_PAGE
    assert cached.read_bytes() == good


def test_arxiv_pages_are_joined_up_to_total_results(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/query"] = arxiv_pages
    root = site(
        site_factory,
        f'name = "ml"\nurl = "{api.url("/api/query")}"\ncategories = ["cs.LG", "cs.AI"]\n'
        f"max_results = 500\npage_size = 20\n{FAST}",
    )
    [result] = fetch(root)
    assert result.ok and result.entries == 30
    assert [(r.query["start"], r.query["max_results"]) for r in api.requests] == [
        ("0", "20"),
        ("20", "20"),
    ]
    assert api.requests[0].query["search_query"] == "cat:cs.LG OR cat:cs.AI"
    joined = (root / ".digest-cache" / "sources" / "ml").read_bytes()
    served = arxiv_pages({"start": "0"}).body
    assert joined.startswith(served[: served.rfind(b"</entry>")])  # arXiv's own bytes
    code, out, _ = cli("papers", "--config", str(root / "site.toml"))
    assert code == 0
    assert len(out.splitlines()) == 30
    assert ARXIV_TITLE in out and "Testing Deep Learning Models" in out


def test_pages_in_other_xml_spellings_are_joined_through_the_parser() -> None:
    legacy = (FORMATS / "arxiv_api_legacy_2016_del_maestro.xml").read_bytes()
    assert parse_arxiv_page(join_feeds([ARXIV_PAGE, legacy], 30)).entries == 30
    prefixed = (
        b'<a:feed xmlns:a="http://www.w3.org/2005/Atom"><a:entry>'
        b"<a:id>http://arxiv.org/abs/2401.00001v1</a:id></a:entry></a:feed>"
    )
    assert parse_arxiv_page(join_feeds([ARXIV_PAGE, prefixed], 21)).entries == 21


def test_gzip_responses_are_decompressed(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = [
        Reply(gzip.compress(HF_BODY), headers={"Content-Encoding": "gzip"})
    ]
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    assert fetch(root)[0].entries == 20
    assert (root / ".digest-cache" / "sources" / "hf").read_bytes() == HF_BODY


def test_requests_to_one_host_are_spaced(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/query"] = arxiv_pages
    root = site(
        site_factory,
        f'name = "ml"\nurl = "{api.url("/api/query?search_query=cat:cs.LG")}"\n'
        "max_results = 30\npage_size = 20\nmin_interval = 0.3",
    )
    assert fetch(root)[0].ok
    first, second = (r.at for r in api.requests)
    assert second - first >= 0.3  # the interval runs from the end of the first answer


def test_a_fresh_cache_entry_is_used_without_a_request(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/daily_papers"] = hf_route
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    assert fetch(root, date=HF_DAY)[0].origins == ["network"]
    again = fetch(root, date=HF_DAY)[0]
    assert again.origins == ["cache"] and not again.written
    assert len(api.requests) == 1


def test_digest_fetch_refresh_bypasses_the_cache(api: FakeApi, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = hf_route
    root = site(site_factory, f'name = "hf"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}')
    config = str(root / "site.toml")
    code, out, _ = cli("fetch", "--config", config, "--date", "2026-08-13")
    assert code == 0 and "hf: 1 URL(s) (1 network), 20 entries" in out and "(written)" in out
    code, out, _ = cli("fetch", "--config", config, "--date", "2026-08-13")
    assert code == 0 and "(1 cache)" in out and len(api.requests) == 1
    code, out, _ = cli("fetch", "--config", config, "--date", "2026-08-13", "--refresh")
    assert code == 0 and "(1 network)" in out and "(unchanged)" in out
    assert len(api.requests) == 2


def test_offline_without_a_cached_copy_is_one_clear_line(
    closed_url: str, site_factory: SiteFactory
) -> None:
    url = f"{closed_url}/api/daily_papers"
    root = site(site_factory, f'name = "Daily papers"\nurl = "{url}"\n{FAST}')
    code, out, err = cli("fetch", "--config", str(root / "site.toml"))
    assert code == 1 and out == ""
    assert err == (
        f"error: Daily papers: cannot fetch {url}: connection refused (offline, or the "
        "server is down?) (after 2 tries); no cached copy to fall back on\n"
    )


def test_offline_with_a_cached_copy_uses_it_with_a_warning(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/daily_papers"] = hf_route
    url = api.url("/api/daily_papers")
    root = site(site_factory, f'name = "hf"\nurl = "{url}"\ncache_hours = 0\n{FAST}')
    config = str(root / "site.toml")
    assert cli("fetch", "--config", config, "--date", "2026-08-13")[0] == 0
    api.stop()
    code, out, err = cli("fetch", "--config", config, "--date", "2026-08-13")
    assert code == 0 and "(1 stale)" in out
    assert err.startswith(f"warning: hf: cannot fetch {url}?date=2026-08-13: connection refused")
    assert "using the cached copy from 20" in err
    assert (root / ".digest-cache" / "sources" / "hf").read_bytes() == HF_BODY


# --- digest build ---


def test_build_fetches_url_sources_and_shows_their_papers(
    api: FakeApi, site_factory: SiteFactory
) -> None:
    api.routes["/api/query"] = arxiv_pages
    api.routes["/api/daily_papers"] = hf_route
    root = site(
        site_factory,
        f'name = "arXiv ML"\nurl = "{api.url("/api/query")}"\ncategories = ["cs.LG", "cs.AI"]\n'
        f"max_results = 20\n{FAST}",
        f'name = "HF daily"\nurl = "{api.url("/api/daily_papers")}"\n{FAST}',
    )
    code, out, err = cli("build", "--config", str(root / "site.toml"), "--date", "2026-08-13")
    assert code == 0, err
    assert out.startswith("40 papers from 2 sources, 0 problems")
    pages = "".join(p.read_text(encoding="utf-8") for p in (root / "_site").rglob("*.html"))
    assert ARXIV_TITLE in pages and HF_TITLE in pages
    assert len(api.requests) == 2
    # A second build uses the cache: no request.
    assert cli("build", "--config", str(root / "site.toml"), "--date", "2026-08-13")[0] == 0
    assert len(api.requests) == 2


def test_build_offline(api: FakeApi, closed_url: str, site_factory: SiteFactory) -> None:
    api.routes["/api/daily_papers"] = hf_route
    url = api.url("/api/daily_papers")
    root = site(site_factory, f'name = "HF daily"\nurl = "{url}"\ncache_hours = 0\n{FAST}')
    config = str(root / "site.toml")
    assert cli("build", "--config", config, "--date", "2026-08-13")[0] == 0
    api.stop()
    code, out, err = cli("build", "--config", config, "--date", "2026-08-13")
    assert code == 0, err
    assert "20 papers from 1 sources, 1 problems" in out

    gone = f"{closed_url}/api/daily_papers"
    (root / "site.toml").write_text(
        (root / "site.toml").read_text(encoding="utf-8").replace(url, gone), encoding="utf-8"
    )
    code, out, err = cli("build", "--config", config, "--date", "2026-08-13")
    assert code == 1
    assert f"HF daily: cannot fetch {gone}?date=2026-08-13: connection refused" in err
    assert "no cached copy" in err
