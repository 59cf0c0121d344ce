"""The output folder in awkward places: a symlink, not writable, on a full disk, the same as
(or overlapping) the sources or the theme, and two builds at once. In every case either the
new site is published whole or the previous one is left exactly as it was, with no
temporary folder left behind: nothing half-written is ever published."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import DEMO_DATE, SiteFactory

from digest.build import build
from digest.cli import main
from digest.errors import BuildError, ConfigError

REPO = Path(__file__).resolve().parent.parent
ROOT = os.geteuid() == 0


def papers(n: int, title: str = "Paper") -> str:
    return "".join(
        json.dumps({"title": f"{title} {i}", "date": f"2025-10-{i % 28 + 1:02d}", "key": "k"})
        + "\n"
        for i in range(n)
    )


CONFIG = """
title = "FS test"
[plugins]
enabled = ["readers"]
[[sources]]
path = "data/papers.jsonl"
"""


@pytest.fixture
def site(site_factory: SiteFactory) -> Path:
    return site_factory(config=CONFIG, files={"data/papers.jsonl": papers(30)})


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file below `folder` and its bytes."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def leftovers(parent: Path, wait: float = 15.0) -> list[str]:
    """Temporary build folders left in `parent`: any ``.<name>.new-…`` at once, and any
    ``.<name>.old-…`` (a replaced site, deleted in the background) still there after
    `wait` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = sorted(p.name for p in parent.iterdir() if ".new-" in p.name or ".old-" in p.name)
        if not any(".old-" in name for name in found) or time.monotonic() > deadline:
            return found
        if any(".new-" in name for name in found):
            return found
        time.sleep(0.05)


def complete(folder: Path, count: int, title: str = "Paper") -> bool:
    """Whether `folder` holds a whole site of `count` papers called `title` N."""
    pages = list((folder / "papers").glob("*/index.html"))
    feed = (folder / "feed.xml").read_text("utf-8") if (folder / "feed.xml").exists() else ""
    return (
        len(pages) == count
        and (folder / "index.html").is_file()
        and (folder / "sitemap.xml").is_file()
        and f"{title} 0" in feed
        and all(f"{title} " in p.read_text("utf-8") for p in pages)
    )


# -- a symlinked output folder ------------------------------------------------------------


def test_a_symlinked_output_keeps_the_link_and_replaces_its_target(
    site: Path, tmp_path: Path
) -> None:
    target = tmp_path / "elsewhere" / "public"
    target.mkdir(parents=True)
    (target / "stale.html").write_text("from an older build")
    link = site / "_site"
    link.symlink_to(target, target_is_directory=True)
    for n in (30, 31):
        (site / "data" / "papers.jsonl").write_text(papers(n))
        build(site / "site.toml", date=DEMO_DATE)
        assert link.is_symlink() and link.resolve() == target.resolve()
        assert complete(target, n)
    assert not (target / "stale.html").exists()
    assert leftovers(target.parent) == [] and leftovers(site) == []


def test_a_dangling_symlink_output_is_created(site: Path, tmp_path: Path) -> None:
    link = site / "_site"
    link.symlink_to(tmp_path / "not-yet" / "public", target_is_directory=True)
    build(site / "site.toml", date=DEMO_DATE)
    assert link.is_symlink() and complete(tmp_path / "not-yet" / "public", 30)


# -- not writable, full disk --------------------------------------------------------------


def test_an_unwritable_output_folder_is_a_clear_error(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A parent folder that cannot be written: one line naming the folder, nothing
    published, the previous site untouched."""
    build(site / "site.toml", date=DEMO_DATE)
    before = snapshot(site / "_site")
    if ROOT:  # root ignores permissions: make the folder creation fail the same way

        def refuse(*args: Any, **kwargs: Any) -> str:
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    else:
        os.chmod(site, 0o555)
    try:
        (site / "data" / "papers.jsonl").write_text(papers(31))
        with pytest.raises(BuildError, match=r"cannot create a build folder next to .*_site"):
            build(site / "site.toml", date=DEMO_DATE)
    finally:
        os.chmod(site, 0o755)
    assert snapshot(site / "_site") == before
    assert leftovers(site) == []


class _FullDisk:
    """A file open for writing on a full disk: writing fails with ENOSPC."""

    def __init__(self, file: Any):
        self.file = file

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.file.close()

    def write(self, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.file.name)


def full_disk_after(writes: int) -> Callable[..., Any]:
    """`open` for digest.publish whose files opened for writing into a build folder fail
    with ENOSPC, as on a full disk, after the first `writes` (others work as usual)."""
    count = [0]

    def fake_open(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        file = open(path, mode, *args, **kwargs)  # noqa: SIM115 (the caller closes it)
        if ("w" in mode or "x" in mode) and ".new-" in str(path):
            count[0] += 1
            if count[0] > writes:
                return _FullDisk(file)
        return file

    return fake_open


@pytest.mark.parametrize("writes", [0, 1, 10, 40, 60])
def test_a_full_disk_mid_build_publishes_nothing(
    writes: int, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills up after some files: a clear error (through the CLI: one line, exit
    1), the previous site exactly as it was, no temporary folder left."""
    build(site / "site.toml", date=DEMO_DATE)
    before = snapshot(site / "_site")
    (site / "data" / "papers.jsonl").write_text(papers(31, "Changed"))
    monkeypatch.setattr("digest.publish.open", full_disk_after(writes), raising=False)
    outcome = CliRunner().invoke(
        main, ["build", "--config", str(site / "site.toml"), "--date", "2025-10-30"]
    )
    assert outcome.exit_code == 1, outcome.output
    assert "No space left on device; nothing was published" in outcome.output
    assert "Traceback" not in outcome.output and "--debug" not in outcome.output
    assert len(outcome.output.strip().splitlines()) == 1, outcome.output
    assert snapshot(site / "_site") == before
    assert leftovers(site) == []


def test_a_failing_swap_restores_the_previous_site(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The last step (renaming the new folder into place) fails: the old one is put back."""
    build(site / "site.toml", date=DEMO_DATE)
    before = snapshot(site / "_site")
    real_rename = os.rename

    def rename(src: Any, dst: Any) -> None:
        if ".new-" in Path(src).name:
            raise OSError(errno.EIO, "Input/output error")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    (site / "data" / "papers.jsonl").write_text(papers(31, "Changed"))
    with pytest.raises((BuildError, OSError)):
        build(site / "site.toml", date=DEMO_DATE)
    monkeypatch.undo()
    assert snapshot(site / "_site") == before
    assert leftovers(site) == []


# -- overlapping folders ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "out",
    [".", "data", "data/papers.jsonl", "site.toml", "..", "theme", "theme/static",
     "theme/templates/out"],
)  # fmt: skip
def test_an_output_overlapping_sources_or_theme_is_refused(
    out: str, site_factory: SiteFactory
) -> None:
    root = site_factory(
        config='theme_dir = "theme"\n' + CONFIG,
        files={"data/papers.jsonl": papers(3), "theme/static/extra.css": "p{}"},
    )
    before = snapshot(root)
    with pytest.raises(ConfigError, match="output folder"):
        build(root / "site.toml", outdir=root / out, date=DEMO_DATE)
    assert snapshot(root) == before


def test_an_output_inside_the_bundled_theme_is_refused(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the theme the site uses (here a copy of the bundled themes, so a regression
    cannot write into the repository), the output would become the next build's static
    files: refused."""
    import shutil

    from digest import render

    themes = tmp_path / "themes"
    shutil.copytree(render.themes_root(), themes)
    monkeypatch.setattr(render, "themes_root", lambda: themes)
    out = themes / "default" / "static" / "_site"
    with pytest.raises(ConfigError, match="inside the theme folder"):
        build(site / "site.toml", outdir=out, date=DEMO_DATE)
    assert not out.exists()


# -- two builds at once -----------------------------------------------------------------------

SLOW_PLUGIN = """
import os
import time
from pathlib import Path
from digest import hookimpl

@hookimpl
def digest_papers(papers, site):
    time.sleep(float(os.environ.get("DIGEST_TEST_SLOW", "0")))
"""


def start_build(root: Path, slow: float = 0) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "build", "--config", str(root / "site.toml"),
         "--date", "2025-10-30", "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "DIGEST_TEST_SLOW": str(slow)},
    )  # fmt: skip


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        pytest.fail("a build hung")
    return proc.returncode, err


def test_a_second_build_with_history_is_refused(site_factory: SiteFactory) -> None:
    root = site_factory(
        config="""
        title = "FS test"
        history = "history.db"
        [plugins]
        enabled = ["readers"]
        local = ["slow"]
        [[sources]]
        path = "data/papers.jsonl"
        """,
        files={"data/papers.jsonl": papers(30), "plugins/slow.py": SLOW_PLUGIN},
    )
    first = start_build(root, slow=3)
    lock = root / "history.db.lock"
    for _ in range(500):  # until the first build holds the lock
        if lock.exists() and lock.read_text().strip():
            break
        time.sleep(0.02)
    second = start_build(root)
    code, err = finish(second)
    assert code == 1, err
    assert "history.db" in err and err.count("\n") == 1, err
    assert finish(first)[0] == 0
    assert complete(root / "_site", 30)
    assert leftovers(root) == []


def test_concurrent_builds_without_history_never_publish_half_a_site(
    site_factory: SiteFactory,
) -> None:
    """Builds of two versions race on one output folder, several rounds: each build
    succeeds or fails with one clear line, and what is published is always one whole
    version, never a mix or a partial folder."""
    root = site_factory(config=CONFIG, files={"data/papers.jsonl": papers(40, "Alpha")})
    other = root.parent / "other"
    other.mkdir()
    (other / "data").mkdir()
    (other / "data" / "papers.jsonl").write_text(papers(45, "Beta"))
    config = CONFIG.replace("[plugins]", f'output_dir = "{root / "_site"}"\n[plugins]')
    (other / "site.toml").write_text(config)
    outcomes = []
    for _ in range(4):
        procs = [start_build(root), start_build(other), start_build(root)]
        outcomes.extend(finish(p) for p in procs)
        out = root / "_site"
        assert complete(out, 40, "Alpha") or complete(out, 45, "Beta")
        assert leftovers(root) == []
    assert any(code == 0 for code, _ in outcomes)
    for code, err in outcomes:
        assert code == 0 or (code == 1 and err.count("\n") == 1), err
