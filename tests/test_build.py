"""End to end: the demo digest builds from the repo's listings, every paper has a page, no
internal link is broken, and a failed build leaves the published site as it was."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from click.testing import CliRunner
from conftest import DEMO_DATE, REPO

from digest.build import BuildResult
from digest.cli import main
from digest.errors import BuildError, ConfigError


class LinkParser(HTMLParser):
    """Collects href/src attributes and the page's <h1> text."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.h1: list[str] = []
        self._in_h1 = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "base":
            return  # 404.html's <base href> (the site's path) is what its links are relative to
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)
        self._in_h1 = self._in_h1 or tag == "h1"

    def handle_endtag(self, tag: str) -> None:
        if tag == "h1":
            self._in_h1 = False

    def handle_data(self, data: str) -> None:
        if self._in_h1:
            self.h1.append(data)


def parse(path: Path) -> LinkParser:
    parser = LinkParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def resolve(out: Path, page: Path, link: str) -> Path | None:
    """The file an internal link points to, or None for an external link."""
    url, _ = urldefrag(link)
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not url or url.startswith("mailto:"):
        return None
    target = (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    assert target.is_relative_to(out), f"{page}: {link} leaves the site"
    return target


def test_demo_builds_every_paper_page(demo_site: BuildResult) -> None:
    out = demo_site.outdir
    site = demo_site.site
    assert len(site.papers) > 200
    assert [s.entries > 0 for s in site.sources] == [True] * 4
    paper_pages = sorted(out.glob("papers/*/index.html"))
    assert len(paper_pages) == len(site.papers)
    for paper in site.papers[:50]:
        page = out / site.paper_url(paper) / "index.html"
        assert "".join(parse(page).h1).split() == paper.title.replace("$", "").split() or (
            "$" in paper.title
        )


def test_demo_has_no_broken_internal_links(demo_site: BuildResult) -> None:
    out = demo_site.outdir
    broken = []
    for page in sorted(out.rglob("*.html")):
        for link in parse(page).links:
            target = resolve(out, page, link)
            if target is not None and not target.is_file():
                broken.append(f"{page.relative_to(out)} → {link}")
    assert broken == []


def test_demo_has_core_pages_and_files(demo_site: BuildResult) -> None:
    out = demo_site.outdir
    for rel in (
        "index.html",
        "404.html",
        "about/index.html",
        "search/index.html",
        "archive/index.html",
        "feed.xml",
        "sitemap.xml",
        "robots.txt",
        "search/manifest.json",
    ):
        assert (out / rel).is_file(), rel
    manifest = json.loads((out / "search/manifest.json").read_text())
    for path in manifest.values():
        for file in [path] if isinstance(path, str) else path:
            if isinstance(file, str):
                assert (out / file).is_file(), file


def test_summary_line_and_exit_code(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main,
        [
            "build",
            "--config",
            str(REPO / "site.toml"),
            "--out",
            str(tmp_path / "public"),
            "--date",
            DEMO_DATE.isoformat(),
        ],
    )
    assert result.exit_code == 0, result.output
    line = result.output.strip().splitlines()[-1]
    assert " papers from 4 sources, " in line and " pages (" in line
    assert (tmp_path / "public" / "index.html").is_file()


def _good_site(site_factory):
    return site_factory(
        """
        title = "T"
        theme_dir = "overrides"
        [[sources]]
        path = "data/hf-papers-search-a.txt"
        """,
        files={"overrides/templates/.keep": ""},
        seeds=["hf-papers-search-a.txt"],
    )


def test_failed_build_leaves_published_site_untouched(site_factory, build_site) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    before = {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()}
    (root / "overrides/templates/paper.html").write_text(
        "{% block content %}{{ nope(", encoding="utf-8"
    )
    with pytest.raises(BuildError) as err:
        build_site(root)
    assert "paper.html:1" in err.value.message
    after = {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in root.iterdir() if p.name.startswith("._site")] == []


def test_a_build_leaves_the_garbage_collector_as_it_found_it(site_factory, build_site) -> None:
    """A build pauses the collector and freezes what it keeps; after it (passed or
    failed) the collector runs again and nothing stays frozen, or a process that builds
    again and again (tests, scripts) would never free the cycles of old builds."""
    root = _good_site(site_factory)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    build_site(root)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    (root / "overrides/templates/paper.html").write_text("{{ nope(", encoding="utf-8")
    with pytest.raises(BuildError):
        build_site(root)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_missing_source_fails_without_touching_output(site_factory, build_site) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    index = (result.outdir / "index.html").read_bytes()
    (root / "data/hf-papers-search-a.txt").unlink()
    with pytest.raises(BuildError) as err:
        build_site(root)
    assert "data/hf-papers-search-a.txt: [path] no such file" in err.value.message
    assert (result.outdir / "index.html").read_bytes() == index


def test_stale_files_disappear_and_unchanged_files_keep_their_inode(
    site_factory, build_site
) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    stale = result.outdir / "papers" / "stale" / "index.html"
    stale.parent.mkdir()
    stale.write_text("old")
    inode = (result.outdir / "404.html").stat().st_ino
    build_site(root)
    assert not stale.exists()
    assert (result.outdir / "404.html").stat().st_ino == inode


def test_output_folder_that_holds_the_site_is_refused(site_factory, build_site) -> None:
    root = _good_site(site_factory)
    with pytest.raises(ConfigError) as err:
        build_site(root, outdir=root)
    assert "contains the site's own files" in err.value.message
    assert (root / "site.toml").is_file()


def test_builds_are_byte_identical_across_hash_seeds(tmp_path: Path) -> None:
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "digest",
                "build",
                "--config",
                str(REPO / "site.toml"),
                "--out",
                str(out),
                "--date",
                DEMO_DATE.isoformat(),
                "-q",
            ],
            check=True,
            env=env,
            cwd=tmp_path,
        )
        outs.append(out)
    files = sorted(p.relative_to(outs[0]) for p in outs[0].rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(outs[1]) for p in outs[1].rglob("*") if p.is_file())
    differing = [f for f in files if (outs[0] / f).read_bytes() != (outs[1] / f).read_bytes()]
    assert differing == []


def test_parallel_render_writes_the_same_site(site_factory, build_site, monkeypatch) -> None:
    root = _good_site(site_factory)
    serial = build_site(root, outdir=root / "serial")
    monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)
    parallel = build_site(root, outdir=root / "parallel")
    assert parallel.files == serial.files
    files = sorted(p.relative_to(serial.outdir) for p in serial.outdir.rglob("*") if p.is_file())
    assert files == sorted(
        p.relative_to(parallel.outdir) for p in parallel.outdir.rglob("*") if p.is_file()
    )
    assert all(
        (serial.outdir / f).read_bytes() == (parallel.outdir / f).read_bytes() for f in files
    )


def test_template_error_in_a_parallel_worker_fails_the_build(
    site_factory, build_site, monkeypatch
) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    index = (result.outdir / "index.html").read_bytes()
    (root / "overrides/templates/paper.html").write_text(
        "{{ paper.no_such_field.deeper }}", encoding="utf-8"
    )
    monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)
    with pytest.raises(BuildError) as err:
        build_site(root)
    assert "overrides/templates/paper.html:1: rendering /papers/" in err.value.message
    assert (result.outdir / "index.html").read_bytes() == index


def test_progress_reports_rendered_pages(site_factory, build_site, monkeypatch) -> None:
    root = _good_site(site_factory)
    heard: list[str] = []
    result = build_site(root, progress=heard.append)
    renders = [h for h in heard if h.startswith("render ")]
    assert renders[-1] == f"render {result.pages}/{result.pages}"
    assert len(renders) > 2
    heard.clear()
    monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)
    build_site(root, progress=heard.append)
    done = [int(h.split()[1].split("/")[0]) for h in heard if h.startswith("render ")]
    assert done == sorted(done) and done[-1] == result.pages


def test_search_index_written_in_the_background_fails_the_build_cleanly(
    site_factory, build_site, monkeypatch
) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    before = {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()}
    monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)
    parallel = build_site(root, outdir=root / "parallel")
    assert (parallel.outdir / "search/manifest.json").read_bytes() == (
        result.outdir / "search/manifest.json"
    ).read_bytes()
    assert parallel.files == result.files

    def broken(site, out):
        raise BuildError("the index is broken")

    monkeypatch.setattr("digest.build.search.write_index", broken)
    with pytest.raises(BuildError, match="the index is broken"):
        build_site(root)
    assert {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()} == before
    assert [p.name for p in root.iterdir() if p.name.startswith("._site")] == []


def test_feeds_written_beside_the_rendering_fail_the_build_cleanly(
    site_factory, build_site, monkeypatch
) -> None:
    root = _good_site(site_factory)
    result = build_site(root)
    before = {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()}
    monkeypatch.setattr("digest.build.PARALLEL_MIN_PAGES", 1)
    monkeypatch.setattr("digest.build.os.cpu_count", lambda: 2)

    def broken(site, out):
        out.write_text("feed.xml", "<half")
        raise ValueError("no room for the feed")

    monkeypatch.setattr("digest.build.feeds.write_site_files", broken)
    with pytest.raises(BuildError) as err:
        build_site(root)
    assert err.value.message.endswith(".broken: ValueError: no room for the feed")
    assert {p: p.read_bytes() for p in result.outdir.rglob("*") if p.is_file()} == before
    assert [p.name for p in root.iterdir() if p.name.startswith("._site")] == []


def test_the_console_command_exits_cleanly_after_a_build(site_factory) -> None:
    # `digest build` ends its process without freeing the site (digest.cli.run): what it
    # printed must still arrive, and a failed build must still exit non-zero.
    root = _good_site(site_factory)
    command = [sys.executable, "-m", "digest", "build", "--date", "2025-10-30"]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("239 papers from 1 sources") and done.stdout.endswith(" s\n")
    assert (root / "_site" / "index.html").is_file()
    (root / "overrides/templates/home.html").write_text("{% if %}", encoding="utf-8")
    failed = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    assert failed.returncode == 1
    assert "overrides/templates/home.html:1: template error" in failed.stderr


def test_cards_from_workers_are_read_back_from_a_file(
    demo_site: BuildResult, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.render import Assets, card_cache, make_environment

    env = make_environment(demo_site.site.config, Assets({}))
    site, papers = demo_site.site, demo_site.site.papers[:3]
    cache = card_cache(env)
    made = {(p.key, id(p), True): cache.fragment(site, p).encode() for p in papers}
    handed, prints = cache.take_new(set())
    assert handed == made and prints == {} and cache.html == {}  # (no reuse: no prints)
    cache.add(handed, prints)
    assert cache.html == {}  # kept in the file, not in memory
    assert cache.fragments(site, papers) == "".join(html.decode() for html in made.values())
    cache.clear()
    assert cache.fragment(site, papers[1]) == made[(papers[1].key, id(papers[1]), True)].decode()

    def full(fd: int, data: bytes) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("digest.render.os.write", full)
    with pytest.raises(BuildError, match=r"paper cards in a temporary file .*No space left"):
        cache.add(handed, {})
    cache.clear()


@pytest.mark.parametrize("expected", [False, True])
def test_only_a_process_that_builds_again_keeps_results(
    site_factory, build_site, expected: bool
) -> None:
    # `digest build` builds once: term bags and plugin memos would be memory for nobody.
    from digest import related
    from digest.rebuilds import expect_rebuilds, rebuilds_expected
    from plugins import digest_trending

    was = rebuilds_expected()
    expect_rebuilds(expected)
    try:
        related._last_terms = None
        digest_trending._SCORE_MEMOS.clear()
        related._bag.cache_clear()
        result = build_site(_good_site(site_factory))
    finally:
        expect_rebuilds(was)
    papers = len(result.site.papers)
    assert papers > 200
    kept_scores = sum(map(len, digest_trending._SCORE_MEMOS.values()))
    assert (kept_scores > papers // 2) == expected and (kept_scores == 0) != expected
    assert related._bag.cache_info().currsize == (papers if expected else 0)
    assert (related._last_terms is not None) == expected
