"""File watching for the preview server: a small polling watcher and a debouncer.

Polling (``os.stat`` of a few dozen files every 50 ms) is portable (network drives, Docker
bind mounts, editors that save by renaming) and measures well under the preview server's
latency budget, so no native watcher is needed. A file's signature is its modification
time, size and inode: a save that keeps the size still changes the nanosecond mtime, and a
save-by-rename changes the inode.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

Signature = tuple[int, int, int]

# Editor droppings: swap, backup and lock files. A change to one of these is never a change
# to the site, and reacting to them would rebuild twice per save.
IGNORED_SUFFIXES = (
    "~",
    ".swp",
    ".swo",
    ".swx",
    ".tmp",
    ".part",
    ".crdownload",
    ".pyc",
    ".pyo",
)
IGNORED_NAMES = frozenset({"4913", ".DS_Store", "Thumbs.db", "__pycache__", ".git", ".hg"})


def ignored(name: str) -> bool:
    """Whether a file name is an editor's temporary file rather than a site file."""
    return (
        name in IGNORED_NAMES
        or name.startswith((".#", "#"))
        or name.endswith(IGNORED_SUFFIXES)
        or (name.startswith(".") and name.endswith(".tmp"))
    )


def _signature(st: os.stat_result) -> Signature:
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _scan_tree(root: Path, into: dict[Path, Signature]) -> None:
    try:
        entries = list(os.scandir(root))
    except OSError:
        return
    for entry in entries:
        if ignored(entry.name):
            continue
        try:
            if entry.is_dir():
                _scan_tree(Path(entry.path), into)
            else:
                into[Path(entry.path)] = _signature(entry.stat())
        except OSError:
            continue  # removed between listing and stat: the next poll sees it gone


def scan(files: Iterable[Path], trees: Iterable[Path]) -> dict[Path, Signature]:
    """The signature of every existing watched file, and of every file below `trees`."""
    found: dict[Path, Signature] = {}
    for path in files:
        try:
            found[path] = _signature(path.stat())
        except OSError:
            continue  # a missing file is simply absent; its creation is then a change
    for tree in trees:
        _scan_tree(tree, found)
    return found


def changed_paths(old: dict[Path, Signature], new: dict[Path, Signature]) -> set[Path]:
    """Paths created, removed or modified between two scans."""
    return {p for p in old.keys() | new.keys() if old.get(p) != new.get(p)}


class Debouncer:
    """Collects changed paths and hands them out once no change came for `delay` seconds.

    Changes that arrive while the consumer is busy (a rebuild) are merged into one batch,
    so any number of saves during a rebuild cause exactly one more rebuild.
    """

    def __init__(self, delay: float = 0.1):
        self.delay = delay
        self._paths: set[Path] = set()
        self._last = 0.0
        self._cond = threading.Condition()
        self._closed = False

    def add(self, paths: Iterable[Path], when: float | None = None) -> None:
        """Record changed paths; `when` (a `time.monotonic` value) is when they changed."""
        with self._cond:
            self._paths.update(paths)
            self._last = max(self._last, time.monotonic() if when is None else when)
            self._cond.notify_all()

    def ready(self) -> bool:
        """Whether a batch is waiting and quiet long enough to be taken now."""
        with self._cond:
            return bool(self._paths) and time.monotonic() - self._last >= self.delay

    def pending(self) -> bool:
        """Whether any change is waiting (quiet or not)."""
        with self._cond:
            return bool(self._paths)

    def take(self, timeout: float | None = None) -> set[Path]:
        """Wait up to `timeout` seconds for a quiet batch and return it (empty on timeout)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                if self._paths and now - self._last >= self.delay:
                    batch, self._paths = self._paths, set()
                    return batch
                waits = []
                if self._paths:
                    waits.append(self._last + self.delay - now)
                if deadline is not None:
                    if now >= deadline:
                        return set()
                    waits.append(deadline - now)
                self._cond.wait(min(waits) if waits else None)
            return set()

    def close(self) -> None:
        """Wake every waiter; `take` returns nothing from now on."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class PollingWatcher:
    """Polls a set of files and folder trees in a daemon thread and reports changes.

    `on_change(paths, when)` is called from the watcher thread with the changed paths and
    a `time.monotonic` estimate of when the newest change was written (from the files'
    mtimes), so a debounce window can start at the save rather than at its detection.
    """

    def __init__(
        self,
        on_change: Callable[[set[Path], float], None],
        interval: float = 0.05,
    ):
        self.on_change = on_change
        self.interval = interval
        self._files: frozenset[Path] = frozenset()
        self._trees: frozenset[Path] = frozenset()
        self._snapshot: dict[Path, Signature] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def watch(self, files: Iterable[Path], trees: Iterable[Path]) -> None:
        """Replace the watched set. Already-watched paths keep their last signature, so a
        change made while the set is being replaced is still reported."""
        files, trees = frozenset(files), frozenset(trees)
        fresh = scan(files, trees)
        with self._lock:
            known = self._snapshot
            self._files, self._trees = files, trees
            self._snapshot = {p: known.get(p, sig) for p, sig in fresh.items()}
            # A watched file that existed before and is gone now is still a change.
            for path, sig in known.items():
                if path not in fresh and self._covers(path):
                    self._snapshot[path] = sig

    def _covers(self, path: Path) -> bool:
        return path in self._files or any(t in path.parents for t in self._trees)

    @property
    def watched(self) -> tuple[frozenset[Path], frozenset[Path]]:
        """The watched files and folder trees."""
        return self._files, self._trees

    def poll(self) -> set[Path]:
        """Scan once; report and return what changed since the previous scan."""
        with self._lock:
            files, trees, old = self._files, self._trees, self._snapshot
        new = scan(files, trees)
        with self._lock:
            if self._snapshot is not old:  # `watch` replaced the set meanwhile: rescan later
                return set()
            self._snapshot = new
        changed = changed_paths(old, new)
        if changed:
            self.on_change(changed, self._written_at(changed, new))
        return changed

    def _written_at(self, changed: set[Path], new: dict[Path, Signature]) -> float:
        """When the newest change was written, on the monotonic clock. An mtime is wall
        time; its age is clamped to one poll interval so a skewed clock cannot move it."""
        now_wall, now = time.time(), time.monotonic()
        newest = max((new[p][0] / 1e9 for p in changed if p in new), default=now_wall)
        age = min(max(now_wall - newest, 0.0), self.interval)
        return now - age

    def start(self) -> None:
        """Poll in a daemon thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="digest-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def stop(self) -> None:
        """Stop polling and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
