"""A build takes paper pages whose inputs did not change from the previous build
(digest.reuse), and publishes exactly the site a full build would."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import main
from digest.reuse import KEPT_OUTPUTS, _cards_path, store_path
from tests.conftest import ALL_SOURCES, DEMO_DATE, SEEDS

NEXT_DAY = DEMO_DATE + dt.timedelta(days=1)
# A paper of the daily listing (it has no arXiv id: its page is papers/<title slug>/).
EDITED_TITLE = "SurgLaVi: Large-Scale Hierarchical Dataset for Surgical Vision-Language"
EDITED_ABSTRACT = "Vision-language pre-training (VLP) offers unique advantages for surgery"


def _site(site_factory, extra: str = "", files: dict[str, str] | None = None) -> Path:
    return site_factory(config=extra + ALL_SOURCES, seeds=SEEDS, files=files)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _inodes(folder: Path) -> dict[str, int]:
    return {
        p.relative_to(folder).as_posix(): p.stat().st_ino for p in folder.rglob("*") if p.is_file()
    }


def _edit_one_abstract(root: Path) -> None:
    listing = root / "data" / "hf-daily-papers.txt"
    text = listing.read_text(encoding="utf-8")
    assert text.count(EDITED_ABSTRACT) == 1
    listing.write_text(
        text.replace(EDITED_ABSTRACT, EDITED_ABSTRACT.replace("surgery", "keyhole surgery")),
        encoding="utf-8",
    )


def _paper(result):
    return next(p for p in result.site.papers if p.title.startswith(EDITED_TITLE))


def _page_of(result, title_start: str = EDITED_TITLE) -> Path:
    paper = next(p for p in result.site.papers if p.title.startswith(title_start))
    return result.outdir / result.site.paper_url(paper) / "index.html"


@pytest.mark.parametrize("parallel", [False, True])
def test_a_night_later_unchanged_pages_are_taken_and_the_site_is_what_a_full_build_makes(
    site_factory, build_site, monkeypatch, parallel
) -> None:
    if parallel:
        monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
        monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)
    root = _site(site_factory)
    first = build_site(root, force=False)
    assert first.reused == 0
    papers = len(first.site.papers) + len(first.site.archived)
    record = json.loads(store_path(root, first.outdir).read_text(encoding="utf-8"))
    assert len(record["pages"]) == papers  # every paper page, and only those
    before = _inodes(first.outdir)

    _edit_one_abstract(root)  # and a night passes: every trending score moves
    second = build_site(root, date=NEXT_DAY, force=False)
    # Papers on the Trending page and papers related to them change (their why, their
    # age), and so does the edited one; the other papers' pages are taken as they were.
    assert papers * 0.5 < second.reused < papers
    edited = _page_of(second)
    assert "keyhole surgery" in edited.read_text(encoding="utf-8")
    rel = edited.relative_to(second.outdir).as_posix()
    assert before[rel] != _inodes(second.outdir)[rel]
    now = _inodes(second.outdir)
    kept = [rel for rel, ino in before.items() if rel.startswith("papers/") and now[rel] == ino]
    assert len(kept) >= second.reused

    full = build_site(root, date=NEXT_DAY, outdir=root / "full")
    assert full.reused == 0
    assert _tree(second.outdir) == _tree(full.outdir)


def test_force_renders_every_page(site_factory, build_site) -> None:
    root = _site(site_factory)
    build_site(root, force=False)
    again = build_site(root, date=NEXT_DAY, force=True)
    assert again.reused == 0
    later = build_site(root, date=NEXT_DAY + dt.timedelta(days=1), force=False)
    assert later.reused > 0  # (a forced build still records what it published)


def test_a_page_edited_in_the_published_site_is_rendered_again(site_factory, build_site) -> None:
    root = _site(site_factory)
    first = build_site(root, force=False)
    page = _page_of(first)
    original = page.read_bytes()
    page.write_bytes(original.replace(b"Abstract", b"Tampered"))
    second = build_site(root, force=False)  # (the same day: only that file changed)
    assert second.unchanged is None
    assert second.reused == len(second.site.papers) - 1
    assert _page_of(second).read_bytes() == original


def test_a_site_restored_from_a_cache_is_reused(site_factory, build_site) -> None:
    # As a CI job restores the last night's site and .digest-cache: new inodes and times.
    root = _site(site_factory)
    first = build_site(root, force=False)
    copy = root / "restored"
    shutil.copytree(first.outdir, copy, copy_function=shutil.copy)
    shutil.rmtree(first.outdir)
    copy.rename(first.outdir)
    second = build_site(root, date=NEXT_DAY, force=False)
    assert second.reused > len(second.site.papers) // 2
    assert _tree(second.outdir) == _tree(build_site(root, date=NEXT_DAY, outdir=root / "f").outdir)


def test_a_damaged_record_is_ignored(site_factory, build_site) -> None:
    root = _site(site_factory)
    first = build_site(root, force=False)
    store_path(root, first.outdir).write_text('{"format": 1, "pages": [', encoding="utf-8")
    second = build_site(root, date=NEXT_DAY, force=False)
    assert second.reused == 0
    assert _tree(second.outdir) == _tree(build_site(root, date=NEXT_DAY, outdir=root / "f").outdir)
    assert build_site(root, date=DEMO_DATE, force=False).reused > 0  # recorded afresh


def test_a_config_change_renders_every_page(site_factory, build_site) -> None:
    root = _site(site_factory, 'title = "Before"\n')
    build_site(root, force=False)
    config = root / "site.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace('"Before"', '"After"'), encoding="utf-8"
    )
    second = build_site(root, force=False)
    assert second.reused == 0
    assert "After" in _page_of(second).read_text(encoding="utf-8")


def test_a_template_that_reads_the_build_date_gets_pages_that_are_never_taken(
    site_factory, build_site
) -> None:
    paper_html = """\
        {% extends "default:paper.html" %}
        {% block content %}{{ super() }}<p class="as-of">{{ site.date }}</p>{% endblock %}
        """
    root = _site(
        site_factory,
        'theme_dir = "overrides"\n',
        {"overrides/templates/paper.html": paper_html},
    )
    first = build_site(root, force=False)
    assert json.loads(store_path(root, first.outdir).read_text(encoding="utf-8"))["pages"] == {}
    second = build_site(root, date=NEXT_DAY, force=False)
    assert second.reused == 0
    assert f'<p class="as-of">{NEXT_DAY}</p>' in _page_of(second).read_text("utf-8")


PLUGIN = """\
    from digest import hookimpl

    def motto(site):
        return (site.config.root / "motto.txt").read_text(encoding="utf-8")

    @hookimpl
    def digest_jinja_env(env, site):
        env.globals["motto"] = motto(site)
    {declared}
    """
DECLARED = """
    @hookimpl
    def digest_page_inputs(site):
        return motto(site)
"""
MOTTO_PAPER = """\
    {% extends "default:paper.html" %}
    {% block content %}{{ super() }}<p class="motto">{{ motto }}</p>{% endblock %}
    """


@pytest.mark.parametrize("declared", [False, True])
def test_a_plugin_that_adds_to_jinja_must_say_what_it_reads(
    site_factory, build_site, declared
) -> None:
    plugin = textwrap.dedent(PLUGIN.format(declared=DECLARED if declared else ""))
    root = _site(
        site_factory,
        'theme_dir = "overrides"\n[plugins]\nlocal = ["motto"]\n',
        {
            "plugins/motto.py": plugin,
            "overrides/templates/paper.html": MOTTO_PAPER,
            "motto.txt": "Read on",
        },
    )
    first = build_site(root, force=False)
    assert store_path(root, first.outdir).exists() == declared
    second = build_site(root, date=NEXT_DAY, force=False)
    assert (second.reused > 0) == declared
    # What the plugin declares is part of every page's fingerprint (motto.txt is none of
    # the site's files the build knows of).
    (root / "motto.txt").write_text("Read more", encoding="utf-8")
    third = build_site(root, date=NEXT_DAY + dt.timedelta(days=1), force=False)
    assert third.reused == 0
    assert '<p class="motto">Read more</p>' in _page_of(third).read_text("utf-8")


def test_the_command_says_how_many_pages_it_took(site_factory) -> None:
    root = _site(site_factory)
    runner = CliRunner()
    args = ["build", "--config", str(root / "site.toml")]
    first = runner.invoke(main, [*args, "--date", DEMO_DATE.isoformat()])
    assert first.exit_code == 0, first.output
    assert "unchanged since the last build" not in first.output
    second = runner.invoke(main, [*args, "--date", NEXT_DAY.isoformat()])
    assert second.exit_code == 0, second.output
    taken = int(second.output.split(" unchanged since the last build")[0].rsplit(", ", 1)[1])
    assert taken > 100
    forced = runner.invoke(main, [*args, "--date", NEXT_DAY.isoformat(), "--force"])
    assert "unchanged since the last build" not in forced.output
    assert os.path.isdir(root / "_site")


def test_a_related_papers_change_renders_the_pages_that_list_it_again(
    site_factory, build_site
) -> None:
    root = _site(site_factory)
    first = build_site(root, force=False)
    page = next(p for p in first.site.pages if p.url == first.site.paper_url(_paper(first)))
    other = page.context["related"][0]
    # Another spelling of its title: the same paper (the same key and page), shown anew
    # in the related list of every paper it is related to.
    respelled = other.title.upper()
    touched = 0
    for listing in (root / "data").iterdir():
        text = listing.read_text(encoding="utf-8")
        if other.title in text:
            listing.write_text(text.replace(other.title, respelled), encoding="utf-8")
            touched += 1
    assert touched
    second = build_site(root, force=False)
    assert 0 < second.reused < len(second.site.papers)
    assert respelled in _page_of(second).read_text(encoding="utf-8")
    assert _tree(second.outdir) == _tree(build_site(root, outdir=root / "full").outdir)


def _record(root: Path, result) -> dict:
    return json.loads(store_path(root, result.outdir).read_text(encoding="utf-8"))


def test_unchanged_cards_are_taken_from_the_previous_build(
    site_factory, build_site, monkeypatch
) -> None:
    from digest.render import CardCache

    rendered: list[str] = []
    render = CardCache._render

    def counting(self, site, paper, show_abstract):
        rendered.append(paper.key)
        return render(self, site, paper, show_abstract)

    monkeypatch.setattr(CardCache, "_render", counting)
    root = _site(site_factory)
    first = build_site(root, force=False)
    assert len(rendered) >= len(first.site.papers)
    assert len(_record(root, first)["cards"]) == len(rendered)
    rendered.clear()
    _edit_one_abstract(root)
    second = build_site(root, date=NEXT_DAY, force=False)
    # The edited paper's card and those of the papers on the Trending page (their "why"
    # moved with the date) are rendered again; every other card is read back.
    assert _paper(second).key in rendered
    assert 0 < len(rendered) < len(second.site.papers) // 4
    assert _tree(second.outdir) == _tree(build_site(root, date=NEXT_DAY, outdir=root / "f").outdir)
    # A card file that is not the one the record names is not read.
    cards = _cards_path(root, second.outdir)  # (not the full build's, beside it)
    cards.write_bytes(cards.read_bytes()[:-1])
    rendered.clear()
    third = build_site(root, date=NEXT_DAY + dt.timedelta(days=1), force=False)
    assert len(rendered) >= len(third.site.papers)
    assert third.reused > 0  # (the pages still are)


def test_a_card_that_reads_the_build_date_is_never_kept(site_factory, build_site) -> None:
    card = """\
        {% extends "default:_card.html" %}
        {% block card_foot %}{{ super() }}<p class="as-of">{{ site.date }}</p>{% endblock %}
        """
    root = _site(
        site_factory, 'theme_dir = "overrides"\n', {"overrides/templates/_card.html": card}
    )
    first = build_site(root, force=False)
    assert _record(root, first)["cards"] == {}
    second = build_site(root, date=NEXT_DAY, force=False)
    assert f'<p class="as-of">{NEXT_DAY}</p>' in (second.outdir / "index.html").read_text("utf-8")


def test_records_of_only_the_last_few_output_folders_are_kept(site_factory, build_site) -> None:
    root = _site(site_factory)
    outs = [root / f"out-{i}" for i in range(KEPT_OUTPUTS + 2)]
    for out in outs:
        build_site(root, outdir=out, force=False)
    cache = root / ".digest-cache"
    assert sorted(cache.glob("pages-*.json")) == sorted(
        store_path(root, out) for out in outs[-KEPT_OUTPUTS:]
    )
    assert len(list(cache.glob("cards-*.bin"))) == KEPT_OUTPUTS
    assert build_site(root, date=NEXT_DAY, outdir=outs[-1], force=False).reused > 0
