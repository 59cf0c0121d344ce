"""Shared fixtures: the repo's seed listings and throwaway sites built from them."""

from __future__ import annotations

import datetime as dt
import shutil
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from digest.build import BuildResult, build, load_papers, prepare_config
from digest.model import Paper
from digest.rebuilds import expect_rebuilds, rebuilds_expected

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"
# The date the demo's daily papers page was saved on ("Oct 30" of its year).
DEMO_DATE = dt.date(2025, 10, 30)

# The four seed listings and a site.toml [[sources]] block naming them as the demo does.
SEEDS = (
    "hf-daily-papers.txt",
    "hf-papers-search-a.txt",
    "hf-papers-search-b.txt",
    "mila-publications.txt",
)
ALL_SOURCES = """
[[sources]]
name = "Daily papers"
path = "data/hf-daily-papers.txt"

[[sources]]
name = "Search: scaling"
path = "data/hf-papers-search-a.txt"

[[sources]]
name = "Search: training"
path = "data/hf-papers-search-b.txt"

[[sources]]
name = "Mila publications"
path = "data/mila-publications.txt"
"""

SiteFactory = Callable[..., Path]


def load_seed_papers(folder: Path) -> list[Paper]:
    """Every merged paper of the four seed listings, loaded as a site naming them (made in
    `folder`) loads them."""
    (folder / "data").mkdir()
    for name in SEEDS:
        shutil.copy(DATA / name, folder / "data" / name)
    (folder / "site.toml").write_text(ALL_SOURCES, encoding="utf-8")
    config, pm = prepare_config(folder / "site.toml")
    papers, _ = load_papers(config, pm)
    return papers


@pytest.fixture
def site_factory(tmp_path: Path) -> SiteFactory:
    """Make a throwaway site: `site_factory(config="...toml...", files={"data/x.txt": "..."},
    seeds=["hf-daily-papers.txt"])` writes site.toml, the files and copies of the named seed
    listings (into data/), and returns the site folder."""

    def make(
        config: str = "",
        files: dict[str, str | bytes] | None = None,
        seeds: list[str] | tuple[str, ...] = (),
    ) -> Path:
        root = tmp_path / "site"
        root.mkdir(exist_ok=True)
        (root / "site.toml").write_text(textwrap.dedent(config), encoding="utf-8")
        for name in seeds:
            (root / "data").mkdir(exist_ok=True)
            shutil.copy(DATA / name, root / "data" / name)
        for rel, content in (files or {}).items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(textwrap.dedent(content), encoding="utf-8")
        return root

    return make


@pytest.fixture
def build_site() -> Callable[..., BuildResult]:
    """Build a site folder made by `site_factory` (``_site`` inside it) as of a date;
    always a real build (``force``) unless the test passes ``force=False``."""

    def run(root: Path, date: dt.date = DEMO_DATE, **kwargs: object) -> BuildResult:
        kwargs.setdefault("force", True)
        return build(root / "site.toml", date=date, **kwargs)  # type: ignore[arg-type]

    return run


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The repo's demo digest, built once per test session into a temporary folder."""
    out = tmp_path_factory.mktemp("demo") / "_site"
    return build(REPO / "site.toml", outdir=out, date=DEMO_DATE)


@pytest.fixture
def rebuilds() -> Iterator[None]:
    """This process expects to build again, as the preview server's does: results are kept
    for the next build (see `digest.rebuilds`); as it was afterwards."""
    was = rebuilds_expected()
    expect_rebuilds()
    yield
    expect_rebuilds(was)


@pytest.fixture
def one_off() -> Iterator[None]:
    """This process builds once, as `digest build`'s does: nothing is kept for a next
    build; as it was afterwards."""
    was = rebuilds_expected()
    expect_rebuilds(False)
    yield
    expect_rebuilds(was)
