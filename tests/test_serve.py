"""`digest serve`: the real preview server on a free loopback port, watched files edited
while it runs, observed over HTTP and through the live-reload event stream."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import http.client
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DEMO_DATE, SiteFactory

from digest.build import build
from digest.cli import main
from digest.model import Paper
from digest.serve import (
    SCRIPT_URL,
    Collector,
    PreviewServer,
    ServeError,
    SourceCache,
    content_type,
    inject,
    json_for_script,
    live_snippet,
    request_path,
)
from digest.sources.base import Source
from digest.watch import Debouncer, PollingWatcher, ignored

BOUND = 10.0  # seconds: generous for a loaded CI machine; bench/bench_serve.py measures speed

# A site-local reader, so these tests need no built-in reader or plugin: one paper per line
# as JSON. With a file named "slow" next to site.toml, running the plugins takes 0.6 s.
READER = """
import json
import time
from pathlib import Path

from digest.hookspecs import hookimpl
from digest.model import Paper, Problem


class Reader:
    name = "serve-jsonl"
    description = "test reader"

    def sniff(self, head, path):
        return 0

    def read(self, lines, source):
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                yield Paper.from_json(json.loads(line))
            except ValueError as exc:
                yield Problem(source.label, number, f"bad JSON: {exc}", "bad-json", "error")


@hookimpl
def digest_readers():
    return [Reader()]


@hookimpl
def digest_papers(papers, site):
    if (site.config.root / "slow").exists():
        time.sleep(0.6)
"""

CONFIG = """\
title = "Serve test"
base_url = "https://example.org/"
about = "about.md"
theme_dir = "theme"
page_size = 5

[plugins]
enabled = []
local = ["reader"]

[[sources]]
name = "alpha"
path = "data/alpha.jsonl"
format = "serve-jsonl"

[[sources]]
name = "beta"
path = "data/beta.jsonl"
format = "serve-jsonl"
"""

PAPER_TEMPLATE = """\
{% extends "default:paper.html" %}
{% block content %}<p class="marker">MARK-1</p>{{ super() }}{% endblock %}
"""


def paper(n: int, title: str | None = None) -> str:
    record = {
        "title": title or f"Paper number {n}",
        "authors": [f"Author {n}"],
        "abstract": f"Abstract of paper {n}.",
        "date": (dt.date(2025, 10, 1) + dt.timedelta(days=n % 28)).isoformat(),
        "arxiv_id": f"2510.{n:05d}",
        "sightings": [{"source": "alpha" if n < 100 else "beta", "position": n % 100 + 1}],
    }
    return json.dumps(record) + "\n"


def listing(numbers: range, **titles: str) -> str:
    return "".join(paper(n, titles.get(f"p{n}")) for n in numbers)


@pytest.fixture
def site(site_factory: SiteFactory) -> Path:
    """A small site: two sources, a theme override of paper.html, an about page."""
    return site_factory(
        config=CONFIG,
        files={
            "plugins/reader.py": READER,
            "data/alpha.jsonl": listing(range(1, 9)),
            "data/beta.jsonl": listing(range(100, 104)),
            "theme/templates/paper.html": PAPER_TEMPLATE,
            "theme/static/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>',
            "theme/static/font.woff2": b"wOF2\x00\x01fake",
            "theme/static/data.json": '{"a": 1}',
            "about.md": "# About\n\nABOUT-1\n",
        },
    )


def wait_until(predicate: Callable[[], Any], timeout: float = BOUND, what: str = "") -> Any:
    """Poll `predicate` until it is truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.01)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


class EventStream:
    """A raw Server-Sent Events client (its own socket, so closing it is immediate)."""

    def __init__(self, port: int):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=BOUND)
        self.sock.sendall(b"GET /__digest__/events HTTP/1.1\r\nHost: test\r\n\r\n")
        self.file = self.sock.makefile("rb")
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.headers: list[bytes] = []
        while (line := self.file.readline()) not in (b"\r\n", b""):
            self.headers.append(line)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        name = None
        try:
            for raw in self.file:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    name = line[len("event: ") :]
                elif line.startswith("data: ") and name:
                    self.events.put((name, json.loads(line[len("data: ") :])))
        except (OSError, ValueError):
            pass

    def next(self, name: str, timeout: float = BOUND) -> Any:
        """The data of the next event called `name` (others are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no {name!r} event within {timeout} s")
            try:
                got, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if got == name:
                return data

    def drain(self) -> None:
        while not self.events.empty():
            self.events.get_nowait()

    def close(self) -> None:
        # shutdown() wakes the reader thread blocked in recv; close() alone may not.
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.thread.join(timeout=5)
        self.file.close()
        self.sock.close()


class Running:
    """A started preview server and helpers to talk to it."""

    def __init__(self, server: PreviewServer, logs: list[str]):
        self.server = server
        self.logs = logs
        assert server.httpd is not None
        self.port = int(server.httpd.server_address[1])
        self.streams: list[EventStream] = []

    @property
    def preview(self) -> Any:
        assert self.server.preview is not None
        return self.server.preview

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=BOUND)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            conn.close()

    def text(self, path: str) -> str:
        status, _, body = self.get(path)
        assert status == 200, (path, status)
        return body.decode("utf-8")

    def events(self) -> EventStream:
        stream = EventStream(self.port)
        self.streams.append(stream)
        stream.next("hello")
        return stream

    def idle(self) -> dict[str, Any]:
        """Wait for the builder to finish: every page rendered, no change waiting."""

        def done() -> dict[str, Any] | None:
            status = self.preview.status()
            quiet = not self.server.debouncer.pending() and status["state"] == "idle"
            return status if quiet and status["rendered"] else None

        return wait_until(done, what="the builder to go idle")

    def close(self) -> None:
        for stream in self.streams:
            stream.close()


@pytest.fixture
def serving(site: Path) -> Iterator[Callable[..., Running]]:
    """Start the preview server for `site` (or another config) in this process."""
    started: list[tuple[Any, Running]] = []

    def start(config: Path | None = None, **kwargs: Any) -> Running:
        logs: list[str] = []
        server = PreviewServer(
            config or site / "site.toml", port=0, date=DEMO_DATE, log=logs.append, **kwargs
        )
        context = server.running()
        context.__enter__()
        running = Running(server, logs)
        started.append((context, running))
        return running

    yield start
    for context, running in reversed(started):
        running.close()
        context.__exit__(None, None, None)


# --------------------------------------------------------------------------- live reload


def test_template_change_reloads_and_serves_new_page(serving: Any, site: Path) -> None:
    app = serving()
    assert "MARK-1" in app.text("/papers/2510.00001/")
    events = app.events()
    loads = app.preview.sources.loads
    edit(site / "theme/templates/paper.html", "MARK-1", "MARK-2")
    started = time.monotonic()
    reload = events.next("reload")
    assert reload["build"] == app.preview.build_id
    assert reload["changed"] == ["theme/templates/paper.html"]
    page = app.text("/papers/2510.00001/")
    assert "MARK-2" in page and "MARK-1" not in page
    assert time.monotonic() - started < BOUND
    assert app.preview.sources.loads == loads, "a template change must not re-read sources"


def test_source_change_rereads_only_that_source(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    app.idle()
    loads = app.preview.sources.loads
    (site / "data/beta.jsonl").write_text(
        listing(range(100, 104), p101="A renamed paper"), encoding="utf-8"
    )
    events.next("reload")
    assert "A renamed paper" in app.text("/papers/2510.00101/")
    assert app.preview.sources.loads == loads + 1, "only the changed source is read again"
    # Saving a file with the same bytes rebuilds (the mtime changed) but reads nothing.
    (site / "data/beta.jsonl").write_text(
        listing(range(100, 104), p101="A renamed paper"), encoding="utf-8"
    )
    events.next("reload")
    assert app.preview.sources.loads == loads + 1


def test_added_and_removed_papers_appear_and_disappear(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    (site / "data/alpha.jsonl").write_text(listing(range(1, 8)) + paper(50), encoding="utf-8")
    events.next("reload")
    assert "Paper number 50" in app.text("/papers/2510.00050/")
    status, _, body = app.get("/papers/2510.00008/")
    assert status == 404 and b"Page not found" in body
    app.idle()
    assert not (app.server.outdir / "papers/2510.00008").exists()


def test_about_page_change(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    edit(site / "about.md", "ABOUT-1", "ABOUT-2")
    events.next("reload")
    assert "ABOUT-2" in app.text("/about/")


def test_unchanged_output_files_are_not_rewritten(serving: Any, site: Path) -> None:
    app = serving()
    app.idle()
    out = app.server.outdir
    home, paper_page = out / "index.html", out / "papers/2510.00001/index.html"
    before = {p: p.stat().st_mtime_ns for p in (home, paper_page, out / "feed.xml")}
    time.sleep(0.02)  # mtime granularity
    edit(site / "theme/templates/paper.html", "MARK-1", "MARK-3")
    wait_until(lambda: "MARK-3" in app.text("/papers/2510.00001/"))
    app.idle()
    assert paper_page.stat().st_mtime_ns != before[paper_page]
    assert home.stat().st_mtime_ns == before[home], "the home page does not use paper.html"
    assert (out / "feed.xml").stat().st_mtime_ns == before[out / "feed.xml"]


def test_quick_saves_cause_one_rebuild(serving: Any, site: Path) -> None:
    app = serving(debounce=0.3)  # wider than the default, so a slow CI step cannot split it
    app.idle()
    rebuilds = app.preview.rebuilds
    template = site / "theme/templates/paper.html"
    for n in range(2, 7):
        edit(template, f"MARK-{n - 1}", f"MARK-{n}")
        time.sleep(0.02)
    wait_until(lambda: "MARK-6" in app.text("/papers/2510.00001/"))
    app.idle()
    time.sleep(0.3)  # long enough for a stray second rebuild to start
    assert app.preview.rebuilds == rebuilds + 1


def test_changes_during_a_rebuild_cause_exactly_one_more(serving: Any, site: Path) -> None:
    app = serving()
    app.idle()
    (site / "slow").touch()  # the plugins now take 0.6 s
    rebuilds = app.preview.rebuilds
    (site / "data/alpha.jsonl").write_text(listing(range(1, 9), p2="First edit"), "utf-8")
    wait_until(lambda: app.preview.state == "building", what="the rebuild to start")
    for n in range(3):
        (site / "data/alpha.jsonl").write_text(listing(range(1, 9), p2=f"Edit {n}"), "utf-8")
        time.sleep(0.05)
    wait_until(lambda: "Edit 2" in app.text("/papers/2510.00002/"))
    app.idle()
    time.sleep(0.3)
    assert app.preview.rebuilds == rebuilds + 2


# --------------------------------------------------------------------------- errors


def test_broken_template_keeps_last_good_site_and_shows_overlay(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    template = site / "theme/templates/paper.html"
    template.write_text(PAPER_TEMPLATE + "{% if %}\n", encoding="utf-8")
    problems = events.next("problems")
    assert len(problems) == 1
    assert problems[0]["file"] == "theme/templates/paper.html"
    assert problems[0]["line"] == 3
    assert problems[0]["message"]
    page = app.text("/papers/2510.00001/")
    assert "MARK-1" in page, "the last good page is still served"
    assert 'id="digest-live-problems"' in page and "theme/templates/paper.html" in page
    assert app.preview.status()["problems"] == problems

    template.write_text(PAPER_TEMPLATE.replace("MARK-1", "MARK-FIXED"), encoding="utf-8")
    assert events.next("problems") == []
    events.next("reload")
    page = app.text("/papers/2510.00001/")
    assert "MARK-FIXED" in page and "digest-live-problems" not in page


def test_template_runtime_error_is_reported_with_its_line(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    (site / "theme/templates/paper.html").write_text(
        PAPER_TEMPLATE + "{% block title %}{{ no_such_variable.x }}{% endblock %}\n", "utf-8"
    )
    problems = events.next("problems")
    assert problems[0]["file"] == "theme/templates/paper.html"
    assert problems[0]["line"] == 3
    assert "no_such_variable" in problems[0]["message"]
    assert "MARK-1" in app.text("/papers/2510.00001/")


def test_a_source_edit_that_breaks_a_page_is_reported_and_the_old_page_served(
    serving: Any, site: Path
) -> None:
    """After a source edit, pages are rendered when asked for (no sample first): one the
    new papers break is reported with its line, and its last good version stays served."""
    (site / "theme/templates/paper.html").write_text(
        PAPER_TEMPLATE + '{% block title %}{% if "BOOM" in paper.abstract %}{{ nope.x }}'
        "{% endif %}{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    app = serving()
    events = app.events()
    assert "MARK-1" in app.text("/papers/2510.00003/")
    edit(site / "data/alpha.jsonl", "Abstract of paper 3.", "BOOM abstract of paper 3.")
    events.next("reload")
    page = app.text("/papers/2510.00003/")
    assert "MARK-1" in page and "BOOM" not in page, "the last good page is still served"
    problems = wait_until(lambda: app.preview.status()["problems"], what="the problem")
    assert problems[0]["file"] == "theme/templates/paper.html"
    assert problems[0]["line"] == 3 and "nope" in problems[0]["message"]
    edit(site / "data/alpha.jsonl", "BOOM abstract of paper 3.", "Fixed abstract of paper 3.")
    events.next("reload")
    assert "Fixed abstract" in app.text("/papers/2510.00003/")
    assert wait_until(lambda: not app.preview.status()["problems"], what="no problems")


def test_broken_config_and_source_are_reported_and_cleared(serving: Any, site: Path) -> None:
    app = serving()
    events = app.events()
    config = site / "site.toml"
    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace('title = "Serve test"', 'title = "Serve test'), "utf-8")
    problems = events.next("problems")
    assert problems[0]["file"].endswith("site.toml") and problems[0]["line"] == 1
    assert "Serve test" in app.text("/")

    config.write_text(good.replace("Serve test", "Renamed site"), encoding="utf-8")
    assert events.next("problems") == []
    events.next("reload")
    assert "Renamed site" in app.text("/")

    source = site / "data/alpha.jsonl"
    lines = source.read_text(encoding="utf-8")
    source.write_text(lines + "{not json\n", encoding="utf-8")
    problems = events.next("problems")
    assert problems == [{"file": "data/alpha.jsonl", "line": 9, "message": problems[0]["message"]}]
    assert "bad JSON" in problems[0]["message"]
    source.write_text(lines, encoding="utf-8")
    assert events.next("problems") == []


def test_a_first_build_that_fails_serves_an_error_page_until_fixed(
    serving: Any, site: Path
) -> None:
    template = site / "theme/templates/paper.html"
    template.write_text("{% block %}", encoding="utf-8")
    app = serving()
    status, _headers, body = app.get("/")
    assert status == 404 and b"Waiting for a successful build" in body
    assert b"digest-live-problems" in body and b"paper.html" in body
    events = app.events()
    template.write_text(PAPER_TEMPLATE, encoding="utf-8")
    events.next("reload")
    assert "Serve test" in app.text("/")


# --------------------------------------------------------------------------- serving


def raw_request(port: int, target: str) -> tuple[int, bytes]:
    """Send a request line as is (no client-side normalization); status and body."""
    with socket.create_connection(("127.0.0.1", port), timeout=BOUND) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data.split(b"\r\n\r\n", 1)[1]


def test_paths_outside_the_output_folder_are_refused(serving: Any, site: Path) -> None:
    app = serving()
    out = app.server.outdir
    (out.parent / "secret.txt").write_text("SECRET", encoding="utf-8")
    (out / "leak").symlink_to(out.parent)
    (out / "leak.txt").symlink_to(out.parent / "secret.txt")
    (out / "etc").symlink_to("/etc")
    targets = [
        "/../secret.txt",
        "/../../../../etc/passwd",
        "/%2e%2e/secret.txt",
        "/%2E%2E/%2E%2E/etc/passwd",
        "/papers/..%2f..%2fsecret.txt",
        "/papers/%2e%2e/%2e%2e/secret.txt",
        "/.%2e/secret.txt",
        "//etc/passwd",
        "/etc/passwd",
        "/" + str(out.parent / "secret.txt"),
        "http://127.0.0.1/../secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "/secret.txt%00.html",
        "/%c0%ae%c0%ae/secret.txt",
        "/leak/secret.txt",
        "/leak.txt",
        "/leak/",
        "/__digest__/../secret.txt",
        "secret.txt",
    ]
    for target in targets:
        status, body = raw_request(app.port, target)
        assert status in (403, 404), (target, status)
        assert b"SECRET" not in body and b"root:" not in body, target


def test_content_types(serving: Any, site: Path) -> None:
    app = serving()
    app.idle()
    out = app.server.outdir
    static = {p.name.split(".")[0] + p.suffix: p.name for p in (out / "static").iterdir()}
    expected = {
        "/": "text/html; charset=utf-8",
        "/feed.xml": "application/xml",
        "/sitemap.xml": "application/xml",
        "/robots.txt": "text/plain; charset=utf-8",
        f"/static/{static['style.css']}": "text/css; charset=utf-8",
        f"/static/{static['digest.js']}": "text/javascript; charset=utf-8",
        f"/static/{static['logo.svg']}": "image/svg+xml",
        f"/static/{static['font.woff2']}": "font/woff2",
        f"/static/{static['data.json']}": "application/json",
        "/__digest__/live.js": "text/javascript; charset=utf-8",
        "/__digest__/status": "application/json",
    }
    for path, ctype in expected.items():
        status, headers, _ = app.get(path)
        assert (status, headers["Content-Type"]) == (200, ctype), path
        # Files named by their content hash may be cached; nothing else may.
        hashed = path.startswith("/static/")
        assert ("immutable" in headers["Cache-Control"]) == hashed, path
        assert (headers["Cache-Control"] == "no-store") != hashed, path
    assert content_type("x.woff") == "font/woff" and content_type("x.map") == "application/json"
    # Pages name the live-reload script by a content-versioned URL, which may be cached.
    assert f'src="{SCRIPT_URL}"' in app.text("/")
    status, headers, body = app.get(SCRIPT_URL)
    assert status == 200 and "immutable" in headers["Cache-Control"] and b"EventSource" in body


def test_directories_index_redirects_and_404(serving: Any, site: Path) -> None:
    app = serving()
    app.idle()
    status, headers, _ = app.get("/papers/2510.00001")
    assert status == 302 and headers["Location"] == "/papers/2510.00001/"
    status, headers, _ = app.get("/about?x=1")
    assert status == 302 and headers["Location"] == "/about/?x=1"
    assert "ABOUT-1" in app.text("/about/index.html")
    status, _, body = app.get("/papers/")  # a folder without index.html: no listing
    assert status == 404 and b"2510.00001" not in body
    status, headers, body = app.get("/no/such/page/")
    assert status == 404 and headers["Content-Type"].startswith("text/html")
    assert b"Page not found" in body and b"/__digest__/live.js" in body
    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=BOUND)
    try:
        conn.request("HEAD", "/")
        response = conn.getresponse()
        assert response.status == 200 and response.read() == b""
        assert int(response.getheader("Content-Length") or 0) > 0
    finally:
        conn.close()


def test_livereload_is_only_in_served_html(serving: Any, site: Path, tmp_path: Path) -> None:
    app = serving()
    app.idle()
    assert "/__digest__/live.js" in app.text("/")
    assert b"__digest__" not in app.get("/feed.xml")[2]
    for file in app.server.outdir.rglob("*"):
        if file.is_file():
            assert b"__digest__" not in file.read_bytes(), file
    built = build(site / "site.toml", outdir=tmp_path / "built", date=DEMO_DATE)
    for file in built.outdir.rglob("*"):
        if file.is_file():
            assert b"__digest__" not in file.read_bytes(), file


def test_no_livereload_option(serving: Any) -> None:
    app = serving(livereload=False)
    assert "__digest__" not in app.text("/")


def test_served_site_is_the_built_site(serving: Any, site: Path, tmp_path: Path) -> None:
    """The preview renders page by page and in the background; the result must be exactly
    what `digest build` writes, file for file."""
    app = serving()
    wait_until(lambda: app.idle() and app.preview.status()["search"] == "ready")
    built = build(site / "site.toml", outdir=tmp_path / "built", date=DEMO_DATE)

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()
        }

    served, expected = files(app.server.outdir), files(built.outdir)
    assert sorted(served) == sorted(expected)
    assert [rel for rel in served if served[rel] != expected[rel]] == []


def test_a_site_with_history_is_previewed_as_a_build_would_publish_it(
    serving: Any, site: Path, tmp_path: Path
) -> None:
    """History is read, never locked or recorded: papers earlier builds saw keep their pages
    in the preview as in a build, and the preview leaves the database as it was."""
    config = site / "site.toml"
    config.write_text('history = "history.sqlite"\n' + config.read_text("utf-8"), "utf-8")
    build(config, outdir=tmp_path / "day1", date=DEMO_DATE - dt.timedelta(days=2))
    (site / "data/alpha.jsonl").write_text(listing(range(1, 8)), encoding="utf-8")  # 8 gone
    database = site / "history.sqlite"
    recorded = database.read_bytes()

    app = serving()
    wait_until(lambda: app.idle() and app.preview.status()["search"] == "ready")
    assert "Paper number 8" in app.text("/papers/2510.00008/"), "an archived paper keeps its page"
    served = {
        p.relative_to(app.server.outdir).as_posix(): p.read_bytes()
        for p in app.server.outdir.rglob("*")
        if p.is_file()
    }
    assert database.read_bytes() == recorded, "a preview records nothing"

    built = build(config, outdir=tmp_path / "built", date=DEMO_DATE)
    expected = {
        p.relative_to(built.outdir).as_posix(): p.read_bytes()
        for p in built.outdir.rglob("*")
        if p.is_file()
    }
    assert sorted(served) == sorted(expected)
    assert [rel for rel in served if served[rel] != expected[rel]] == []


def test_concurrent_requests_and_disconnects_are_quiet(serving: Any) -> None:
    app = serving()
    app.idle()
    results: list[int] = []

    def fetch(path: str) -> None:
        results.append(app.get(path)[0])

    paths = ["/", "/about/", "/feed.xml", "/papers/2510.00001/", "/nope"] * 8
    threads = [threading.Thread(target=fetch, args=(p,)) for p in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BOUND)
    assert sorted(results) == sorted([200] * 32 + [404] * 8)
    # Browsers going away mid-response or mid-stream must not be logged as errors.
    for _ in range(5):
        with socket.create_connection(("127.0.0.1", app.port)) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    stream = app.events()
    stream.close()
    app.server.events.publish("problems", [])
    time.sleep(0.2)
    assert not [line for line in app.logs if "error" in line.lower()], app.logs
    assert not any("GET" in line for line in app.logs), "requests are logged only with -v"


def test_event_stream_headers(serving: Any) -> None:
    app = serving()
    stream = app.events()
    head = b"".join(stream.headers).lower()
    assert b"content-type: text/event-stream" in head and b"cache-control: no-store" in head


# --------------------------------------------------------------------------- starting and stopping


def test_busy_port_is_a_clear_error(site: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ServeError, match="--port"):
            PreviewServer(site / "site.toml", port=port, log=lambda m: None).start()
        result = CliRunner().invoke(main, ["serve", "--config", str(site / "site.toml"),
                                           "--port", str(port)])  # fmt: skip
    assert result.exit_code == 2
    assert f"port {port}" in result.output and "--port 0" in result.output


def test_missing_config_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["serve", "--config", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "no such file" in result.output


def test_another_host_only_with_a_warning(serving: Any) -> None:
    app = serving(host="0.0.0.0")
    assert any("reachable from other machines" in line for line in app.logs)
    assert app.server.url.startswith("http://127.0.0.1:")
    quiet = serving()
    assert not any("warning" in line for line in quiet.logs)
    assert quiet.server.httpd.server_address[0] == "127.0.0.1"


def test_ctrl_c_exits_cleanly(site: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--config", str(site / "site.toml"),
         "--port", "0", "--date", "2025-10-30"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    everything: list[str] = []

    def read() -> None:
        for line in proc.stderr or ():
            everything.append(line)
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        url = None
        deadline = time.monotonic() + BOUND
        while url is None and time.monotonic() < deadline:
            try:
                found = re.search(r"at (http://\S+)", lines.get(timeout=1))
            except queue.Empty:
                continue
            url = found.group(1) if found else None
        assert url, "the server never said where it serves"
        with urllib.request.urlopen(url, timeout=BOUND) as response:
            assert b"Serve test" in response.read()
        assert next(p.name for p in scratch.iterdir()).startswith("digest-serve-")
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=BOUND)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        if proc.stderr:
            proc.stderr.close()
    errors = "".join(everything)
    assert proc.returncode == 0, errors
    assert "Traceback" not in errors and "Warning" not in errors and "stopped" in errors
    assert list(scratch.iterdir()) == [], "the temporary output folder is removed"
    assert not _processes_mentioning(str(scratch)), "no process outlives the server"


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if text.encode() in cmdline or text.encode() in environ:
                found.append(int(entry.name))
    return found


def test_close_removes_the_temporary_folder(site: Path) -> None:
    logs: list[str] = []
    server = PreviewServer(site / "site.toml", port=0, date=DEMO_DATE, log=logs.append)
    with server.running():
        workdir = server.workdir
        assert workdir is not None
        wait_until(lambda: (workdir / "site" / "index.html").is_file(), what="the home page")
    assert not workdir.exists()


def test_garbage_collection_is_paused_while_rebuilding_and_restored_on_close(
    site: Path,
) -> None:
    """The collector is off during a rebuild, whose objects are then frozen; a full pass
    comes once the pages are rendered; closing the server leaves it as it was."""
    assert gc.isenabled() and gc.get_freeze_count() == 0
    logs: list[str] = []
    server = PreviewServer(site / "site.toml", port=0, date=DEMO_DATE, log=logs.append)
    with server.running():
        preview = server.preview
        assert preview is not None
        wait_until(lambda: preview.state == "idle", what="the first build's pages")
        assert gc.isenabled() and gc.get_freeze_count() > 0
        assert server.collector.unsettled == 0, "settled once every page was rendered"
        frozen = gc.get_freeze_count()
        with server.collector.paused():
            assert not gc.isenabled()
            junk = [[] for _ in range(1000)]
        assert gc.isenabled() and gc.get_freeze_count() >= frozen + len(junk)
        assert server.collector.unsettled == 1
        server.collector.unsettled = Collector.MAX_UNSETTLED
        with server.collector.paused():  # one rebuild too many without settling
            assert server.collector.unsettled == 0
        assert server.collector.unsettled == 1
        rebuilds = preview.rebuilds
        edit(site / "theme/templates/paper.html", "MARK-1", "MARK-2")
        # Unsettled goes 1 → 2 when the rebuild ends, and to 0 once its pages are rendered.
        wait_until(
            lambda: preview.rebuilds > rebuilds and server.collector.unsettled == 0,
            what="the rebuild and its pages",
        )
        assert gc.isenabled()
    assert gc.isenabled() and gc.get_freeze_count() == 0


# --------------------------------------------------------------------------- the pieces


def test_request_path() -> None:
    assert request_path("/a/b/?q=1#x") == "/a/b/"
    assert request_path("/a%20b") == "/a b"
    assert request_path("http://host/a/b") == "/a/b"
    for bad in ("/../x", "/%2e%2e/x", "/a/./b", "/a\\b", "/%00", "x", "/%ff", "*"):
        assert request_path(bad) is None, bad


def test_injection_and_script_json() -> None:
    page = b"<html><body><p>x</p></body>\n<!-- </body> in a comment? --></BODY></html>"
    out = inject(page, b"<S>")
    assert out.endswith(b"<S></BODY></html>")
    assert inject(b"<p>no body</p>", b"<S>") == b"<p>no body</p><S>"
    hostile = [{"file": "a</script><script>alert(1)</script>", "line": 1, "message": "&\u2028"}]
    text = json_for_script(hostile)
    assert "<" not in text and ">" not in text and "&" not in text and "\u2028" not in text
    assert json.loads(text) == hostile
    snippet = live_snippet('x"><script>', []).decode()
    assert 'data-build="x&quot;&gt;&lt;script&gt;"' in snippet


def test_source_cache_rereads_a_file_that_changed_while_read(tmp_path: Path) -> None:
    listing_file = tmp_path / "papers.jsonl"
    listing_file.write_text(paper(1), encoding="utf-8")
    reads: list[int] = []

    class StillBeingWritten:
        name, description = "grow", "appends a paper while the first read is going on"

        def sniff(self, head: str, path: Path) -> int:
            return 0

        def read(self, lines: Any, source: Source) -> Any:
            reads.append(1)
            if len(reads) == 1:  # the writer is not done yet
                with listing_file.open("a", encoding="utf-8") as f:
                    f.write(paper(2))
            for line in lines:
                yield Paper.from_json(json.loads(line))

    cache = SourceCache()
    source = Source("grow", listing_file, format="grow")
    result = cache.load({"grow": StillBeingWritten()}, source)
    assert [p.arxiv_id for p in result.papers] == ["2510.00001", "2510.00002"]
    assert len(reads) == 2
    assert cache.load({"grow": StillBeingWritten()}, source) is result  # cached now


def test_debouncer_merges_a_burst() -> None:
    debouncer = Debouncer(0.05)
    for n in range(5):
        debouncer.add({Path(f"/f{n}")})
        assert debouncer.take(timeout=0.01) == set()
    assert debouncer.take(timeout=1) == {Path(f"/f{n}") for n in range(5)}
    assert debouncer.take(timeout=0.1) == set()
    debouncer.close()
    assert debouncer.take() == set()


def test_polling_watcher_sees_edits_creations_deletions(tmp_path: Path) -> None:
    seen: list[set[Path]] = []
    watcher = PollingWatcher(lambda paths, when: seen.append(paths), interval=0.01)
    tree, single = tmp_path / "theme", tmp_path / "site.toml"
    (tree / "templates").mkdir(parents=True)
    (tree / "templates/a.html").write_text("a")
    single.write_text("x")
    watcher.watch({single}, {tree})
    assert watcher.poll() == set()
    (tree / "templates/b.html").write_text("b")
    (tree / "templates/.b.html.swp").write_text("swap")
    (tree / "templates/b.html~").write_text("backup")
    assert watcher.poll() == {tree / "templates/b.html"}
    single.write_text("y")
    (tree / "templates/a.html").unlink()
    assert watcher.poll() == {single, tree / "templates/a.html"}
    replacement = tmp_path / "new.toml"
    replacement.write_text("z")
    replacement.replace(single)  # how many editors save
    assert watcher.poll() == {single}
    assert seen[-1] == {single}
    assert ignored("4913") and ignored(".#site.toml") and not ignored("paper.html")


# --------------------------------------------------------------------------- in a browser

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs Chromium")
def test_browser_reloads_and_shows_the_error_overlay(serving: Any, site: Path) -> None:
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    browser = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)), options=options
    )

    # Read the page in one script call: an element found in one call may belong to a page
    # the live reload has replaced by the next.
    def marker() -> str | None:
        return browser.execute_script(
            "const m = document.querySelector('.marker'); return m && m.textContent;"
        )

    def overlay() -> dict[str, Any] | None:
        return browser.execute_script(
            "const o = document.getElementById('digest-live-overlay');"
            "return o && {text: o.innerText, elements: o.querySelectorAll('b').length};"
        )

    try:
        app = serving()
        browser.get(f"{app.server.url}papers/2510.00001/")
        assert marker() == "MARK-1"
        wait_until(lambda: app.preview.status()["clients"] >= 1, what="the page's event stream")
        template = site / "theme/templates/paper.html"
        edit(template, "MARK-1", "MARK-2")
        wait_until(lambda: marker() == "MARK-2", what="the page to reload")

        template.write_text(PAPER_TEMPLATE + "<b>{{ 'x' </b>\n", encoding="utf-8")
        shown = wait_until(overlay, what="the error overlay")
        assert "theme/templates/paper.html:3" in shown["text"]
        assert marker() == "MARK-2", "the page was not replaced by a broken one"
        # The message is text, never markup: the template's "<b>" does not become an element.
        assert shown["elements"] == 0
        browser.refresh()  # a page loaded while the error persists shows it at once
        assert wait_until(overlay, what="the overlay after a refresh")

        template.write_text(PAPER_TEMPLATE.replace("MARK-1", "MARK-3"), encoding="utf-8")
        wait_until(lambda: marker() == "MARK-3", what="the fixed page")
        assert overlay() is None
    finally:
        browser.quit()


def test_urlopen_sees_the_same_site(serving: Any) -> None:
    app = serving()
    with urllib.request.urlopen(app.server.url, timeout=BOUND) as response:
        assert response.status == 200 and b"Serve test" in response.read()
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(app.server.url + "missing", timeout=BOUND)
    assert info.value.code == 404
    info.value.close()
