"""Build history: a SQLite database of every paper each nightly build saw.

Per build date it records every paper of the digest (its place in that day's order, its
upvotes, its sightings per source with position and upvotes) and the paper itself (its
canonical JSON, `Paper.to_json`, stored once per distinct content). From that the site can
show each day's digest as its own archive page (the papers first seen that day, as they were
that day) long after the sources have moved on, and trending can measure upvote velocity.

History is off unless site.toml names a file (``history = "history.sqlite"``, relative to
site.toml) or ``digest build --history PATH`` does: with it a build writes state next to
the site and takes a lock, which one-off and preview builds should not do unasked (and the
tests, which build the repo's demo, must not write into the repo). A build with history:

- takes an exclusive lock (``<file>.lock``, `fcntl.flock`, non-blocking) before reading, so a
  second build of the same site is refused with the first one's pid instead of interleaving;
- reads the history *as of* its date (earlier dates only), puts a `History` view in
  ``site.data["history"]`` and lets plugins and pages use it;
- records its own sightings in ONE transaction that commits only after the new site was
  published; rebuilding a date replaces that date's records, so reruns are idempotent and a
  failed or killed build leaves the database as it was.

The schema is versioned with ``PRAGMA user_version`` and upgraded by `MIGRATIONS`.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digest.config import Config
from digest.errors import BuildError, ConfigError
from digest.model import Paper
from digest.site import Site

DEFAULT_FILE = "history.sqlite"

# One script per schema version; entry i upgrades a database from version i to i + 1.
# Append, never edit: databases in the wild were created by the earlier entries.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE builds (
        date TEXT PRIMARY KEY,              -- the build's --date, ISO
        papers INTEGER NOT NULL,            -- papers in that day's digest
        entries INTEGER NOT NULL,           -- listing entries read, before merging
        sources TEXT NOT NULL               -- JSON: [{name, format, entries, problems}]
    ) WITHOUT ROWID;
    -- Keys and snapshots are interned: the per-day tables then hold small integers only.
    CREATE TABLE papers (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE            -- Paper.key
    );
    CREATE TABLE snapshots (
        id INTEGER PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,          -- sha256 of json
        json TEXT NOT NULL                  -- Paper.to_json() without key and sightings
    );
    CREATE TABLE seen (
        date TEXT NOT NULL REFERENCES builds(date),
        paper INTEGER NOT NULL REFERENCES papers(id),
        rank INTEGER NOT NULL,              -- 1-based place in that day's digest
        upvotes INTEGER,                    -- Paper.upvotes that day
        snapshot INTEGER NOT NULL REFERENCES snapshots(id),
        PRIMARY KEY (date, paper)
    ) WITHOUT ROWID;
    CREATE INDEX seen_by_paper ON seen(paper, date);
    CREATE TABLE sightings (
        date TEXT NOT NULL,
        paper INTEGER NOT NULL,
        seq INTEGER NOT NULL,               -- order within Paper.sightings
        source TEXT NOT NULL,
        position INTEGER,
        upvotes INTEGER,
        listed TEXT,                        -- Sighting.date
        line INTEGER,
        url TEXT,
        PRIMARY KEY (date, paper, seq),
        FOREIGN KEY (date, paper) REFERENCES seen(date, paper)
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def history_path(
    config: Config, override: Path | None = None, output: Path | None = None
) -> Path | None:
    """The history database a build of `config` uses: `override`, else site.toml's
    ``history``, else None (history off). Raises `ConfigError` when it lies inside the
    `output` folder, which every build replaces."""
    path = override if override is not None else config.history
    if path is None:
        return None
    path = path.resolve()
    if output is not None and output.resolve() in path.parents:
        raise ConfigError(
            f"history {path} is inside the output folder {output}, which each build "
            "replaces; keep it next to site.toml"
        )
    return path


class HistoryLock:
    """An exclusive, non-blocking lock on ``<database>.lock``, holding the owner's pid.

    The lock file is never deleted: removing it would let a third build lock a new file
    while the second still holds the old one.
    """

    def __init__(self, database: Path):
        self.path = database.with_name(database.name + ".lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise `BuildError` naming the build that holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            database = self.path.with_name(self.path.name.removesuffix(".lock"))
            raise BuildError(
                f"another build (pid {holder}) is writing the history {database}; "
                "wait for it to finish, then build again"
            )
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Release the lock (closing the file releases the flock)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to an existing database, in autocommit mode (transactions are explicit)."""
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=rw", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise BuildError(f"{path}: cannot open the history database: {exc}")
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """The schema version a database is at (0 for a new, empty one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the schema up to `SCHEMA_VERSION`, each step in its own transaction."""
    version = _checked_version(conn, path)
    for number in range(version, SCHEMA_VERSION):
        try:
            conn.executescript(
                f"BEGIN IMMEDIATE;\n{MIGRATIONS[number]}\nPRAGMA user_version = {number + 1};\n"
                "COMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise BuildError(f"{path}: upgrading the history schema to v{number + 1}: {exc}")


def _checked_version(conn: sqlite3.Connection, path: Path) -> int:
    try:
        version = schema_version(conn)
    except sqlite3.DatabaseError as exc:
        raise BuildError(f"{path}: not a history database: {exc}")
    if version > SCHEMA_VERSION:
        raise BuildError(
            f"{path}: history schema v{version} was written by a newer paper-digest "
            f"(this one knows v{SCHEMA_VERSION}); upgrade paper-digest"
        )
    return version


@dataclass(frozen=True, slots=True)
class DayRecord:
    """One recorded build date: papers in its digest, papers first seen then, sources."""

    date: dt.date
    papers: int
    first_seen: int
    entries: int
    sources: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON-ready dict."""
        return {
            "date": self.date.isoformat(),
            "papers": self.papers,
            "first_seen": self.first_seen,
            "entries": self.entries,
            "sources": self.sources,
        }


class HistoryDB:
    """An open history database.

    `for_build` locks it, upgrades its schema and can record a build; `for_reading` only
    reads (a build may be writing meanwhile: SQLite shows readers the last commit). A
    database that does not exist yet reads as empty and is created by the first `record`.
    Always `close` it (or use it as a context manager): that rolls back anything not
    committed and releases the lock.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection | None, lock: HistoryLock | None):
        self.path = path.resolve()
        self.conn = conn
        self.lock = lock
        self._created = False
        self._closed = False

    @classmethod
    def for_build(cls, path: Path) -> HistoryDB:
        """Lock `path` for one build and open it (when it exists), schema upgraded."""
        path = path.resolve()
        lock = HistoryLock(path)
        lock.acquire()
        db = cls(path, None, lock)
        try:
            if path.exists():
                db.conn = _connect(path)
                migrate(db.conn, path)
        except BaseException:
            db.close()
            raise
        return db

    @classmethod
    def for_reading(cls, path: Path) -> HistoryDB:
        """Open `path` to read; it must exist and be at the current schema version."""
        path = path.resolve()
        if not path.is_file():
            raise BuildError(f"{path}: no history database (a build with history creates it)")
        conn = _connect(path)
        db = cls(path, conn, None)
        try:
            if _checked_version(conn, path) != SCHEMA_VERSION:
                raise BuildError(
                    f"{path}: history schema v{schema_version(conn)} is older than "
                    f"v{SCHEMA_VERSION}; run `digest build` once to upgrade it"
                )
        except BaseException:
            db.close()
            raise
        return db

    def __enter__(self) -> HistoryDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Roll back what was not committed, close the database and release the lock."""
        if self.conn is not None:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            self.conn.close()
            self.conn = None
        if self._created:
            # The first record of a new database failed: leave no empty file behind.
            self.path.unlink(missing_ok=True)
            self._created = False
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        self._closed = True

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """The rows of a query (none when the database does not exist yet)."""
        if self._closed:
            raise BuildError(f"{self.path}: the history database is closed")
        if self.conn is None:
            return []
        return self.conn.execute(sql, params).fetchall()

    def view(self, date: dt.date) -> History:
        """The history as a build dated `date` sees it (dates before `date` only)."""
        return History(self, date)

    # -- writing ------------------------------------------------------------------------

    def record(self, site: Site) -> None:
        """Write `site`'s papers as the records of ``site.date``, replacing any earlier
        records of that date, inside a transaction left open for `commit`."""
        if self.lock is None:
            raise BuildError(f"{self.path}: opened for reading, cannot record a build")
        if self.conn is None:
            self._created = not self.path.exists()
            self.conn = sqlite3.connect(self.path, isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys = ON")
            migrate(self.conn, self.path)
        day = site.date.isoformat()
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        for table in ("sightings", "seen", "builds"):
            conn.execute(f"DELETE FROM {table} WHERE date = ?", (day,))
        sources = [
            {"name": s.name, "format": s.format, "entries": s.entries, "problems": s.problems}
            for s in site.sources
        ]
        conn.execute(
            "INSERT INTO builds (date, papers, entries, sources) VALUES (?, ?, ?, ?)",
            (day, len(site.papers), sum(s.entries for s in site.sources), _dumps(sources)),
        )
        for rank, paper in enumerate(site.papers, start=1):
            obj = paper.to_json()
            del obj["key"]
            sightings = obj.pop("sightings")
            snap = _snapshot_id(conn, _dumps(obj))
            paper_id = _paper_id(conn, paper.key)
            conn.execute(
                "INSERT INTO seen (date, paper, rank, upvotes, snapshot) VALUES (?, ?, ?, ?, ?)",
                (day, paper_id, rank, paper.upvotes, snap),
            )
            conn.executemany(
                "INSERT INTO sightings (date, paper, seq, source, position, upvotes, listed,"
                " line, url) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        day,
                        paper_id,
                        seq,
                        s["source"],
                        s["position"],
                        s["upvotes"],
                        s["date"],
                        s["line"],
                        s["url"],
                    )
                    for seq, s in enumerate(sightings)
                ],
            )
        conn.execute("DELETE FROM snapshots WHERE id NOT IN (SELECT snapshot FROM seen)")
        conn.execute("DELETE FROM papers WHERE id NOT IN (SELECT paper FROM seen)")

    def commit(self) -> None:
        """Commit what `record` wrote (call only once the site is published)."""
        if self.conn is not None and self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self._created = False

    # -- reading ------------------------------------------------------------------------

    def days(self) -> list[DayRecord]:
        """Every recorded build date, oldest first, with its counts."""
        rows = self.rows(
            "SELECT b.date, b.papers, b.entries, b.sources,"
            " (SELECT COUNT(*) FROM seen s WHERE s.date = b.date AND NOT EXISTS"
            "  (SELECT 1 FROM seen e WHERE e.paper = s.paper AND e.date < s.date))"
            " FROM builds b ORDER BY b.date"
        )
        return [
            DayRecord(dt.date.fromisoformat(d), papers, new, entries, json.loads(sources))
            for d, papers, entries, sources, new in rows
        ]

    def paper_count(self) -> int:
        """How many distinct papers the history holds."""
        rows = self.rows("SELECT COUNT(*) FROM papers")
        return int(rows[0][0]) if rows else 0

    def export(self) -> Iterator[dict[str, Any]]:
        """Everything, as JSON-ready records in a fixed order: per date (oldest first) one
        ``build`` record, then one ``paper`` record per paper in that day's digest order."""
        for day in self.days():
            yield {"type": "build", **day.to_json()}
            papers = self.papers_where("s.date = ?", (day.date.isoformat(),))
            first = dict(
                self.rows(
                    "SELECT p.key, MIN(e.date) FROM seen s JOIN seen e ON e.paper = s.paper"
                    " JOIN papers p ON p.id = s.paper WHERE s.date = ? GROUP BY p.key",
                    (day.date.isoformat(),),
                )
            )
            for rank, (_, paper) in enumerate(papers, start=1):
                yield {
                    "type": "paper",
                    "date": day.date.isoformat(),
                    "rank": rank,
                    "first_seen": first[paper.key],
                    "upvotes": paper.upvotes,
                    "paper": paper.to_json(),
                }

    def papers_where(self, where: str, params: tuple[Any, ...]) -> list[tuple[dt.date, Paper]]:
        """(date, paper as seen that date) for the ``seen s`` rows matching `where`,
        ordered by date then rank; each paper rebuilt from its snapshot and sightings."""
        picked = f"SELECT s.date, s.paper FROM seen s WHERE {where}"
        sightings: dict[tuple[str, int], list[dict[str, Any]]] = {}
        for date, paper, source, position, upvotes, listed, line, url in self.rows(
            f"WITH pick(date, paper) AS ({picked}) SELECT g.date, g.paper, g.source, g.position,"
            " g.upvotes, g.listed, g.line, g.url FROM sightings g JOIN pick USING (date, paper)"
            " ORDER BY g.date, g.paper, g.seq",
            params,
        ):
            sightings.setdefault((date, paper), []).append(
                {
                    "source": source,
                    "position": position,
                    "upvotes": upvotes,
                    "date": listed,
                    "line": line,
                    "url": url,
                }
            )
        papers = []
        for date, paper, text in self.rows(
            f"WITH pick(date, paper) AS ({picked}) SELECT s.date, s.paper, n.json FROM seen s"
            " JOIN pick USING (date, paper) JOIN snapshots n ON n.id = s.snapshot"
            " ORDER BY s.date, s.rank",
            params,
        ):
            obj = json.loads(text)
            obj["sightings"] = sightings.get((date, paper), [])
            papers.append((dt.date.fromisoformat(date), Paper.from_json(obj)))
        return papers


def _paper_id(conn: sqlite3.Connection, key: str) -> int:
    conn.execute("INSERT OR IGNORE INTO papers (key) VALUES (?)", (key,))
    return int(conn.execute("SELECT id FROM papers WHERE key = ?", (key,)).fetchone()[0])


def _snapshot_id(conn: sqlite3.Connection, text: str) -> int:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    conn.execute("INSERT OR IGNORE INTO snapshots (hash, json) VALUES (?, ?)", (digest, text))
    return int(conn.execute("SELECT id FROM snapshots WHERE hash = ?", (digest,)).fetchone()[0])


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def snapshot(paper: Paper) -> Paper:
    """`paper` as the history stores and returns it: loaded fields only, no plugin data."""
    return Paper.from_json(paper.to_json())


class History:
    """The history as one build sees it: recorded dates before the build's date, plus the
    build in progress (once `attach` gave it the site).

    This is what ``site.data["history"]`` holds. Trending reads `previous_upvotes` and
    `previous_date`; the archive pages read `archive_days`.
    """

    def __init__(self, db: HistoryDB, date: dt.date):
        self.db = db
        self.date = date
        before = (date.isoformat(),)
        self._dates = [
            dt.date.fromisoformat(d)
            for (d,) in db.rows("SELECT date FROM builds WHERE date < ? ORDER BY date", before)
        ]
        self.previous_date: dt.date | None = self._dates[-1] if self._dates else None
        self._first: dict[str, dt.date] = {}
        self._first_by_day: dict[dt.date, list[str]] = {}
        for day, key in db.rows(
            "SELECT s.date, p.key FROM seen s JOIN papers p ON p.id = s.paper"
            " WHERE s.date < ? ORDER BY s.date, s.rank",
            before,
        ):
            if key not in self._first:
                self._first[key] = dt.date.fromisoformat(day)
                self._first_by_day.setdefault(self._first[key], []).append(key)
        self._previous: dict[str, int | None] = {}
        if self.previous_date is not None:
            self._previous = dict(
                db.rows(
                    "SELECT p.key, s.upvotes FROM seen s JOIN papers p ON p.id = s.paper"
                    " WHERE s.date = ?",
                    (self.previous_date.isoformat(),),
                )
            )
        self._site: Site | None = None
        self._recorded_days: dict[dt.date, list[Paper]] = {}
        self._archived: list[Paper] = []

    def attach(self, site: Site) -> None:
        """Make `site`'s papers the build in progress (its date must be this view's) and
        read what the pages need, so the view still answers once the database is closed."""
        self._site = site
        self._recorded_days = {}
        for day, paper in self.db.papers_where(
            "s.date < ? AND NOT EXISTS (SELECT 1 FROM seen e WHERE e.paper = s.paper"
            " AND e.date < s.date)",
            (self.date.isoformat(),),
        ):
            self._recorded_days.setdefault(day, []).append(paper)
        current = {p.key for p in site.papers}
        latest = self.db.papers_where(
            "s.date = (SELECT MAX(e.date) FROM seen e WHERE e.paper = s.paper AND e.date < ?)",
            (self.date.isoformat(),),
        )
        self._archived = sorted((p for _, p in latest if p.key not in current), key=lambda p: p.key)

    def _current(self) -> list[Paper]:
        return self._site.papers if self._site is not None else []

    def previous_upvotes(self, key: str) -> int | None:
        """Upvotes of paper `key` at the latest earlier build date (`previous_date`), None
        when that build did not see it or it had no upvotes."""
        return self._previous.get(key)

    def first_seen(self, key: str) -> dt.date | None:
        """The build date that first saw paper `key` (this build's date for a new paper)."""
        if key in self._first:
            return self._first[key]
        if any(p.key == key for p in self._current()):
            return self.date
        return None

    def days(self) -> list[dt.date]:
        """Recorded build dates before this build's, then this build's date, oldest first."""
        return [*self._dates, self.date] if self._site is not None else list(self._dates)

    def papers_first_seen(self, day: dt.date) -> list[str]:
        """Keys of the papers first seen at `day`, in that day's digest order."""
        if day == self.date:
            return [p.key for p in self._current() if p.key not in self._first]
        return list(self._first_by_day.get(day, ()))

    def archive_days(self) -> dict[dt.date, list[Paper]]:
        """Day → the papers first seen that day, as they were that day (`snapshot`s, no
        plugin data, so an earlier day's page never changes), in that day's digest order.
        Days without a new paper are left out."""
        days = {day: list(papers) for day, papers in self._recorded_days.items()}
        today = [snapshot(p) for p in self._current() if p.key not in self._first]
        if today:
            days[self.date] = today
        return days

    def archived_papers(self) -> list[Paper]:
        """Papers earlier builds saw that this build's sources no longer list, each as last
        seen, by key: they keep their pages so archive links stay valid."""
        return list(self._archived)


def attach_read_only(site: Site, database: Path | None) -> History | None:
    """For previews (``digest serve``): put the history in ``site.data["history"]`` without
    locking or recording anything; None when there is no history database.

    Call it once ``site.papers`` is set and before the plugins run; then give the archived
    papers slugs too: set ``site.archived = view.archived_papers()`` before assigning slugs.
    """
    if database is None or not database.is_file():
        return None
    with HistoryDB.for_reading(database) as db:
        view = db.view(site.date)
        view.attach(site)
    site.data["history"] = view
    return view


__all__ = [
    "DEFAULT_FILE",
    "SCHEMA_VERSION",
    "DayRecord",
    "History",
    "HistoryDB",
    "HistoryLock",
    "attach_read_only",
    "history_path",
    "migrate",
    "snapshot",
]
