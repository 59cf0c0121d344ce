"""`digest serve`: build, serve the site, rebuild what a change affects, reload the browser.

How it fits together:

* A **builder thread** takes debounced batches of changed files from the watcher
  (`digest.watch`) and rebuilds at the level the change needs: a template or static file
  re-renders with the current site model; a source, intro or about page rebuilds the model
  (sources whose file did not change come from `SourceCache`); site.toml or a site-local
  plugin reloads everything. A failed rebuild leaves the last good site served and turns
  the error into `BuildProblem`s shown in an overlay.
* A rebuild produces a `Generation`: a fresh Jinja environment, the hashed static files
  and a handful of pages rendered up front (the first page of each template the change
  affects, which also catches template errors before anything changes). Committing it
  writes those files and sends the reload event at once. Every other page is *pending*:
  the builder thread writes the feeds and renders pending pages in the background, and a
  request for a pending page renders it first, so a browser always gets the current
  generation while a 10,000-page site reloads in well under a second. Only files whose
  bytes changed are rewritten.
* The search index (lunr.py, the slow part of a big build) is written by a child process
  after each model change, so it neither blocks the reload nor competes for the GIL; a
  newer model cancels it.
* The HTTP server (`ThreadingHTTPServer`) serves the output folder, a temporary folder
  removed on exit. It injects the live-reload script into HTML responses only, never into
  files, and streams reload and error events over Server-Sent Events.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import enum
import errno
import gc
import hashlib
import html
import http.server
import ipaddress
import json
import mimetypes
import os
import pickle
import queue
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import click
import jinja2
import jinja2.meta
import pluggy

from digest import feeds, search
from digest.build import (
    assign_slugs,
    build_date,
    enrich_and_collect,
    load_papers,
    prepare_config,
    render_page,
    site_nav,
)
from digest.config import Config
from digest.errors import ConfigError, DigestError
from digest.fetch import fetch_for_build
from digest.history import attach_read_only, history_path
from digest.model import Problem, newest_first
from digest.pages import Page
from digest.publish import OutputDir
from digest.rebuilds import expect_rebuilds
from digest.render import Assets, make_environment, static_files, theme_dirs
from digest.site import Site
from digest.sources.base import Reader, Source
from digest.sources.loader import LoadResult, load_source
from digest.uptodate import site_inputs
from digest.watch import Debouncer, PollingWatcher

Log = Callable[[str], None]

INTERNAL_PREFIX = "/__digest__/"
EVENTS_PATH = INTERNAL_PREFIX + "events"
SCRIPT_PATH = INTERNAL_PREFIX + "live.js"
STATUS_PATH = INTERNAL_PREFIX + "status"

# Fixed here rather than taken from the system's mime.types, which differs between machines
# (and on some maps .js to text/plain, which browsers refuse to run).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".xml": "application/xml",
    ".xsl": "application/xml",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".csv": "text/csv; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".gz": "application/gzip",
}


def content_type(name: str) -> str:
    """The Content-Type header for a file name."""
    suffix = os.path.splitext(name)[1].lower()
    if suffix in CONTENT_TYPES:
        return CONTENT_TYPES[suffix]
    guessed, _ = mimetypes.guess_type(name)
    return guessed or "application/octet-stream"


class ServeError(DigestError):
    """The preview server cannot start (port busy, address unusable)."""

    exit_code = 2


# --------------------------------------------------------------------------- problems


@dataclass(frozen=True, slots=True)
class BuildProblem:
    """One reason the last rebuild failed, as the browser overlay shows it."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}" if where else self.message

    def to_json(self) -> dict[str, Any]:
        """The problem as a JSON-ready dict."""
        return {"file": self.file, "line": self.line, "message": self.message}


class SourceProblems(Exception):
    """Sources reported error-severity problems, which stop a build."""

    def __init__(self, problems: list[Problem]):
        super().__init__(f"{len(problems)} source problem(s) stop the build")
        self.problems = problems


_LINE_IN_MESSAGE = re.compile(r"\bline (\d+)")


def problems_from(exc: BaseException, root: Path, dirs: Iterable[Path] = ()) -> list[BuildProblem]:
    """Turn a failed rebuild's exception into file/line/message records.

    Template errors name the template and line; an exception from a plugin or a template
    at run time is placed at the innermost traceback frame inside the site folder or a
    theme folder (Jinja rewrites tracebacks so template frames carry template lines).
    """

    def shown(path: str | None) -> str:
        if not path:
            return ""
        with contextlib.suppress(ValueError):
            return Path(path).resolve().relative_to(root).as_posix()
        return path

    if isinstance(exc, DigestError) and isinstance(exc.__cause__, jinja2.TemplateError):
        exc = exc.__cause__  # a page failed to render: place it in its template
    if isinstance(exc, SourceProblems):
        return [BuildProblem(p.file, p.line, p.message) for p in exc.problems]
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return [BuildProblem(shown(exc.filename) or exc.name or "", exc.lineno, exc.message or "")]
    if isinstance(exc, DigestError):
        # Messages name the file first ("site.toml: [sources[0]] path: …"), one per line.
        out = []
        for line in exc.message.splitlines() or [""]:
            found = _LINE_IN_MESSAGE.search(line)
            head, _, rest = line.partition(": ")
            is_file = bool(rest) and not any(c.isspace() for c in head) and "." in head
            out.append(
                BuildProblem(
                    shown(head) if is_file else "",
                    int(found.group(1)) if found else 0,
                    rest if is_file else line,
                )
            )
        return out
    roots = [root, *dirs]
    where: tuple[str, int] = ("", 0)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        if any(r == path or r in path.parents for r in roots):
            where = (shown(frame.filename), frame.lineno or 0)
            break
    return [BuildProblem(where[0], where[1], f"{type(exc).__name__}: {exc}")]


# --------------------------------------------------------------------------- the model


@dataclass
class _CachedSource:
    source: Source
    readers_key: tuple[tuple[str, str, str], ...]
    stat: tuple[int, int, int]
    digest: bytes
    result: LoadResult


class SourceCache:
    """Loaded sources, reused while a source's file and settings are unchanged.

    A file is unchanged when its mtime, size and inode are (cheap), or else when its
    content hash is (so `touch` or a save without edits does not re-parse it).
    """

    def __init__(self) -> None:
        self._entries: dict[str, _CachedSource] = {}
        self.loads = 0  # how many sources were actually read, for tests and logs

    def clear(self) -> None:
        """Forget every source (after a site-local plugin, maybe a reader, changed)."""
        self._entries.clear()

    def load(self, readers: dict[str, Reader], source: Source) -> LoadResult:
        """The source's papers and problems, read again only if the file changed."""
        key = tuple(
            sorted((name, type(r).__module__, type(r).__qualname__) for name, r in readers.items())
        )
        stat = _stat(source.path)
        if stat is None:
            self._entries.pop(source.name, None)
            return load_source(readers, source)  # reports the missing or unreadable file
        entry = self._entries.get(source.name)
        if stat[1] == 0 and entry is not None and entry.stat[1] > 0:
            # Saving in place truncates first: an empty file that was not empty is most
            # likely caught between the truncation and the write.
            time.sleep(0.1)
            stat = _stat(source.path) or stat
        if entry and entry.source == source and entry.readers_key == key:
            if entry.stat == stat:
                return entry.result
            if _file_digest(source.path) == entry.digest:
                entry.stat = stat
                return entry.result
        for _ in range(WRITE_RETRIES):
            digest = _file_digest(source.path)
            self.loads += 1
            result = load_source(readers, source)
            after = _stat(source.path)
            if after == stat:
                break
            # The file changed while it was read: an editor (or a script) is still writing
            # it. Reading it again when it settles beats showing half a listing.
            time.sleep(0.05)
            stat = after
            if stat is None:
                return load_source(readers, source)
        self._entries[source.name] = _CachedSource(source, key, stat, digest, result)
        return result


WRITE_RETRIES = 5


def _stat(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _file_digest(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "blake2b").digest()
    except OSError:
        return b""


@dataclass
class Model:
    """A loaded site: config, plugins and the site with its papers and pages."""

    config: Config
    pm: pluggy.PluginManager
    site: Site
    feeds: dict[str, bytes] | None = None


@contextlib.contextmanager
def timed(phases: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds the body takes to ``phases[name]``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - start


def make_site(
    config: Config,
    pm: pluggy.PluginManager,
    date: dt.date,
    cache: SourceCache,
    phases: dict[str, float] | None = None,
    warnings: list[Problem] | None = None,
) -> Site:
    """Load (through `cache`), merge, run the plugins and collect the pages, as `build` does.

    The build history, if the site keeps one, is read but never locked or recorded: a
    preview shows what a build would publish now. `warnings` (from fetching url sources)
    go first among the site's problems. Raises `SourceProblems` when a source reports an
    error-severity problem. The seconds each phase takes are added to `phases`.
    """
    phases = {} if phases is None else phases
    with timed(phases, "load"):
        papers, loaded = load_papers(config, pm, load=cache.load)
    site = Site(config=config, date=date)
    site.problems = [*(warnings or ()), *loaded.problems]
    site.sources = loaded.sources
    # Plugins write into paper.data; a cached paper must not carry the last build's results.
    site.papers = newest_first(p.copy() for p in papers)
    with timed(phases, "history"):
        view = attach_read_only(site, history_path(config))
        if view is not None:
            site.archived = view.archived_papers()
    site.slugs = assign_slugs([*site.papers, *site.archived])
    errors = [p for p in site.problems if p.severity == "error"]
    if errors:
        raise SourceProblems(errors)
    enrich_and_collect(site, pm, view, lambda name: timed(phases, name))
    return site


class MemoryOutput(OutputDir):
    """An `OutputDir` that keeps what is written in memory, for comparing before writing."""

    def __init__(self) -> None:
        super().__init__(Path(os.devnull))
        self.files: dict[str, bytes] = {}

    def write_text(self, rel: str, text: str) -> None:
        """Keep a UTF-8 text file."""
        self.write_bytes(rel, text.encode("utf-8"))

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Keep a binary file."""
        self.written.append(rel)
        self.files[rel] = data


class TemplateCache(jinja2.BytecodeCache):
    """Compiled templates and their references, kept across generations in memory.

    Compiling is most of the cost of a fresh Jinja environment (~30 ms a template), and a
    template change touches one file: every other template is reused by its source
    checksum. One cache serves one plugin manager, since plugins' filters and extensions
    take part in compiling.
    """

    def __init__(self) -> None:
        self._code: dict[str, tuple[str, Any]] = {}
        self._refs: dict[tuple[str, str], tuple[str | None, ...]] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Give the bucket the code compiled earlier from the same source, if any."""
        hit = self._code.get(bucket.key)
        if hit is not None and hit[0] == bucket.checksum:
            bucket.code = hit[1]

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        """Keep freshly compiled code."""
        self._code[bucket.key] = (bucket.checksum, bucket.code)

    def references(
        self, env: jinja2.Environment, name: str, source: str, filename: str | None
    ) -> tuple[str | None, ...]:
        """The templates `source` extends, includes or imports (None: chosen at run time)."""
        key = (name, hashlib.sha1(source.encode("utf-8")).hexdigest())
        refs = self._refs.get(key)
        if refs is None:
            refs = tuple(jinja2.meta.find_referenced_templates(env.parse(source, name, filename)))
            self._refs[key] = refs
        return refs


def template_closure(
    env: jinja2.Environment, names: Iterable[str], cache: TemplateCache | None = None
) -> set[str]:
    """`names` and every template they extend, include or import, found by parsing.

    Raises `jinja2.TemplateSyntaxError` for a broken template and `TemplateNotFound` for a
    missing page template; a missing template that is only referenced is left to render
    time (it may sit in a branch never taken, or be included with ``ignore missing``).
    """
    cache = cache or TemplateCache()
    roots = set(names)
    seen: set[str] = set()
    stack = sorted(roots)
    assert env.loader is not None
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            source, filename, _ = env.loader.get_source(env, name)
        except jinja2.TemplateNotFound:
            if name in roots:
                raise
            continue
        stack.extend(ref for ref in cache.references(env, name, source, filename) if ref)
    return seen


def sample_pages(pages: Iterable[Page]) -> dict[str, Page]:
    """One page per template to render before a rebuild is published: the one with the
    shortest lists in its context, but not an empty one, so loops (a listing's cards) are
    still exercised while a 50-paper listing page is passed over for a 3-paper one."""

    def size(page: Page) -> int:
        return sum(len(v) for v in page.context.values() if isinstance(v, list | tuple))

    chosen: dict[str, tuple[tuple[bool, int], Page]] = {}
    for page in pages:
        n = size(page)
        rank = (n == 0, n)  # a non-empty list first, then the shortest
        if page.template not in chosen or rank < chosen[page.template][0]:
            chosen[page.template] = (rank, page)
    return {name: page for name, (_, page) in chosen.items()}


class Generation:
    """One renderable version of the site: a model plus a Jinja environment and assets.

    `pending` holds the pages not rendered yet; whoever renders one first (the builder
    thread or a request for it) claims it, and others wait on its `inflight` event.
    """

    def __init__(self, number: int, model: Model, env: jinja2.Environment):
        self.number = number
        self.model = model
        self.env = env
        site = model.site
        self.nav = site_nav(site)
        self.pages: dict[str, Page] = {p.output_path: p for p in site.pages}
        self.static: dict[str, bytes] = {}
        self.prerendered: dict[str, bytes] = {}
        self.pending: dict[str, Page] = {}
        self.inflight: dict[str, threading.Event] = {}
        self.claims = threading.Lock()
        self.problems: list[BuildProblem] = []
        self.feeds_lock = threading.Lock()
        self.feeds_done = False
        self.finished = False
        self.started = time.perf_counter()

    def render(self, page: Page) -> bytes:
        """The page's HTML, exactly as `digest.build.render_pages` renders it."""
        return render_page(self.env, self.model.site, page, self.nav).encode("utf-8")

    def claim(self, rel: str | None = None) -> tuple[str, Page] | threading.Event | None:
        """Claim a pending page (`rel`, or the next one) to render; or the event to wait on
        when someone else is rendering it; or None when there is nothing to do."""
        with self.claims:
            if rel is None:
                rel = next(iter(self.pending), None)
                if rel is None:
                    return None
            page = self.pending.pop(rel, None)
            if page is None:
                return self.inflight.get(rel)
            self.inflight[rel] = threading.Event()
            return rel, page

    def release(self, rel: str) -> None:
        """Mark a claimed page as done (rendered or failed)."""
        with self.claims:
            event = self.inflight.pop(rel, None)
        if event is not None:
            event.set()


# --------------------------------------------------------------------------- output files


class ServedFiles:
    """The served folder. A file is rewritten only when its bytes change, and replaced
    atomically so a concurrent request gets the old or the new file, never half of one."""

    def __init__(self, root: Path):
        self.root = root
        self.digests: dict[str, bytes] = {}
        self.writes = 0

    def put(self, rel: str, data: bytes) -> bool:
        """Write `data` at `rel` unless it is already there; return whether it was written."""
        digest = hashlib.blake2b(data, digest_size=16).digest()
        if self.digests.get(rel) == digest:
            return False
        target = self.root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        self.digests[rel] = digest
        self.writes += 1
        return True

    def remove(self, rel: str) -> None:
        """Delete a file that is no longer part of the site, and folders left empty."""
        self.digests.pop(rel, None)
        target = self.root / rel
        with contextlib.suppress(FileNotFoundError):
            target.unlink()
        parent = target.parent
        while parent != self.root and self.root in parent.parents:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


def _read_tree(folder: Path) -> dict[str, bytes]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files[path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


# --------------------------------------------------------------------------- search index


def search_worker_main() -> None:
    """Entry point of the search child process: a pickled site on stdin, the index written
    into the folder named by argv[1]. Exit 3 means "cannot unpickle; index it in-process"."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this stops
    with contextlib.suppress(OSError):
        os.nice(10)  # rebuilds the user is waiting for come first
    try:
        site = pickle.loads(sys.stdin.buffer.read())
    except Exception:
        sys.exit(3)
    search.write_index(site, OutputDir(Path(sys.argv[1])))


_CHILD = "from digest.serve import search_worker_main; search_worker_main()"


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill a child started in its own session, and every process it started (an indexer
    may run a process pool): nothing may outlive the job it belonged to."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    except OSError:
        if proc.poll() is None:
            proc.kill()


class SearchIndexer:
    """Writes the search index for the newest model, one job at a time, off the GIL.

    The job runs in a child process (indexing is the slowest step of a big build), at a
    lower priority, and a newer model kills it with every process it started; if the site
    cannot be pickled or unpickled there, the job runs in a thread instead.
    `on_done(model, files)` receives the index files; `on_error(model, problems)` failures.
    """

    def __init__(
        self,
        workdir: Path,
        on_done: Callable[[Model, dict[str, bytes]], None],
        on_error: Callable[[Model, list[BuildProblem]], None],
    ):
        self.workdir = workdir
        self.on_done = on_done
        self.on_error = on_error
        self._lock = threading.Lock()
        self._job = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._threads: list[threading.Thread] = []
        self.idle = threading.Event()
        self.idle.set()
        self.closed = False

    def start(self, model: Model) -> None:
        """Index `model`'s site, cancelling any job for an older model."""
        with self._lock:
            if self.closed:
                return
            self._kill()
            self._job += 1
            job = self._job
            self.idle.clear()
            self._threads = [t for t in self._threads if t.is_alive()]
            thread = threading.Thread(
                target=self._run, args=(job, model), name="digest-search", daemon=True
            )
            self._threads.append(thread)
        thread.start()

    def _kill(self) -> None:
        if self._proc is not None:
            _kill_group(self._proc)
        self._proc = None

    def _current(self, job: int) -> bool:
        with self._lock:
            return job == self._job and not self.closed

    def _run(self, job: int, model: Model) -> None:
        # Pickling a big site for the child holds the interpreter for a few hundred ms:
        # not while the browsers that were just told to reload fetch their pages.
        deadline = time.monotonic() + SEARCH_DELAY
        while time.monotonic() < deadline:
            if not self._current(job):
                self._finished(job)
                return
            time.sleep(0.02)
        staging = Path(tempfile.mkdtemp(prefix="search-", dir=self.workdir))
        try:
            files = self._in_child(job, model, staging)
            if files is None and self._current(job):
                files = self._in_thread(model, staging)
            if files is not None and self._current(job):
                self.on_done(model, files)
        except Exception as exc:
            if self._current(job):
                self.on_error(model, problems_from(exc, model.config.root))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(staging.parent / f"{staging.name}-tmp", ignore_errors=True)
            self._finished(job)

    def _finished(self, job: int) -> None:
        with self._lock:
            if job == self._job:
                self.idle.set()

    def _in_child(self, job: int, model: Model, staging: Path) -> dict[str, bytes] | None:
        try:
            payload = pickle.dumps(dataclasses.replace(model.site, pages=[]))
        except Exception:
            return None
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        # Whatever temporary files the indexer makes (a process pool's) live and die with
        # the job, even when the job is killed.
        scratch = staging.parent / f"{staging.name}-tmp"
        scratch.mkdir()
        env["TMPDIR"] = str(scratch)
        with self._lock:
            if job != self._job or self.closed:
                return {}
            proc = subprocess.Popen(
                [sys.executable, "-c", _CHILD, str(staging)],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                # Its own session: a Ctrl-C in the terminal is for the server, which then
                # kills this child, rather than a traceback from it.
                start_new_session=True,
            )
            self._proc = proc
        with proc:
            _, err = proc.communicate(payload)
        _kill_group(proc)  # any helper process the indexer left behind
        if not self._current(job):
            return {}
        if proc.returncode == 3:
            return None
        if proc.returncode != 0:
            message = err.decode("utf-8", "replace").strip().splitlines()
            raise RuntimeError(
                f"the search index failed: {message[-1] if message else proc.returncode}"
            )
        return _read_tree(staging)

    def _in_thread(self, model: Model, staging: Path) -> dict[str, bytes]:
        out = MemoryOutput()
        search.write_index(model.site, out)
        return out.files

    def wait(self, timeout: float) -> bool:
        """Wait until no index job is running; False on timeout."""
        return self.idle.wait(timeout)

    def close(self) -> None:
        """Kill a running job and wait for its thread."""
        with self._lock:
            self.closed = True
            self._kill()
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
        self.idle.set()


# --------------------------------------------------------------------------- events


class Broadcaster:
    """Server-Sent Events fan-out: every open event stream gets every event."""

    def __init__(self) -> None:
        self._clients: set[queue.SimpleQueue[bytes | None]] = set()
        self._lock = threading.Lock()

    def subscribe(self) -> queue.SimpleQueue[bytes | None]:
        """A new stream's queue; None in it means "close the stream"."""
        q: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        with self._lock:
            self._clients.add(q)
        return q

    def unsubscribe(self, q: queue.SimpleQueue[bytes | None]) -> None:
        """Forget a closed stream."""
        with self._lock:
            self._clients.discard(q)

    @property
    def count(self) -> int:
        """How many streams are open."""
        with self._lock:
            return len(self._clients)

    def publish(self, event: str, data: Any) -> None:
        """Send one event (its data as JSON) to every stream."""
        message = format_event(event, data)
        with self._lock:
            clients = list(self._clients)
        for q in clients:
            q.put(message)

    def close(self) -> None:
        """End every stream."""
        with self._lock:
            clients = list(self._clients)
        for q in clients:
            q.put(None)


def format_event(event: str, data: Any) -> bytes:
    """One Server-Sent Event: a name and a single-line JSON payload."""
    payload = json.dumps(data, sort_keys=True, ensure_ascii=False)
    return f"event: {event}\ndata: {payload}\n\n".encode()


# --------------------------------------------------------------------------- the builder


class Collector:
    """When Python's cyclic garbage collector may run in the preview server.

    A rebuild of a big site makes hundreds of thousands of objects while the last model is
    still alive, and the collector's full passes over that heap cost up to a second of a
    10,000-paper source edit. So it is paused during a rebuild, and what the rebuild made
    is frozen (later passes skip it: freezing costs nothing) before it resumes. When all of
    a generation's pages are rendered, one full pass frees what cycles the frozen objects
    hold; rebuilds that come faster than the pages render still get one every
    `MAX_UNSETTLED`-th rebuild.
    """

    MAX_UNSETTLED = 10

    def __init__(self) -> None:
        self.unsettled = 0
        self._enabled = gc.isenabled()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Around a rebuild."""
        if self.unsettled >= self.MAX_UNSETTLED:
            self.settle()
        gc.disable()
        try:
            yield
        finally:
            gc.freeze()
            gc.enable()
            self.unsettled += 1

    def settle(self) -> None:
        """Every page of the current generation is rendered: collect everything now."""
        if self.unsettled:
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            self.unsettled = 0

    def restore(self) -> None:
        """Leave the collector as it was found (the server is closing)."""
        gc.unfreeze()
        if not self._enabled:
            gc.disable()


class Level(enum.IntEnum):
    """How much a change forces to be redone."""

    NONE = 0
    RENDER = 1  # templates and static files: re-render with the same papers
    MODEL = 2  # sources, intro, about: reload the changed sources, rerun the plugins
    CONFIG = 3  # site.toml or a site-local plugin: start over


class Preview:
    """The incremental builder behind `digest serve`; see the module docstring.

    All writes to the served folder happen under `lock`, and only for the current
    generation, so a slow render of an older generation can never overwrite a newer page.
    """

    def __init__(
        self,
        config_path: Path,
        outdir: Path,
        workdir: Path,
        date: dt.date,
        events: Broadcaster,
        log: Log,
        collector: Collector | None = None,
    ):
        self.config_path = config_path.resolve()
        self.collector = collector
        self.files = ServedFiles(outdir)
        self.date = date
        self.events = events
        self.log = log
        self.lock = threading.RLock()
        self.token = secrets.token_hex(4)  # a restarted server must reload every tab
        self.sources = SourceCache()
        expect_rebuilds()  # e.g. an edit to one line of a big JSON Lines source reads that line
        self._templates: tuple[pluggy.PluginManager | None, TemplateCache] = (None, TemplateCache())
        self.model: Model | None = None
        self.gen: Generation | None = None
        self.generations = 0
        self.rebuilds = 0
        self.failures = 0
        self.state = "starting"
        self.last_rebuild: dict[str, Any] = {}
        self.build_problems: list[BuildProblem] = []
        self.late_problems: list[BuildProblem] = []  # search index, build_done plugins
        self._retry = Level.NONE
        self._fetch_warnings: list[Problem] = []
        self._core: set[str] = set()
        self._feeds: set[str] = set()
        self._search: set[str] = set()
        self._extra: set[str] = set()
        self.closed = False
        self.search = SearchIndexer(workdir, self._search_done, self._late_failure)
        self.workdir = workdir
        self.watch_files: set[Path] = {self.config_path}
        self.watch_trees: set[Path] = set()
        self.on_watch: Callable[[set[Path], set[Path]], None] | None = None

    # ---- state shown to browsers

    @property
    def build_id(self) -> str:
        """Identifies the served generation; a page from another one reloads itself."""
        return f"{self.token}-{self.gen.number if self.gen else 0}"

    def problems(self) -> list[BuildProblem]:
        """Everything currently wrong, for the overlay."""
        gen_problems = self.gen.problems if self.gen else []
        return [*self.build_problems, *gen_problems, *self.late_problems]

    def _publish_problems(self) -> None:
        self.events.publish("problems", [p.to_json() for p in self.problems()])

    def status(self) -> dict[str, Any]:
        """A snapshot for ``/__digest__/status`` (tests and benchmarks read it)."""
        gen = self.gen
        return {
            "build": self.build_id,
            "state": self.state,
            "rebuilds": self.rebuilds,
            "failures": self.failures,
            "generations": self.generations,
            "papers": len(gen.model.site.papers) if gen else 0,
            "pages": len(gen.pages) if gen else 0,
            "pending": len(gen.pending) if gen else 0,
            "rendered": bool(gen and gen.finished),
            "search": "ready" if self.search.idle.is_set() else "running",
            "source_loads": self.sources.loads,
            "writes": self.files.writes,
            "clients": self.events.count,
            "problems": [p.to_json() for p in self.problems()],
            "last_rebuild": self.last_rebuild,
        }

    # ---- rebuilding

    def classify(self, changes: set[Path] | None) -> Level:
        """The level of rebuild a set of changed files needs."""
        if changes is None or self.model is None:
            return Level.CONFIG
        config = self.model.config
        sources = {s.path for s in config.sources}
        pages = {config.intro, config.about}
        themes = _theme_dirs_or_none(config) or []
        level = Level.NONE
        for path in changes:
            if path == config.path or _is_plugin_file(config, path):
                return Level.CONFIG
            if path not in sources | pages and any(t in path.parents for t in themes):
                level = max(level, Level.RENDER)
            else:  # a source, intro/about, or anything else watched: reload the model
                level = max(level, Level.MODEL)
        return level

    def rebuild(self, changes: set[Path] | None = None) -> bool:
        """Rebuild for `changes` (None: everything) and publish; False if it failed."""
        level = max(self.classify(changes), self._retry)
        if level == Level.NONE:
            return True
        with self.collector.paused() if self.collector else contextlib.nullcontext():
            return self._rebuild(level, changes)

    def _rebuild(self, level: Level, changes: set[Path] | None) -> bool:
        started = time.perf_counter()
        self.rebuilds += 1
        self.state = "building"
        reason = _describe_changes(changes, self.config_path.parent)
        model = self.model
        phases: dict[str, float] = {}
        try:
            if level >= Level.CONFIG or model is None:
                with timed(phases, "config"):
                    config, pm = prepare_config(self.config_path)
                self._watch(config)
                if changes is None or any(_is_plugin_file(config, p) for p in changes):
                    self.sources.clear()
                with timed(phases, "fetch"):
                    # url sources are fetched (through their cache) when the site is
                    # loaded, not on every save; `digest fetch` refreshes them meanwhile.
                    self._fetch_warnings = fetch_for_build(config, self.date)
                site = make_site(config, pm, self.date, self.sources, phases, self._fetch_warnings)
                model = Model(config, pm, site)
            elif level >= Level.MODEL:
                site = make_site(
                    model.config, model.pm, self.date, self.sources, phases, self._fetch_warnings
                )
                model = Model(model.config, model.pm, site)
            changed = self._changed_templates(changes) if level == Level.RENDER else None
            if level == Level.MODEL and self._retry == Level.NONE:
                # Same templates, all rendered fine: no sample first. A page the new papers
                # break is reported when it is rendered, and its last good version served.
                changed = set()
            with timed(phases, "render"):
                gen = self._prepare(model, changed)
        except Exception as exc:
            self._fail(level, exc, reason)
            self.state = "idle" if self.gen is None or self.gen.finished else "rendering"
            return False
        self.state = "rendering"
        with timed(phases, "publish"):
            self._commit(gen, _changed_names(changes, self.config_path.parent))
        seconds = time.perf_counter() - started
        self.last_rebuild = {"level": level.name.lower(), "seconds": seconds, "phases": phases}
        site = model.site
        slow = ", ".join(f"{k} {v:.2f}" for k, v in phases.items() if v >= 0.05)
        self.log(
            f"{reason}: updated in {seconds:.2f} s "
            f"({len(site.papers)} papers, {len(site.pages)} pages{'; ' + slow if slow else ''})"
        )
        return True

    def _changed_templates(self, changes: set[Path] | None) -> set[str] | None:
        """Names of the changed templates (also as ``default:<name>``); None when anything
        else changed (a static file, theme.toml) or the last rebuild failed."""
        if changes is None or self.model is None or self._retry != Level.NONE:
            return None
        folders = [d / "templates" for d in _theme_dirs_or_none(self.model.config) or []]
        names: set[str] = set()
        for path in changes:
            folder = next((f for f in folders if f in path.parents), None)
            if folder is None:
                return None
            name = path.relative_to(folder).as_posix()
            names.update((name, f"default:{name}"))
        return names

    def _fail(self, level: Level, exc: Exception, reason: str) -> None:
        self.failures += 1
        self._retry = max(self._retry, level)
        config = self.model.config if self.model else None
        root = config.root if config else self.config_path.parent
        dirs = (_theme_dirs_or_none(config) or []) if config else []
        problems = problems_from(exc, root, dirs)
        with self.lock:
            if self.closed:
                return
            self.build_problems = problems
        self._publish_problems()
        shown = "\n".join(f"  {p}" for p in problems[:10])
        more = f"\n  … and {len(problems) - 10} more" if len(problems) > 10 else ""
        self.log(f"{reason}: build failed; still serving the last good site\n{shown}{more}")

    def _watch(self, config: Config) -> None:
        files, trees = site_inputs(config)
        self.watch_files, self.watch_trees = files, trees
        if self.on_watch:
            self.on_watch(files, trees)

    def _prepare(self, model: Model, changed: set[str] | None = None) -> Generation:
        """A generation ready to commit: assets, environment, a page per template, feeds.

        Everything that can fail for a whole-site reason fails here, before anything
        served changes: theme errors, template syntax, the feeds, and the first page of
        every template that uses one of the `changed` templates (None: of every template),
        which catches errors only rendering shows, such as an undefined variable.
        """
        config, site, pm = model.config, model.site, model.pm
        files = {rel: path.read_bytes() for rel, path in static_files(config)}
        files.update(search.runtime_files())
        assets = Assets(files)
        env = make_environment(config, assets)
        if self._templates[0] is not pm:
            self._templates = (pm, TemplateCache())
        env.bytecode_cache = self._templates[1]
        pm.hook.digest_jinja_env(env=env, site=site)
        gen = Generation(self.generations + 1, model, env)
        gen.static = {assets.url_path(rel): data for rel, data in files.items()}
        cache = self._templates[1]
        samples = sample_pages(site.pages)
        closures = {name: template_closure(env, [name], cache) for name in sorted(samples)}
        for name in sorted(set().union(*closures.values())):
            with contextlib.suppress(jinja2.TemplateNotFound):
                env.get_template(name)  # compile now: a later edit cannot leak into this one
        for name, page in samples.items():
            if changed is None or closures[name] & changed:
                gen.prerendered[page.output_path] = gen.render(page)
        return gen

    def _commit(self, gen: Generation, changed: list[str]) -> None:
        with self.lock:
            if self.closed:
                return
            old = self.gen
            core = set(gen.static) | set(gen.pages)
            for rel, data in gen.static.items():
                self.files.put(rel, data)
            for rel, data in gen.prerendered.items():
                self.files.put(rel, data)
            for rel in sorted(self._core - core - self._search - self._extra - self._feeds):
                self.files.remove(rel)
            self._core = core
            gen.pending = {rel: p for rel, p in gen.pages.items() if rel not in gen.prerendered}
            self.generations = gen.number
            self.gen = gen
            self.model = gen.model
            self._retry = Level.NONE
            self.build_problems = []
            model_changed = old is None or old.model is not gen.model
            if model_changed:
                self.late_problems = []
            build = self.build_id
        self._publish_problems()
        self.events.publish("reload", {"build": build, "changed": changed})
        if model_changed:
            self.search.start(gen.model)

    # ---- rendering pending pages

    def ensure_fresh(self, rel: str, timeout: float = 30.0) -> None:
        """Make sure the file at `rel` is from the current generation if it is a page."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            gen = self.gen
            if gen is None or rel not in gen.pages:
                return
            claimed = gen.claim(rel)
            if claimed is None:
                return  # already rendered for this generation
            if isinstance(claimed, threading.Event):
                claimed.wait(max(0.0, deadline - time.monotonic()))
            else:
                self._render(gen, *claimed)
            if self.gen is gen:
                return
            # a newer generation was committed meanwhile: make sure its version is served

    def _render(self, gen: Generation, rel: str, page: Page) -> None:
        try:
            data = gen.render(page)
        except Exception as exc:
            config = gen.model.config
            found = problems_from(exc, config.root, _theme_dirs_or_none(config) or [])
            note = [
                dataclasses.replace(p, message=f"{p.message} (rendering /{page.url})")
                for p in found
            ]
            with self.lock:
                current = self.gen is gen and not self.closed
                if current:
                    gen.problems.extend(note)
            gen.release(rel)
            if current:
                self._publish_problems()
                self.log(f"rendering /{page.url} failed: {note[0]}")
            return
        try:
            with self.lock:
                if self.gen is gen and not self.closed:
                    self.files.put(rel, data)
        finally:
            gen.release(rel)

    def ensure_feeds(self, gen: Generation | None = None) -> None:
        """Write the feeds, sitemap and robots.txt of the current generation's model.

        They are computed once per model, after the reload (a second at 10,000 papers),
        in the background or when one of them is requested, whichever comes first.
        """
        gen = gen or self.gen
        if gen is None or gen.feeds_done:
            return
        with gen.feeds_lock:
            if gen.feeds_done:
                return
            model = gen.model
            try:
                if model.feeds is None:
                    out = MemoryOutput()
                    feeds.write_site_files(model.site, out)
                    model.feeds = out.files
            except Exception as exc:
                gen.feeds_done = True
                self._late_failure(model, problems_from(exc, model.config.root))
                return
            with self.lock:
                if self.gen is gen and not self.closed:
                    for rel, data in model.feeds.items():
                        self.files.put(rel, data)
                    stale = self._feeds - set(model.feeds) - self._core - self._search
                    for rel in sorted(stale):
                        self.files.remove(rel)
                    self._feeds = set(model.feeds)
            gen.feeds_done = True

    def work(self, stop: Callable[[], bool]) -> bool:
        """Write the feeds, then render pending pages until `stop()` is true; then, once
        every page is rendered, run the ``digest_build_done`` hooks. Returns whether work
        remains."""
        gen = self.gen
        if gen is None or self.closed:
            return False
        self.ensure_feeds(gen)
        while not stop():
            claimed = gen.claim()
            if claimed is None:
                break
            if isinstance(claimed, tuple):
                self._render(gen, *claimed)
        if gen.pending:
            return True
        with gen.claims:
            rendering = next(iter(gen.inflight.values()), None)
        if rendering is not None:  # a request is rendering the last pages: wait, do not spin
            rendering.wait(0.05)
            return True
        if not gen.finished:
            gen.finished = True
            self._build_done(gen)
            if self.collector is not None:
                self.collector.settle()
            self.state = "idle"
        return False

    def _build_done(self, gen: Generation) -> None:
        """Run plugins' ``digest_build_done`` into a scratch folder and serve what they
        write. (They do not see the rendered pages there, only their own files.)"""
        model = gen.model
        if not model.pm.hook.digest_build_done.get_hookimpls():
            return
        scratch = Path(tempfile.mkdtemp(prefix="plugins-", dir=self.workdir))
        try:
            model.pm.hook.digest_build_done(
                site=model.site, outdir=scratch, output=OutputDir(scratch)
            )
            written = _read_tree(scratch)
        except Exception as exc:
            self._late_failure(model, problems_from(exc, model.config.root))
            return
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        with self.lock:
            if self.gen is not gen or self.closed:
                return
            for rel, data in written.items():
                self.files.put(rel, data)
            for rel in sorted(self._extra - set(written) - self._core - self._search - self._feeds):
                self.files.remove(rel)
            self._extra = set(written)

    def _search_done(self, model: Model, files: dict[str, bytes]) -> None:
        with self.lock:
            if self.model is not model or self.closed:
                return
            for rel, data in files.items():
                self.files.put(rel, data)
            for rel in sorted(self._search - set(files) - self._core - self._extra - self._feeds):
                self.files.remove(rel)
            self._search = set(files)
        self.events.publish("search", {"build": self.build_id})

    def _late_failure(self, model: Model, problems: list[BuildProblem]) -> None:
        with self.lock:
            if self.model is not model or self.closed:
                return
            self.late_problems = problems
        self._publish_problems()
        for problem in problems:
            self.log(f"error: {problem}")

    def close(self) -> None:
        """Stop writing; kill the search job."""
        with self.lock:
            self.closed = True
        self.search.close()


def _theme_dirs_or_none(config: Config | None) -> list[Path] | None:
    if config is None:
        return None
    try:
        return [d.resolve() for d in theme_dirs(config)]
    except DigestError:
        return None


def _is_plugin_file(config: Config, path: Path) -> bool:
    return bool(config.plugins_local) and path.parent == config.root / "plugins"


def _changed_names(changes: set[Path] | None, root: Path) -> list[str]:
    """Changed files as the reload event names them: relative to the site folder."""
    names = []
    for path in sorted(changes or ()):
        try:
            names.append(path.relative_to(root).as_posix())
        except ValueError:
            names.append(str(path))
    return names


def _describe_changes(changes: set[Path] | None, root: Path) -> str:
    if changes is None:
        return "first build"
    names = [name.rpartition("/")[2] if name.startswith("/") else name
             for name in _changed_names(changes, root)]  # fmt: skip
    if len(names) > 3:
        return f"{', '.join(names[:3])} and {len(names) - 3} more changed"
    return f"{', '.join(names)} changed"


class Builder:
    """The builder thread: waits for debounced changes, rebuilds, and in between renders
    pending pages in small slices so a new change is picked up within milliseconds."""

    def __init__(self, preview: Preview, debouncer: Debouncer):
        self.preview = preview
        self.debouncer = debouncer
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="digest-build", daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def _run(self) -> None:
        preview = self.preview
        busy = True
        while not self._stop.is_set():
            changes = self.debouncer.take(timeout=0 if busy else 0.5)
            if self._stop.is_set():
                break
            try:
                if changes:
                    preview.rebuild(changes)
                busy = preview.work(lambda: self._stop.is_set() or self.debouncer.ready())
            except Exception:  # a bug here must not end the preview; show it and go on
                if not preview.closed:
                    preview.log("internal error in the preview builder:\n" + traceback.format_exc())
                busy = False

    def stop(self) -> None:
        """Stop after the current step and wait for the thread."""
        self._stop.set()
        self.debouncer.close()
        if self._thread.is_alive():
            self._thread.join(timeout=10)


# --------------------------------------------------------------------------- HTTP

LIVE_JS = r"""// digest serve: live reload and build-error overlay (never part of a build).
(function () {
  "use strict";
  var me = document.currentScript;
  var build = me ? me.getAttribute("data-build") : "";
  var ID = "digest-live-overlay";
  function show(problems) {
    var old = document.getElementById(ID);
    if (old && old.parentNode) old.parentNode.removeChild(old);
    if (!problems || !problems.length) return;
    var box = document.createElement("div");
    box.id = ID;
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;left:0;right:0;top:0;max-height:70vh;overflow:auto;" +
      "z-index:2147483647;margin:0;padding:12px 16px;background:#2a0f12;color:#ffe4e4;" +
      "font:14px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;text-align:left;" +
      "border-bottom:3px solid #e5484d;box-shadow:0 6px 20px rgba(0,0,0,.45)";
    var head = document.createElement("div");
    head.style.cssText = "display:flex;justify-content:space-between;gap:1em;margin-bottom:8px";
    var title = document.createElement("strong");
    title.textContent = "The site could not be rebuilt; the last good version is shown.";
    var close = document.createElement("button");
    close.type = "button";
    close.textContent = "\u00d7";
    close.setAttribute("aria-label", "Hide");
    close.style.cssText = "font:inherit;font-size:20px;line-height:1;background:none;" +
      "color:inherit;border:0;cursor:pointer";
    close.onclick = function () { if (box.parentNode) box.parentNode.removeChild(box); };
    head.appendChild(title);
    head.appendChild(close);
    box.appendChild(head);
    for (var i = 0; i < problems.length; i++) {
      var p = problems[i] || {};
      var item = document.createElement("div");
      item.className = "digest-live-problem";
      var where = document.createElement("div");
      where.style.cssText = "color:#ffb3b8;font-weight:bold";
      where.textContent = (p.file || "") + (p.line ? ":" + p.line : "");
      var message = document.createElement("pre");
      message.style.cssText = "margin:2px 0 10px;white-space:pre-wrap;font:inherit";
      message.textContent = String(p.message || "");
      if (where.textContent) item.appendChild(where);
      item.appendChild(message);
      box.appendChild(item);
    }
    (document.body || document.documentElement).appendChild(box);
  }
  var initial = document.getElementById("digest-live-problems");
  if (initial) { try { show(JSON.parse(initial.textContent)); } catch (e) {} }
  if (!window.EventSource) return;
  var source = null;
  function changed(e) {
    try { return JSON.parse(e.data).build !== build; } catch (err) { return false; }
  }
  function connect() {
    if (source) return;
    source = new EventSource("/__digest__/events");
    source.addEventListener("hello", function (e) {
      if (changed(e)) { location.reload(); return; }
      try { show(JSON.parse(e.data).problems); } catch (err) {}
    });
    source.addEventListener("reload", function (e) { if (changed(e)) location.reload(); });
    source.addEventListener("problems", function (e) {
      try { show(JSON.parse(e.data)); } catch (err) {}
    });
    source.addEventListener("search", function () {
      if (/\/search\/(index\.html)?$/.test(location.pathname)) location.reload();
    });
  }
  function disconnect() { if (source) { source.close(); source = null; } }
  // Browsers allow about six connections per host: a hidden tab hands its stream back so
  // many open tabs cannot starve the visible one; on return it learns what it missed.
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) disconnect(); else connect();
  });
  window.addEventListener("pagehide", disconnect);
  window.addEventListener("pageshow", function () { if (!document.hidden) connect(); });
  if (!document.hidden) connect();
})();
"""

SCRIPT_URL = f"{SCRIPT_PATH}?v={hashlib.sha256(LIVE_JS.encode()).hexdigest()[:10]}"

FALLBACK_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title></head>
<body><h1>{title}</h1><p>{text}</p></body></html>
"""


def json_for_script(data: Any) -> str:
    """JSON safe inside a <script> element: no way to close the element or start a comment."""
    text = json.dumps(data, ensure_ascii=False)
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def live_snippet(build: str, problems: list[BuildProblem]) -> bytes:
    """What is injected before ``</body>`` of a served HTML page."""
    parts = []
    if problems:
        data = json_for_script([p.to_json() for p in problems])
        parts.append(f'<script type="application/json" id="digest-live-problems">{data}</script>')
    parts.append(f'<script src="{SCRIPT_URL}" data-build="{html.escape(build)}"></script>')
    return "".join(parts).encode("utf-8")


_BODY_END = re.compile(rb"</body\s*>", re.IGNORECASE)
_HASHED_STATIC = re.compile(r"static/.+\.[0-9a-f]{10}(\.[^./]+)?$")  # see render.Assets


def inject(document: bytes, snippet: bytes) -> bytes:
    """Insert `snippet` before the last ``</body>`` (or append it when there is none)."""
    last = None
    for last in _BODY_END.finditer(document):  # noqa: B007
        pass
    if last is None:
        return document + snippet
    return document[: last.start()] + snippet + document[last.start() :]


def request_path(target: str) -> str | None:
    """The decoded path of a request target, or None if it must be refused.

    Accepts origin-form (``/a/b?q``) and absolute-form (``http://host/a/b``) targets.
    Refuses ``.`` and ``..`` segments (also when percent-encoded), NUL bytes, backslashes
    and undecodable escapes. Repeated slashes are kept; `relative_path` drops them.
    """
    if target.startswith("/"):
        raw = target
    elif "://" in target:
        raw = urlsplit(target).path or "/"
    else:
        return None
    raw = raw.split("?", 1)[0].split("#", 1)[0]
    try:
        path = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\x00" in path or "\\" in path:
        return None
    if any(part in (".", "..") for part in path.split("/")):
        return None
    return path


def relative_path(path: str) -> str:
    """A request path as a POSIX path below the served root (never absolute)."""
    return "/".join(part for part in path.split("/") if part)


class PreviewHTTPServer(http.server.ThreadingHTTPServer):
    """The preview's HTTP server: daemon threads, quiet about browsers going away."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: PreviewServer):
        self.app = app
        super().__init__(address, PreviewHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore disconnects; report anything else in one line (a traceback with -v)."""
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        if self.app.verbose:
            super().handle_error(request, client_address)
        else:
            self.app.log(f"error serving a request: {type(exc).__name__}: {exc}")


class PreviewHTTPServer6(PreviewHTTPServer):
    """The preview's HTTP server on an IPv6 address."""

    address_family = socket.AF_INET6


class PreviewHandler(http.server.BaseHTTPRequestHandler):
    """Serves the output folder, the live-reload script, the event stream and status."""

    server: PreviewHTTPServer
    protocol_version = "HTTP/1.1"
    server_version = "digest-serve"
    sys_version = ""
    timeout = 60  # idle keep-alive connections are dropped, so threads do not pile up

    def handle(self) -> None:
        """Handle requests until the browser closes the connection or goes away."""
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def log_message(self, format: str, *args: Any) -> None:
        """One line per request, only with ``-v``."""
        if self.server.app.verbose:
            self.server.app.log(f"{self.address_string()} {format % args}")

    def do_GET(self) -> None:
        """Serve a file, a page, an internal route or a 404."""
        self._serve(head=False)

    def do_HEAD(self) -> None:
        """Like GET, without the body."""
        self._serve(head=True)

    def _serve(self, head: bool) -> None:
        app = self.server.app
        path = request_path(self.path)
        if path is None:
            self._plain(403, "Forbidden", head)
            return
        if path.startswith(INTERNAL_PREFIX):
            self._internal(path, head)
            return
        rel = relative_path(path)
        preview = app.preview
        if preview is not None:
            index = f"{rel}/index.html" if rel else "index.html"
            for candidate in (rel, index):
                preview.ensure_fresh(candidate)
            if rel.endswith((".xml", ".txt")):
                preview.ensure_feeds()
            if rel.startswith("search/") and rel.endswith(".json"):
                preview.search.wait(timeout=120)  # the search page needs the fresh index
        root = app.outdir
        target = root / rel
        try:
            real = target.resolve(strict=True)
        except (OSError, RuntimeError):
            self._not_found(head)
            return
        if not (real == root or root in real.parents):
            self._plain(403, "Forbidden", head)  # a symlink pointing out of the site
            return
        if real.is_dir():
            if not path.endswith("/"):
                location = "/" + quote(rel) + "/"
                query = self.path.split("?", 1)[1] if "?" in self.path else ""
                self._redirect(location + (f"?{query}" if query else ""), head)
                return
            try:
                real = (real / "index.html").resolve(strict=True)
            except (OSError, RuntimeError):
                self._not_found(head)  # no directory listings
                return
            if root not in real.parents:
                self._plain(403, "Forbidden", head)
                return
        if not real.is_file():
            self._not_found(head)
            return
        self._file(real, 200, head)

    def _file(self, real: Path, status: int, head: bool) -> None:
        ctype = content_type(real.name)
        app = self.server.app
        if ctype.startswith("text/html"):
            body = real.read_bytes()
            if app.livereload:
                body = inject(body, app.snippet())
            self._send(status, ctype, body, head)
            return
        with real.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(size))
            rel = real.relative_to(app.outdir).as_posix()
            self._common_headers(immutable=bool(_HASHED_STATIC.match(rel)))
            self.end_headers()
            if not head:
                shutil.copyfileobj(f, self.wfile, 256 * 1024)

    def _common_headers(self, immutable: bool = False) -> None:
        # A preview must never show yesterday's file from the browser cache; a static file
        # named by its content hash can be kept, which makes a reload cheaper.
        cache = "public, max-age=31536000, immutable" if immutable else "no-store"
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")

    def _send(
        self, status: int, ctype: str, body: bytes, head: bool, immutable: bool = False
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self._common_headers(immutable)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _plain(self, status: int, text: str, head: bool) -> None:
        self._send(status, "text/plain; charset=utf-8", f"{status} {text}\n".encode(), head)

    def _redirect(self, location: str, head: bool) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self._common_headers()
        self.end_headers()

    def _not_found(self, head: bool) -> None:
        app = self.server.app
        if app.preview is not None:
            app.preview.ensure_fresh("404.html")
        page = app.outdir / "404.html"
        if page.is_file() and not page.is_symlink():
            self._file(page, 404, head)
            return
        waiting = app.preview is None or app.preview.gen is None
        title = "Waiting for a successful build" if waiting else "Page not found"
        text = (
            "Fix the errors shown and the page reloads itself."
            if waiting
            else "There is no page at this address."
        )
        body = FALLBACK_PAGE.format(title=title, text=text).encode()
        if app.livereload:
            body = inject(body, app.snippet())
        self._send(404, "text/html; charset=utf-8", body, head)

    def _internal(self, path: str, head: bool) -> None:
        app = self.server.app
        if path == SCRIPT_PATH:
            # Versioned by its content, so a reload does not wait to fetch it again.
            versioned = self.path.endswith(SCRIPT_URL.partition("?")[2])
            body = LIVE_JS.encode()
            self._send(200, "text/javascript; charset=utf-8", body, head, immutable=versioned)
        elif path == STATUS_PATH and app.preview is not None:
            body = json.dumps(app.preview.status(), sort_keys=True).encode()
            self._send(200, "application/json", body, head)
        elif path == EVENTS_PATH and not head:
            self._events()
        else:
            self._plain(404, "Not Found", head)

    def _events(self) -> None:
        app = self.server.app
        stream = app.events.subscribe()
        try:
            self.close_connection = True  # the stream ends only when the connection does
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            preview = app.preview
            hello = {
                "build": preview.build_id if preview else "",
                "problems": [p.to_json() for p in preview.problems()] if preview else [],
            }
            self.wfile.write(b"retry: 500\n\n" + format_event("hello", hello))
            while not app.stopping.is_set():
                try:
                    message = stream.get(timeout=15)
                except queue.Empty:
                    self.wfile.write(b": keep-alive\n\n")  # also notices a closed tab
                    continue
                if message is None:
                    break
                self.wfile.write(message)
        finally:
            app.events.unsubscribe(stream)


# --------------------------------------------------------------------------- the server


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int, app: PreviewServer) -> PreviewHTTPServer:
    """Create the HTTP server bound to host:port; a busy port is a clear `ServeError`."""
    host = host.strip("[]")
    cls = PreviewHTTPServer6 if ":" in host else PreviewHTTPServer
    try:
        return cls((host, port), app)
    except socket.gaierror as exc:
        raise ServeError(f"--host {host}: not an address of this machine ({exc.strerror})")
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(
                f"port {port} on {host} is already in use (another digest serve?); "
                f"choose another with --port, or --port 0 for any free port"
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            raise ServeError(
                f"not allowed to listen on port {port}; use a port above 1023 with --port"
            )
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ServeError(f"--host {host}: not an address of this machine")
        raise ServeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}")


class PreviewServer:
    """`digest serve` as an object: `start()` builds and binds, `serve_forever()` serves,
    `shutdown()` (from another thread) stops serving, `close()` cleans everything up.

    The served folder is a fresh temporary folder, removed by `close()`.
    """

    def __init__(
        self,
        config_path: Path,
        host: str = "127.0.0.1",
        port: int = 8000,
        date: dt.date | None = None,
        livereload: bool = True,
        verbose: bool = False,
        log: Log | None = None,
        debounce: float = 0.1,
        poll_interval: float = 0.05,
    ):
        self.config_path = config_path
        self.host = host
        self.port = port
        self.date = date
        self.livereload = livereload
        self.verbose = verbose
        self._log = log or (lambda message: click.echo(message, err=True))
        self.debouncer = Debouncer(debounce)
        self.watcher = PollingWatcher(self.debouncer.add, poll_interval)
        self.events = Broadcaster()
        self.stopping = threading.Event()
        self.preview: Preview | None = None
        self.builder: Builder | None = None
        self.httpd: PreviewHTTPServer | None = None
        self.workdir: Path | None = None
        self._switch_interval: float | None = None
        self.collector = Collector()
        self._serving = False

    def log(self, message: str) -> None:
        """Print a timestamped line (nothing once stopping)."""
        if not self.stopping.is_set():
            self._log(f"[{time.strftime('%H:%M:%S')}] {message}")

    @property
    def outdir(self) -> Path:
        """The served folder."""
        assert self.workdir is not None
        return self.workdir / "site"

    @property
    def url(self) -> str:
        """The URL the site is served at."""
        assert self.httpd is not None
        host, port = self.httpd.server_address[:2]
        host = str(host)
        if host in ("0.0.0.0", "::"):
            host = "127.0.0.1" if host == "0.0.0.0" else "::1"
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}/"

    def snippet(self) -> bytes:
        """The live-reload tags for the current build and problems."""
        preview = self.preview
        if preview is None:
            return live_snippet("", [])
        return live_snippet(preview.build_id, preview.problems())

    def start(self) -> None:
        """Check the config exists, bind the port, make the first build, start watching.

        A first build that fails does not stop the server: it serves an error page until
        the files are fixed.
        """
        path = self.config_path
        if not path.is_file():
            raise ConfigError(f"{path}: no such file (use --config to name the site's site.toml)")
        date = build_date(self.date)
        if not is_loopback(self.host):
            self._log(
                f"warning: serving on {self.host} makes this preview reachable from other "
                "machines; it is meant for local use only"
            )
        self.workdir = Path(tempfile.mkdtemp(prefix="digest-serve-")).resolve()
        # The builder thread renders pages in the background; with Python's default 5 ms
        # between thread switches, a request waits that long for each of its many turns.
        self._switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(SWITCH_INTERVAL)
        try:
            self.outdir.mkdir()
            self.httpd = bind(self.host, self.port, self)
            self.preview = Preview(
                path, self.outdir, self.workdir, date, self.events, self.log, self.collector
            )
            self.preview.on_watch = self.watcher.watch
            self.watcher.watch(self.preview.watch_files, self.preview.watch_trees)
            self.preview.rebuild(None)
            self.builder = Builder(self.preview, self.debouncer)
            self.builder.start()
            self.watcher.start()
        except BaseException:
            self.close()
            raise

    def serve_forever(self) -> None:
        """Serve until `shutdown()` (or KeyboardInterrupt in the main thread)."""
        assert self.httpd is not None
        self._serving = True
        try:
            self.httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving = False

    def shutdown(self) -> None:
        """Stop `serve_forever` running in another thread."""
        self.stopping.set()
        if self.httpd is not None and self._serving:
            self.httpd.shutdown()

    def close(self) -> None:
        """Stop every thread and the search job, close the socket, remove the temp folder."""
        self.stopping.set()
        self.watcher.stop()
        if self.builder is not None:
            self.builder.stop()
        if self.preview is not None:
            self.preview.close()
        self.events.close()
        if self.httpd is not None:
            self.httpd.server_close()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None
        self.collector.restore()

    @contextlib.contextmanager
    def running(self) -> Iterator[PreviewServer]:
        """Start, serve in a background thread, and clean up on exit (for tests, scripts)."""
        self.start()
        thread = threading.Thread(target=self.serve_forever, name="digest-http", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.shutdown()
            thread.join(timeout=5)
            self.close()


# Seconds after a rebuild before its search index is started.
SEARCH_DELAY = 0.5
# Seconds a thread runs before another may take the interpreter (the default is 0.005).
SWITCH_INTERVAL = 0.001


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    config_path: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = False,
    date: dt.date | None = None,
    livereload: bool = True,
    verbose: bool = False,
) -> None:
    """Run `digest serve` in the foreground until Ctrl-C or SIGTERM, then clean up.

    Raises `ConfigError` when site.toml is missing and `ServeError` when the port cannot
    be used; every other problem is shown and the server keeps running.
    """
    server = PreviewServer(config_path, host, port, date, livereload, verbose)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.start()
        assert server.preview is not None
        config = server.preview.model.config if server.preview.model else None
        title = f"“{config.title}”" if config else "the site"
        click.echo(f"Serving {title} at {server.url}  (Ctrl-C to stop)", err=True)
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not interrupt the clean-up and leave the temp folder behind.
        interrupt = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.close()
        finally:
            signal.signal(signal.SIGINT, interrupt)
            signal.signal(signal.SIGTERM, previous)
    click.echo("stopped", err=True)


__all__ = ["BuildProblem", "Preview", "PreviewServer", "ServeError", "serve"]
