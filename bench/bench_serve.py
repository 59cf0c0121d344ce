"""Preview-server latency: from a saved file to the reload event and to the new page.

    python bench/bench_serve.py                    # the demo site and a 10,000-paper corpus
    python bench/bench_serve.py --sizes            # the demo site only
    python bench/bench_serve.py --write-readme     # also record the figures in bench/README.md

For each site it copies the site into bench/out/serve-*/ (adding a ``theme_dir`` whose
``base.html`` extends the default one, so a template edit changes every page), starts
``digest serve --port 0`` as a subprocess, waits for its first build, then measures --repeat
times each:

- a template edit (a marker in the override of base.html), and
- a source edit (the abstract of one paper, in the source file that lists it),

as the time from the write to (1) the ``reload`` event on the live-reload stream and (2) the
new content being served for that paper's page, fetched right after the event as a browser
would. With Chromium and selenium installed it also times a real browser: from the write to
the reloaded page's DOMContentLoaded (``--no-browser`` skips it). The server's own account
of each rebuild (its phases: load, plugins, pages, render, publish) comes from
``/__digest__/status``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import corpus  # noqa: E402
from readme import write_section  # noqa: E402

from digest.build import assign_slugs, load_papers, prepare_config  # noqa: E402
from digest.model import Paper, newest_first  # noqa: E402

OUT = HERE / "out"
DIGEST = Path(sys.executable).parent / "digest"
DATE = "2025-10-30"
BASE_OVERRIDE = """\
{% extends "default:base.html" %}
{% block footer %}{{ super() }}<p id="bench-marker">MARK-0</p>{% endblock %}
"""


# --------------------------------------------------------------------------- the sites


@dataclass
class Target:
    """A paper whose abstract the source edit changes, and where it is listed and shown."""

    url: str
    source: Path
    line: int
    anchor: str


def prepare_site(name: str, size: int) -> Path:
    """A fresh copy of the site to edit: the demo (size 0) or an N-paper corpus."""
    folder = OUT / f"serve-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    if size:
        corpus.write(size, folder)
    else:
        folder.mkdir(parents=True)
        shutil.copy(REPO / "site.toml", folder)
        for sub in ("data", "content"):
            shutil.copytree(REPO / sub, folder / sub)
    config = folder / "site.toml"
    config.write_text('theme_dir = "bench-theme"\n' + config.read_text("utf-8"), "utf-8")
    (folder / "bench-theme/templates").mkdir(parents=True)
    (folder / "bench-theme/templates/base.html").write_text(BASE_OVERRIDE, "utf-8")
    return folder


def choose_paper(folder: Path) -> Target:
    """A paper seen in one source only, whose abstract can be found in that file."""
    config, pm = prepare_config(folder / "site.toml")
    papers, _ = load_papers(config, pm)
    papers = newest_first(papers)
    slugs = assign_slugs(papers)
    by_name = {s.name: s.path for s in config.sources}
    texts: dict[Path, list[str]] = {}
    for paper in papers:
        anchor = _anchor(paper)
        if len(paper.sightings) != 1 or anchor is None:
            continue
        sighting = paper.sightings[0]
        path = by_name.get(sighting.source) or next(iter(by_name.values()))
        lines = texts.setdefault(path, path.read_text("utf-8").splitlines())
        if sighting.line is not None:  # a listing: the abstract follows the entry's start
            start = sighting.line - 1
            window = range(start, min(start + 12, len(lines)))
        else:  # one record a line (JSON Lines): the line naming this paper
            key = paper.arxiv_id or paper.title
            window = range(next((i for i, text in enumerate(lines) if key in text), len(lines)),
                           len(lines))[:1]  # fmt: skip
        for number in window:
            if anchor in lines[number]:
                return Target(f"papers/{slugs[paper.key]}/", path, number, anchor)
    raise SystemExit(f"{folder}: no paper with an abstract found verbatim in its source")


def _anchor(paper: Paper) -> str | None:
    if not paper.abstract:
        return None
    words = paper.abstract.split()[:6]
    anchor = " ".join(words)
    if len(anchor) < 20 or any(c in anchor for c in '"\\$*_`<>&'):
        return None
    return anchor


def edit_source(target: Target, n: int) -> None:
    lines = target.source.read_text("utf-8").split("\n")
    line = lines[target.line]
    line = re.sub(r"EDIT\d+ ", "", line)
    lines[target.line] = line.replace(target.anchor, f"EDIT{n} {target.anchor}", 1)
    target.source.write_text("\n".join(lines), "utf-8")


TEMPLATE = "bench-theme/templates/base.html"


def edit_template(folder: Path, n: int) -> None:
    path = folder / TEMPLATE
    path.write_text(re.sub(r"MARK-\d+", f"MARK-{n}", path.read_text("utf-8")), "utf-8")


# --------------------------------------------------------------------------- the server


class Server:
    """`digest serve` in a subprocess, its status and its live-reload stream."""

    def __init__(self, folder: Path):
        started = time.perf_counter()
        self.proc = subprocess.Popen(
            [str(DIGEST), "serve", "--config", str(folder / "site.toml"), "--port", "0",
             "--date", DATE],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        self.log: list[str] = []
        self.url = ""
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)
            found = re.search(r"at (http://\S+)", line)
            if found:
                self.url = found.group(1)
                break
        if not self.url:
            raise SystemExit("digest serve did not start:\n" + "".join(self.log))
        self.serving_after = time.perf_counter() - started
        threading.Thread(target=self._drain, daemon=True).start()
        self.events: list[tuple[float, str, Any]] = []
        self._cond = threading.Condition()
        host, port = self.url.split("//")[1].rstrip("/").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)))
        self.sock.sendall(b"GET /__digest__/events HTTP/1.1\r\nHost: bench\r\n\r\n")
        self.stream = self.sock.makefile("rb")
        threading.Thread(target=self._read_events, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.log.append(line)

    def _read_events(self) -> None:
        name = None
        try:
            for raw in self.stream:
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: ") and name:
                    with self._cond:
                        self.events.append((time.perf_counter(), name, json.loads(line[6:])))
                        self._cond.notify_all()
        except (OSError, ValueError):
            pass

    def wait_event(self, name: str, after: int, timeout: float, changed: str = "") -> float:
        """When the first `name` event past index `after` arrived (perf_counter); with
        `changed`, the first that names that file (someone else may edit the theme)."""
        deadline = time.perf_counter() + timeout
        with self._cond:
            while True:
                for when, got, data in self.events[after:]:
                    if got == name and (not changed or changed in data.get("changed", ())):
                        return when
                left = deadline - time.perf_counter()
                if left <= 0:
                    raise SystemExit(f"no {name} event within {timeout} s:\n{''.join(self.log)}")
                self._cond.wait(left)

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.url + path, timeout=120) as response:
            return response.read().decode("utf-8")

    def status(self) -> dict[str, Any]:
        return json.loads(self.get("__digest__/status"))

    def wait_idle(self, timeout: float, search: bool = True) -> float:
        """Seconds until every page is rendered (and the search index written)."""
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            status = self.status()
            done = status["rendered"] and status["state"] == "idle"
            if done and (not search or status["search"] == "ready"):
                return time.perf_counter() - started
            time.sleep(0.05)
        raise SystemExit(f"the server did not go idle within {timeout} s")

    def stop(self) -> int:
        self.sock.shutdown(socket.SHUT_RDWR)
        self.stream.close()
        self.sock.close()
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)


@dataclass
class Sample:
    """One measured edit, in milliseconds."""

    reload: float
    served: float
    rebuild: dict[str, Any] = field(default_factory=dict)


def measure(
    server: Server, write: Any, changed: str, page: str, marker: str, timeout: float
) -> Sample:
    """Write, then time the reload event and the new page's being served."""
    count = len(server.events)
    before = server.status()["build"]
    started = time.perf_counter()
    write()
    reloaded = server.wait_event("reload", count, timeout, changed)
    while True:  # a browser fetches the page as soon as the event arrives
        try:
            if marker in server.get(page):
                served = time.perf_counter()
                break
        except urllib.error.HTTPError as exc:  # not there yet: a file read mid-write
            exc.close()
            time.sleep(0.01)
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"{page} never showed {marker}")
    status = server.status()
    assert status["build"] != before
    return Sample(
        round((reloaded - started) * 1000, 1),
        round((served - started) * 1000, 1),
        status["last_rebuild"],
    )


# --------------------------------------------------------------------------- a real browser


def browser_samples(server: Server, folder: Path, target: Target, repeat: int) -> list[float]:
    """Write → reloaded page's DOMContentLoaded, in headless Chromium (ms); [] without it."""
    chromium, driver_path = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
    try:
        from selenium import webdriver
    except ImportError:
        return []
    if not (chromium.exists() and driver_path.exists()):
        return []
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    browser = webdriver.Chrome(
        service=webdriver.ChromeService(executable_path=str(driver_path)), options=options
    )
    loaded = (
        "const n = performance.getEntriesByType('navigation')[0];"
        "return [performance.timeOrigin + (n ? n.domContentLoadedEventEnd : 0),"
        " (document.getElementById('bench-marker') || {}).textContent];"
    )
    samples = []
    try:
        browser.get(server.url + target.url)
        for n in range(1000, 1000 + repeat):
            time.sleep(0.5)
            wall = time.time() * 1000
            edit_template(folder, n)
            deadline = time.time() + 60
            while time.time() < deadline:
                at, text = browser.execute_script(loaded)
                if text == f"MARK-{n}" and at:
                    samples.append(round(at - wall, 1))
                    break
                time.sleep(0.01)
            else:
                raise SystemExit("the browser never showed the edit")
    finally:
        browser.quit()
    return samples


# --------------------------------------------------------------------------- running


def bench_site(name: str, size: int, repeat: int, use_browser: bool) -> dict[str, Any]:
    folder = prepare_site(name, size)
    target = choose_paper(folder)
    timeout = 600.0 if size else 60.0
    print(f"{name}: serving {folder} (edits {target.url}) …", flush=True)
    server = Server(folder)
    try:
        rendered = server.wait_idle(timeout * 2, search=True) + server.serving_after
        print(f"  first build {server.serving_after:.1f} s, all pages {rendered:.1f} s", flush=True)
        templates, sources = [], []
        for n in range(1, repeat + 1):
            time.sleep(0.5)
            sample = measure(server, lambda n=n: edit_template(folder, n), TEMPLATE,
                             target.url, f"MARK-{n}", timeout)  # fmt: skip
            templates.append(sample)
            print(f"  template edit: reload {sample.reload} ms, served {sample.served} ms")
        for n in range(1, repeat + 1):
            time.sleep(0.5)
            changed = target.source.relative_to(folder).as_posix()
            sample = measure(server, lambda n=n: edit_source(target, n), changed,
                             target.url, f"EDIT{n} ", timeout)  # fmt: skip
            sources.append(sample)
            phases = {k: round(v * 1000) for k, v in sample.rebuild.get("phases", {}).items()}
            print(f"  source edit: reload {sample.reload} ms, served {sample.served} ms {phases}")
        browser = browser_samples(server, folder, target, repeat) if use_browser else []
        if browser:
            print(f"  browser (template edit → DOMContentLoaded): {browser} ms")
        status = server.status()
    finally:
        code = server.stop()
    leftovers = [p for p in Path(os.environ.get("TMPDIR", "/tmp")).glob("digest-serve-*")]
    return {
        "site": name,
        "papers": status["papers"],
        "pages": status["pages"],
        "first_build_s": round(server.serving_after, 2),
        "all_rendered_s": round(rendered, 2),
        "template": [s.__dict__ for s in templates],
        "source": [s.__dict__ for s in sources],
        "browser": browser,
        "exit_code": code,
        "temp_dirs_left": len(leftovers),
        "status": status,
    }


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms (max {max(values):.0f})" if values else "–"


def phases_of(samples: list[dict[str, Any]]) -> str:
    keys: dict[str, list[float]] = {}
    for sample in samples:
        for k, v in sample["rebuild"].get("phases", {}).items():
            keys.setdefault(k, []).append(v * 1000)
    return ", ".join(f"{k} {statistics.median(v):.0f}" for k, v in keys.items())


def table(results: list[dict[str, Any]], repeat: int) -> str:
    load = os.getloadavg()[0]
    lines = [
        f"Measured {dt.date.today().isoformat()} on {platform.machine()} "
        f"({os.cpu_count()} CPUs, load {load:.1f}), Python {platform.python_version()}; "
        f"median (max) of {repeat} edits each; `python bench/bench_serve.py`.",
        "",
        "| site | first build / all pages | template edit → reload / served | "
        "source edit → reload / served | browser: template edit → reloaded page |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r['site']} ({r['papers']} papers, {r['pages']} pages) | {r['first_build_s']} s / "
            f"{r['all_rendered_s']} s | {summary([s['reload'] for s in r['template']])} / "
            f"{summary([s['served'] for s in r['template']])} | "
            f"{summary([s['reload'] for s in r['source']])} / "
            f"{summary([s['served'] for s in r['source']])} | {summary(r['browser'])} |"
        )
    lines += ["", "Where a rebuild's time goes (medians, ms):", ""]
    for r in results:
        lines.append(f"- {r['site']}, template edit: {phases_of(r['template'])}")
        lines.append(f"- {r['site']}, source edit: {phases_of(r['source'])}")
    return "\n".join(lines)


def write_readme(text: str) -> None:
    """Replace this benchmark's figures in bench/README.md (other sections untouched)."""
    write_section("bench_serve", "Preview server", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10000],
                        help="corpus sizes to measure besides the demo site")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium timing")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo site")
    parser.add_argument("--write-readme", action="store_true")
    args = parser.parse_args()
    results = []
    if not args.no_demo:
        results.append(bench_site("demo", 0, args.repeat, not args.no_browser))
    for size in args.sizes:
        results.append(bench_site(f"corpus-{size}", size, args.repeat, not args.no_browser))
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_serve.json").write_text(json.dumps(results, indent=2, default=str), "utf-8")
    text = table(results, args.repeat)
    print()
    print(text)
    if args.write_readme:
        write_readme(text)


if __name__ == "__main__":
    main()
