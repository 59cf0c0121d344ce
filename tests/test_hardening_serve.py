"""The preview server (`digest serve`) against hostile clients on 127.0.0.1: path traversal
in every spelling, oversized request lines and headers, slow (slowloris-style) clients and
a burst of concurrent requests. It answers each with a refusal or the file asked for,
never a file outside the site, and keeps serving everyone else."""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import DEMO_DATE

from digest.serve import PreviewServer

SECRET = "SECRET-MARKER-5b1e"  # in site.toml and in a file next to the site: never served
CONFIG = f"""
# {SECRET}
title = "Serve hardening"
base_url = "https://example.org/"
[plugins]
enabled = ["readers"]
[[sources]]
path = "data/papers.jsonl"
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PreviewServer]:
    root = tmp_path_factory.mktemp("serve") / "site"
    (root / "data").mkdir(parents=True)
    (root / "site.toml").write_text(CONFIG, "utf-8")
    papers = "".join(
        json.dumps({"title": f"Paper {n}", "date": "2025-10-01", "key": "k"}) + "\n"
        for n in range(40)
    )
    (root / "data" / "papers.jsonl").write_text(papers, "utf-8")
    (root.parent / "secret.txt").write_text(SECRET, "utf-8")
    logs: list[str] = []
    preview = PreviewServer(root / "site.toml", port=0, date=DEMO_DATE, log=logs.append)
    with preview.running():
        (preview.outdir.parent / "secret.txt").write_text(SECRET, "utf-8")  # beside the site
        yield preview


def address(server: PreviewServer) -> tuple[str, int]:
    assert server.httpd is not None
    host, port = server.httpd.server_address[:2]
    return str(host), int(port)


def raw(server: PreviewServer, request: bytes, timeout: float = 10) -> bytes:
    """Send `request` as is and read the whole answer (the connection is closed by us
    after the response, or by the server)."""
    with socket.create_connection(address(server), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before the request was all sent
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def status_of(response: bytes) -> int | None:
    if not response.startswith(b"HTTP/"):
        return None
    return int(response.split(b" ", 2)[1])


def get(server: PreviewServer, path: str = "/", timeout: float = 10) -> tuple[int, bytes]:
    host, port = address(server)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# -- path traversal ---------------------------------------------------------------------------

TRAVERSALS = [
    "/../site.toml",
    "/../../site.toml",
    "/%2e%2e/site.toml",
    "/%2E%2E/%2e%2e/site.toml",
    "/%2e%2e%2fsite.toml",
    "/..%2fsite.toml",
    "/..%2f..%2fsecret.txt",
    "/.%2e/secret.txt",
    "/%252e%252e/secret.txt",
    "/static/../../secret.txt",
    "/papers/%2e%2e/%2e%2e/secret.txt",
    "/..\\secret.txt",
    "/%5c..%5csecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "/%ef%bc%8e%ef%bc%8e/secret.txt",
    "/secret.txt%00.html",
    "/%00",
    "//secret.txt",
    "///../secret.txt",
    "/./../secret.txt",
    "/papers/..;/../secret.txt",
    "http://127.0.0.1/../secret.txt",
    "http://127.0.0.1/%2e%2e/site.toml",
    "../secret.txt",
    "*",
    "/" + "../" * 50 + "etc/passwd",
    "/%2e%2e/" * 30 + "etc/passwd",
    "/etc/passwd",
    "/proc/self/environ",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_path_traversal_is_refused(server: PreviewServer, target: str) -> None:
    response = raw(
        server, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )
    status = status_of(response)
    assert status in (400, 403, 404), response[:200]
    assert SECRET.encode() not in response
    assert b"root:" not in response and b"[[sources]]" not in response


def test_a_symlink_out_of_the_site_is_refused(server: PreviewServer) -> None:
    link = server.outdir / "escape"
    link.symlink_to(server.outdir.parent / "secret.txt")
    try:
        status, body = get(server, "/escape")
    finally:
        link.unlink()
    assert status == 403 and SECRET.encode() not in body


# -- oversized requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,request_bytes",
    [
        ("long request line", b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("long header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n"),
        ("many headers", b"GET / HTTP/1.1\r\n" + b"X-H: v\r\n" * 200 + b"\r\n"),
        ("huge header block", b"GET / HTTP/1.1\r\n"
         + (b"Y: " + b"d" * 60_000 + b"\r\n") * 20 + b"\r\n"),
        ("binary garbage", bytes(range(256)) * 300),
        ("no request line", b"\r\n\r\n\r\n"),
        ("bad method", b"BREW / HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("bad version", b"GET / HTTP/9.9\r\nHost: x\r\n\r\n"),
        ("huge content-length", b"GET / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n"),
    ],
)  # fmt: skip
def test_oversized_or_malformed_requests_are_refused_and_serving_goes_on(
    server: PreviewServer, name: str, request_bytes: bytes
) -> None:
    """A 4xx/5xx answer (414 or 431 for the oversized ones) or a closed connection, never a
    hang, and the server keeps serving."""
    started = time.monotonic()
    try:
        response = raw(server, request_bytes, timeout=10)
    except (ConnectionError, TimeoutError):
        response = b""
    assert time.monotonic() - started < 10
    status = status_of(response)
    if name in ("long request line",):
        assert status == 414, response[:200]
    elif name in ("long header", "many headers"):
        assert status in (431, None), response[:200]
    elif name == "huge header block":
        # Legal lines (each under 64 KiB, fewer than 100): 1.2 MB is the most a request
        # can hold; it is answered (or refused), never a hang.
        assert status in (200, 431), response[:200]
    elif name != "huge content-length":
        assert status is None or status >= 400, response[:200]
    assert get(server, "/")[0] == 200


# -- slow clients -------------------------------------------------------------------------------


def test_slow_clients_do_not_block_others(server: PreviewServer) -> None:
    """Thirty slowloris-style clients each hold a connection open, sending a header byte
    every 0.2 s; meanwhile ordinary requests are answered at once."""
    stop = threading.Event()
    opened = threading.Barrier(31)

    def slowloris() -> None:
        with socket.create_connection(address(server), timeout=10) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
            opened.wait(timeout=10)
            while not stop.is_set():
                try:
                    sock.sendall(b"X")
                except OSError:
                    return
                stop.wait(0.2)

    threads = [threading.Thread(target=slowloris, daemon=True) for _ in range(30)]
    for thread in threads:
        thread.start()
    try:
        opened.wait(timeout=10)
        times = []
        for path in ("/", "/papers/", "/search/", "/feed.xml", "/about/") * 4:
            started = time.monotonic()
            status, _ = get(server, path, timeout=5)
            times.append(time.monotonic() - started)
            assert status in (200, 404), path
        assert max(times) < 2.0, times
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)


def test_a_client_that_never_finishes_its_request_is_dropped(server: PreviewServer) -> None:
    """A connection idle in the middle of its headers is closed by the server eventually
    (the handler's timeout), so slow clients cannot pile up threads forever."""
    from digest.serve import PreviewHandler

    assert 0 < PreviewHandler.timeout <= 120


# -- load ---------------------------------------------------------------------------------------


def test_five_hundred_requests_over_twenty_threads(server: PreviewServer) -> None:
    """A bounded load test: 500 GETs of assorted pages and files from 20 threads, each with
    a keep-alive connection: all answered 200, within 30 s."""
    assert get(server, "/")[0] == 200
    pages = ["/", "/feed.xml", "/sitemap.xml", "/search/", "/archive/", "/robots.txt"]
    pages += [f"/papers/paper-{n}/" for n in range(10)]
    host, port = address(server)

    def worker(index: int) -> list[int]:
        conn = http.client.HTTPConnection(host, port, timeout=20)
        statuses = []
        try:
            for i in range(25):
                conn.request("GET", pages[(index + i) % len(pages)])
                response = conn.getresponse()
                response.read()
                statuses.append(response.status)
        finally:
            conn.close()
        return statuses

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = [s for batch in pool.map(worker, range(20)) for s in batch]
    seconds = time.monotonic() - started
    assert len(results) == 500
    assert set(results) == {200}, sorted(set(results))
    assert seconds < 30, seconds
    print(f"500 requests in {seconds:.2f} s")
