"""Skipping a build that would publish exactly what is already published.

A successful build leaves a stamp in ``<site>/.digest-cache/build.json``: a digest of
everything the site is made from (see `site_inputs` and `inputs_digest`) and the size,
modification time and inode of every file it published. The next build with the same
inputs, whose output folder still holds those files untouched, has nothing to do, the way
``make`` skips an up-to-date target; ``digest build --force`` builds anyway.

Builds that record a history or write a report always run: recording a night is the
point of those builds.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pluggy

from digest.config import Config
from digest.errors import DigestError
from digest.render import theme_dirs

STAMP = Path(".digest-cache") / "build.json"
# Libraries whose behaviour shapes the output; a new version means a new build.
LIBRARIES = ("jinja2", "markupsafe", "markdown-it-py", "pluggy", "lunr", "latex2mathml")
PACKAGE_DIR = Path(__file__).resolve().parent


def site_inputs(config: Config) -> tuple[set[Path], set[Path]]:
    """What a site is made from besides the code: (files, folder trees). The preview
    server watches these; `inputs_digest` hashes them."""
    files: set[Path] = {config.path}
    files.update(s.path for s in config.sources)
    files.update(p for p in (config.intro, config.about) if p)
    if config.history is not None:
        files.add(config.history)  # a build recorded a day: trending and archives change
    trees = set(_existing_theme_dirs(config))
    if config.theme_dir is not None:
        trees.add(config.theme_dir)  # watched even before it exists
    if config.plugins_local:
        trees.add(config.root / "plugins")
    return files, trees


def _existing_theme_dirs(config: Config) -> list[Path]:
    try:
        return [d.resolve() for d in theme_dirs(config)]
    except DigestError:  # a missing theme is reported by the build itself
        return []


def code_digest(config: Config, pm: pluggy.PluginManager) -> str:
    """A digest of what every page is made from but the papers: the code that builds the
    site (paper-digest and every loaded plugin), its libraries, the theme folders and the
    site's own files but its sources and history (see `digest.reuse`)."""
    files, trees = site_inputs(config)
    files -= _paper_files(config)
    paths = set(files)
    for tree in trees:
        paths.update(p for p in tree.rglob("*") if p.is_file())
    paths.update(p for p in PACKAGE_DIR.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for plugin in pm.get_plugins():
        module = sys.modules.get(getattr(plugin, "__module__", None) or plugin.__name__)
        if module is not None and getattr(module, "__file__", None):
            paths.add(Path(module.__file__))  # type: ignore[arg-type]
    whole = hashlib.sha256()
    for item in [sys.version, *map(_version, LIBRARIES)]:
        whole.update(item.encode() + b"\0")
    _hash_files(whole, paths)
    return whole.hexdigest()


def inputs_digest(code: str, config: Config, settings: Iterable[str]) -> str:
    """A digest of everything the site is made from: its `code_digest`, its sources and
    history, and `settings` (the build's own options, such as its date)."""
    whole = hashlib.sha256(code.encode() + b"\0")
    for item in settings:
        whole.update(item.encode() + b"\0")
    _hash_files(whole, _paper_files(config))
    return whole.hexdigest()


def _paper_files(config: Config) -> set[Path]:
    """The files the papers come from: the sources and the history."""
    files = {s.path for s in config.sources}
    if config.history is not None:
        files.add(config.history)
    return files


def _hash_files(whole: Any, paths: Iterable[Path]) -> None:
    for path in sorted(paths):
        whole.update(str(path).encode() + b"\0")
        try:
            whole.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            whole.update(b"missing")


def _version(name: str) -> str:
    try:
        return f"{name} {importlib.metadata.version(name)}"
    except importlib.metadata.PackageNotFoundError:
        return f"{name} none"


@dataclass
class Stamp:
    """What the last build published: its inputs digest, output and summary figures."""

    inputs: str
    output: str
    files: dict[str, list[int]]
    summary: dict[str, Any]


def load_stamp(config: Config) -> Stamp | None:
    """The stamp of the site's last successful build, if readable."""
    try:
        data = json.loads((config.root / STAMP).read_text(encoding="utf-8"))
        return Stamp(data["inputs"], data["output"], data["files"], data["summary"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def up_to_date(stamp: Stamp | None, inputs: str, output: Path) -> bool:
    """Whether `output` still holds the files the stamped build published from `inputs`,
    untouched (files added to the folder since are not looked for)."""
    if stamp is None or stamp.inputs != inputs or stamp.output != str(output):
        return False
    try:
        return file_stamps(output, stamp.files) == stamp.files
    except OSError:
        return False


def file_stamps(output: Path, files: Iterable[str]) -> dict[str, list[int]]:
    """The size, modification time and inode of each of `files` below `output`."""
    found: dict[str, list[int]] = {}
    root = f"{output}/"
    for rel in files:
        st = os.stat(root + rel)
        found[rel] = [st.st_size, st.st_mtime_ns, st.st_ino]
    return found


def save_stamp(
    config: Config, inputs: str, output: Path, files: list[str], summary: dict[str, Any]
) -> None:
    """Record a successful build that published `files` (relative paths) into `output`
    (best effort: without a stamp the next build just runs)."""
    path = config.root / STAMP
    try:
        stamp = {
            "inputs": inputs,
            "output": str(output),
            "summary": summary,
            "files": file_stamps(output, sorted(files)),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stamp, sort_keys=True), encoding="utf-8")
    except OSError:
        pass
