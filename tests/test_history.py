"""The history database: what a build records, what later builds see, transactions, schema
migrations, the lock, the `digest history` command and the build report."""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import SiteFactory

from digest import history as history_module
from digest.build import build
from digest.cli import main
from digest.config import Config
from digest.errors import BuildError
from digest.history import (
    SCHEMA_VERSION,
    HistoryDB,
    HistoryLock,
    attach_read_only,
    schema_version,
)
from digest.model import Paper, Sighting
from digest.site import Site, SourceReport

MON, TUE, WED = dt.date(2025, 10, 27), dt.date(2025, 10, 28), dt.date(2025, 10, 29)


def paper(name: str, upvotes: int | None = None, position: int = 1, **fields: object) -> Paper:
    """A paper listed once by the "daily" source."""
    sighting = Sighting("daily", position=position, upvotes=upvotes, date=MON, line=position)
    return Paper(title=f"Paper {name}", sightings=(sighting,), **fields)  # type: ignore[arg-type]


def night(tmp_path: Path, day: dt.date, papers: list[Paper]) -> Site:
    """The site of one build: `papers` in digest order, from one source."""
    site = Site(config=Config(path=tmp_path / "site.toml", root=tmp_path), date=day)
    site.papers = list(papers)
    site.sources = [SourceReport("daily", "hf-daily", "daily.txt", entries=len(papers))]
    return site


def record(db_path: Path, site: Site) -> None:
    with HistoryDB.for_build(db_path) as db:
        db.record(site)
        db.commit()


def export(db_path: Path) -> list[dict[str, object]]:
    with HistoryDB.for_reading(db_path) as db:
        return list(db.export())


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A history with three nights: A B on Monday, B C on Tuesday, C D on Wednesday."""
    path = tmp_path / "history.sqlite"
    record(path, night(tmp_path, MON, [paper("A", 5), paper("B", 1, 2)]))
    record(path, night(tmp_path, TUE, [paper("C", 2), paper("B", 9, 2)]))
    record(path, night(tmp_path, WED, [paper("D"), paper("C", 3, 2)]))
    return path


def test_a_build_sees_the_history_before_its_date(db_path: Path, tmp_path: Path) -> None:
    with HistoryDB.for_reading(db_path) as db:
        view = db.view(WED)
        view.attach(night(tmp_path, WED, [paper("E", 1), paper("C", 3)]))
        assert view.previous_date == TUE
        assert view.previous_upvotes(paper("B").key) == 9
        assert view.previous_upvotes(paper("C").key) == 2
        assert view.previous_upvotes(paper("A").key) is None  # not seen on Tuesday
        assert view.first_seen(paper("B").key) == MON
        assert view.first_seen(paper("E").key) == WED  # new tonight
        assert view.first_seen(paper("D").key) is None  # Wednesday's records are not "before"
        assert view.days() == [MON, TUE, WED]
        assert view.papers_first_seen(MON) == [paper("A").key, paper("B").key]
        assert view.papers_first_seen(TUE) == [paper("C").key]
        assert view.papers_first_seen(WED) == [paper("E").key]
        days = view.archive_days()
        assert list(days) == [MON, TUE, WED]
        # As they were on their first night: B had 1 upvote on Monday, 9 on Tuesday.
        assert [p.to_json() for p in days[MON]] == [
            paper("A", 5).to_json(),
            paper("B", 1, 2).to_json(),
        ]
        assert [p.key for p in days[WED]] == [paper("E").key]
        # Papers the sources dropped keep their latest look, for their pages.
        assert [p.to_json() for p in view.archived_papers()] == [
            paper("A", 5).to_json(),
            paper("B", 9, 2).to_json(),
        ]


def test_a_paper_comes_back_exactly_as_recorded(tmp_path: Path) -> None:
    rich = Paper(
        title="Scaling *laws* for 𝛼-models",
        authors=("Ada Lovelace", "Émile Borel"),
        abstract="We study <b>things</b> & stuff.",
        abstract_truncated=True,
        hidden_authors=2,
        organization="Mila",
        date=dt.date(2025, 10, 1),
        arxiv_id="2510.01234",
        arxiv_version=2,
        categories=("cs.LG", "stat.ML"),
        links={
            "pdf": "https://arxiv.org/pdf/2510.01234",
            "abs": "https://arxiv.org/abs/2510.01234",
        },
        sightings=(
            Sighting("daily", 3, 17, dt.date(2025, 10, 2), 40, "https://hf.co/papers/2510.01234"),
            Sighting("search", None, None, None, 7, None),
        ),
    )
    path = tmp_path / "history.sqlite"
    record(path, night(tmp_path, MON, [rich]))
    with HistoryDB.for_reading(path) as db:
        view = db.view(TUE)
        view.attach(night(tmp_path, TUE, []))
        assert view.archive_days()[MON][0].to_json() == rich.to_json()


def test_recording_a_date_again_replaces_it(db_path: Path, tmp_path: Path) -> None:
    record(db_path, night(tmp_path, WED, [paper("D", 4)]))
    once = export(db_path)
    record(db_path, night(tmp_path, WED, [paper("D", 4)]))
    assert export(db_path) == once
    wednesday = [r for r in once if r["date"] == WED.isoformat() and r["type"] == "paper"]
    assert [r["paper"]["title"] for r in wednesday] == ["Paper D"]  # type: ignore[index]
    with sqlite3.connect(db_path) as conn:
        snapshots = conn.execute("SELECT COUNT(*) FROM snapshots").fetchone()[0]
        papers = conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0]
    conn.close()
    assert (snapshots, papers) == (4, 4)  # C's Wednesday snapshot went with its record


def test_an_uncommitted_record_leaves_nothing(db_path: Path, tmp_path: Path) -> None:
    before = export(db_path)
    with HistoryDB.for_build(db_path) as db:
        db.record(night(tmp_path, WED, [paper("X"), paper("Y")]))
    assert export(db_path) == before
    fresh = tmp_path / "new.sqlite"
    with HistoryDB.for_build(fresh) as db:
        db.record(night(tmp_path, MON, [paper("X")]))
    assert not fresh.exists(), "a first record that was never committed leaves no file"


def test_the_schema_is_versioned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "history.sqlite"
    record(path, night(tmp_path, MON, [paper("A", 1)]))
    with HistoryDB.for_reading(path) as db:
        assert db.conn is not None and schema_version(db.conn) == SCHEMA_VERSION
    # A later version adds a migration: opening for a build applies it, data kept.
    monkeypatch.setattr(
        history_module,
        "MIGRATIONS",
        (*history_module.MIGRATIONS, "ALTER TABLE builds ADD COLUMN note TEXT;"),
    )
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(BuildError, match="run `digest build` once to upgrade"):
        HistoryDB.for_reading(path)
    with HistoryDB.for_build(path) as db:
        assert db.conn is not None and schema_version(db.conn) == SCHEMA_VERSION + 1
        assert db.view(TUE).papers_first_seen(MON) == [paper("A").key]
    monkeypatch.undo()
    with pytest.raises(BuildError, match="newer paper-digest"):
        HistoryDB.for_build(path)


def test_a_broken_migration_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "history.sqlite"
    record(path, night(tmp_path, MON, [paper("A", 1)]))
    before = export(path)
    monkeypatch.setattr(
        history_module,
        "MIGRATIONS",
        (*history_module.MIGRATIONS, "CREATE TABLE notes (x); DROP TABLE no_such_table;"),
    )
    monkeypatch.setattr(history_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(BuildError, match="upgrading the history schema to v2"):
        HistoryDB.for_build(path)
    monkeypatch.undo()
    assert export(path) == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'notes'").fetchall() == []
    conn.close()


def test_not_a_history_database(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    path.write_text("this is not SQLite\n" * 100)
    with pytest.raises(BuildError, match="not a history database"):
        HistoryDB.for_build(path)
    with pytest.raises(BuildError, match="no history database"):
        HistoryDB.for_reading(tmp_path / "missing.sqlite")


def test_the_lock_names_its_holder(tmp_path: Path) -> None:
    first = HistoryLock(tmp_path / "history.sqlite")
    first.acquire()
    try:
        with pytest.raises(BuildError, match=rf"another build \(pid {os.getpid()}\)"):
            HistoryDB.for_build(tmp_path / "history.sqlite")
    finally:
        first.release()
    HistoryDB.for_build(tmp_path / "history.sqlite").close()


def test_export_is_json_lines_in_a_fixed_order(db_path: Path) -> None:
    result = CliRunner().invoke(main, ["history", "--db", str(db_path), "--export"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    records = [json.loads(line) for line in lines]
    assert [(r["type"], r["date"]) for r in records] == [
        ("build", "2025-10-27"),
        ("paper", "2025-10-27"),
        ("paper", "2025-10-27"),
        ("build", "2025-10-28"),
        ("paper", "2025-10-28"),
        ("paper", "2025-10-28"),
        ("build", "2025-10-29"),
        ("paper", "2025-10-29"),
        ("paper", "2025-10-29"),
    ]
    b_tuesday = records[5]
    assert b_tuesday["first_seen"] == "2025-10-27" and b_tuesday["upvotes"] == 9
    assert all(line == json.dumps(json.loads(line), sort_keys=True, ensure_ascii=False)
               for line in lines)  # fmt: skip
    again = CliRunner().invoke(main, ["history", "--db", str(db_path), "--export"])
    assert again.output == result.output


def test_history_command_summarises(db_path: Path, site_factory: SiteFactory) -> None:
    result = CliRunner().invoke(main, ["history", "--db", str(db_path)])
    assert result.exit_code == 0, result.output
    assert "3 build date(s), 4 papers" in result.output
    rows = [line.split()[:4] for line in result.output.splitlines()[2:]]
    assert rows == [
        ["2025-10-27", "2", "2", "2"],
        ["2025-10-28", "2", "1", "2"],
        ["2025-10-29", "2", "1", "2"],
    ]
    root = site_factory("title = 'No history'\n")
    result = CliRunner().invoke(main, ["history", "--config", str(root / "site.toml")])
    assert result.exit_code == 2 and "no history kept" in result.output


LISTING = """\
Daily Papers

Oct 30

A first paper about things

We study things.

  • 3 authors
·
Oct 29 4

A second paper about stuff

We study stuff.

  • 2 authors
·
Oct 28
"""


def test_history_is_off_unless_configured(site_factory: SiteFactory) -> None:
    root = site_factory(
        "title = 'T'\n[[sources]]\npath = 'data/daily.txt'\nyear = 2025\n",
        files={"data/daily.txt": LISTING},
    )
    result = build(root / "site.toml", date=MON, report=root / "build.json")
    assert "history" not in result.site.data
    assert not [p.name for p in root.iterdir() if "sqlite" in p.name]
    assert json.loads((root / "build.json").read_text())["counts"]["new_today"] is None
    # By date of the papers, as before.
    assert (root / "_site" / "archive" / "2025" / "10" / "29" / "index.html").is_file()


def test_the_report_of_a_good_and_a_failed_build(site_factory: SiteFactory) -> None:
    root = site_factory(
        "title = 'T'\nhistory = 'history.sqlite'\n"
        "[[sources]]\npath = 'data/daily.txt'\nyear = 2025\n",
        files={"data/daily.txt": LISTING},
    )
    report = root / "build.json"
    build(root / "site.toml", date=MON, report=report)
    text = report.read_text()
    good = json.loads(text)
    assert text == json.dumps(good, indent=2, sort_keys=True) + "\n"
    assert good["ok"] is True and good["error"] is None and good["date"] == "2025-10-27"
    assert good["counts"] == {
        "entries": 2,
        "files": good["counts"]["files"],
        "new_today": 2,
        "pages": good["counts"]["pages"],
        "papers": 2,
        "problems": 0,
        "problems_by_kind": {},
        "reused_pages": 0,  # (the first build: no page to take from an earlier one)
        "sources": 1,
    }
    assert {"history", "load", "plugins", "pages", "render", "record"} <= set(good["phases"])
    # A truncated entry is a warning: --strict fails, and the report says why.
    (root / "data" / "daily.txt").write_text(LISTING + "\nA third paper cut off\n")
    result = CliRunner().invoke(
        main,
        ["build", "--config", str(root / "site.toml"), "--date", "2025-10-28", "--strict",
         "--report", str(report)],
    )  # fmt: skip
    assert result.exit_code == 1
    bad = json.loads(report.read_text())
    assert bad["ok"] is False and bad["date"] == "2025-10-28"
    assert bad["error"]["type"] == "BuildError" and "stop the build" in bad["error"]["message"]
    assert bad["counts"]["problems"] == len(bad["problems"]) == 1
    assert bad["counts"]["problems_by_kind"] == {bad["problems"][0]["kind"]: 1}
    # A config error: nothing read, the report still written.
    (root / "site.toml").write_text("title = 3\n")
    result = CliRunner().invoke(
        main, ["build", "--config", str(root / "site.toml"), "--report", str(report)]
    )
    assert result.exit_code == 2
    broken = json.loads(report.read_text())
    assert broken["ok"] is False and broken["error"]["exit_code"] == 2
    assert broken["counts"]["papers"] == 0 and broken["phases"] == {}


def test_a_preview_reads_the_history_without_writing(db_path: Path, tmp_path: Path) -> None:
    before = db_path.read_bytes()
    site = night(tmp_path, WED, [paper("E"), paper("C", 3)])
    view = attach_read_only(site, db_path)
    assert view is not None and site.data["history"] is view
    assert view.previous_upvotes(paper("C").key) == 2
    assert sorted(view.archive_days()) == [MON, TUE, WED]
    assert db_path.read_bytes() == before
    assert attach_read_only(night(tmp_path, WED, []), tmp_path / "none.sqlite") is None


def test_the_history_cannot_live_in_the_output_folder(site_factory: SiteFactory) -> None:
    root = site_factory(
        "title = 'T'\nhistory = '_site/history.sqlite'\n"
        "[[sources]]\npath = 'data/daily.txt'\nyear = 2025\n",
        files={"data/daily.txt": LISTING},
    )
    result = CliRunner().invoke(main, ["build", "--config", str(root / "site.toml")])
    assert result.exit_code == 2 and "inside the output folder" in result.output
