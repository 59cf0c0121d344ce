"""The installed package works without the repo: a wheel carries the themes, the built-in
plugins (entry points) and lunr.js, and builds a site in a folder far from the repo."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import DATA, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
    )
    (found,) = out.glob("paper_digest-*.whl")
    return found


def test_wheel_carries_themes_plugins_and_lunr(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "digest/_themes/default/templates/base.html" in names
    assert "digest/_themes/default/static/style.css" in names
    assert "digest/_vendor/lunr.min.js" in names
    assert "plugins/digest_topics.py" in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "trending = plugins.digest_trending" in text


def test_installed_wheel_builds_a_site_outside_the_repo(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    proc = subprocess.run(
        [str(pip), "install", "-q", str(wheel)], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0 and "Could not find a version" in proc.stderr + proc.stdout:
        pytest.skip("the package registry is not reachable for the wheel's dependencies")
    assert proc.returncode == 0, proc.stderr
    site = tmp_path / "elsewhere"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    digest = str(venv / "bin" / "digest")
    subprocess.run([digest, "new", str(site)], check=True, env=env, cwd=tmp_path)
    (site / "data" / "daily.txt").write_bytes((DATA / "hf-daily-papers.txt").read_bytes())
    with (site / "site.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[sources]]\nname = "daily"\npath = "data/daily.txt"\nyear = 2025\n')
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import digest; print(digest.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
        cwd=tmp_path,
    ).stdout
    assert str(venv) in where and str(REPO) not in where
    subprocess.run([digest, "build", "--date", "2025-10-30", "-q"], check=True, env=env, cwd=site)
    out = site / "_site"
    assert len(list(out.glob("papers/*/index.html"))) == 101
    assert list(out.glob("static/lunr.min.*.js"))
    assert (out / "topics" / "index.html").is_file()
    plugins = subprocess.run(
        [digest, "plugins"], capture_output=True, text=True, check=True, env=env, cwd=site
    ).stdout
    for name in ("highlight", "readers", "topics", "trending"):
        assert f"{name}  [entry point (paper-digest" in plugins
