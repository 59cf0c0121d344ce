"""A build with nothing changed is skipped; any change to what a site is made from is not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from tests.conftest import DEMO_DATE

SITE = """
title = "T"
theme_dir = "overrides"
intro = "intro.md"
[[sources]]
path = "data/hf-papers-search-a.txt"
"""


@pytest.fixture
def root(site_factory) -> Path:
    return site_factory(
        SITE,
        files={"overrides/templates/.keep": "", "intro.md": "Hello."},
        seeds=["hf-papers-search-a.txt"],
    )


def inodes(out: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in out.rglob("*")
        if p.is_file()
    }


def test_second_build_with_nothing_changed_is_skipped(root, build_site) -> None:
    first = build_site(root, force=False)
    assert first.unchanged is None
    before = inodes(first.outdir)
    again = build_site(root, force=False)
    assert again.unchanged is not None
    assert again.unchanged["papers"] == len(first.site.papers) == 239
    assert (again.pages, again.files) == (first.pages, first.files)
    assert inodes(again.outdir) == before
    # The output folder itself was not replaced either.
    assert not list(root.glob("._site.*"))


@pytest.mark.parametrize(
    "change",
    [
        "source",
        "template",
        "config",
        "intro",
        "local plugin",
        "date",
        "deleted output file",
        "edited output file",
        "force",
        "report",
    ],
)
def test_any_change_means_a_real_build(root, build_site, change, tmp_path) -> None:
    first = build_site(root, force=False)
    out = first.outdir
    kwargs: dict[str, object] = {"force": False}
    if change == "source":
        listing = root / "data/hf-papers-search-a.txt"
        listing.write_text(listing.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    elif change == "template":
        (root / "overrides/templates/404.html").write_text(
            '{% extends "default:404.html" %}', encoding="utf-8"
        )
    elif change == "config":
        (root / "site.toml").write_text(SITE.replace('"T"', '"T2"'), encoding="utf-8")
    elif change == "intro":
        (root / "intro.md").write_text("Hello again.", encoding="utf-8")
    elif change == "local plugin":
        (root / "site.toml").write_text(SITE + '[plugins]\nlocal = ["mine"]\n', encoding="utf-8")
        (root / "plugins").mkdir()
        (root / "plugins/mine.py").write_text("X = 1\n", encoding="utf-8")
        assert build_site(root, force=False).unchanged is None
        (root / "plugins/mine.py").write_text("X = 2\n", encoding="utf-8")
    elif change == "date":
        kwargs["date"] = DEMO_DATE + dt.timedelta(days=1)
    elif change == "deleted output file":
        (out / "about/index.html").unlink(missing_ok=True)
        (out / "search/index.html").unlink()
    elif change == "edited output file":
        (out / "index.html").write_text("vandalised", encoding="utf-8")
    elif change == "force":
        kwargs["force"] = True
    elif change == "report":
        kwargs["report"] = tmp_path / "report.json"
    result = build_site(root, **kwargs)
    assert result.unchanged is None
    assert (out / "search/index.html").is_file()
    assert "vandalised" not in (out / "index.html").read_text(encoding="utf-8")
    # and the build after it, with nothing changed again, is skipped
    assert build_site(root, **{**kwargs, "force": False, "report": None}).unchanged is not None


def test_cli_says_the_site_is_up_to_date(root) -> None:
    args = ["build", "--config", str(root / "site.toml"), "--date", DEMO_DATE.isoformat()]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("239 papers from 1 sources")
    second = CliRunner().invoke(main, args)
    assert second.exit_code == 0, second.output
    assert second.output.startswith("up to date: nothing changed since the last build (239 papers")
    forced = CliRunner().invoke(main, [*args, "--force"])
    assert forced.output.startswith("239 papers from 1 sources")
