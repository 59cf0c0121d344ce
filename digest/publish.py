"""Atomic output: a build writes into a fresh folder beside the published one and swaps it
in only when complete, so a failed build leaves the published site untouched."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from digest.config import Config
from digest.errors import BuildError, ConfigError
from digest.render import theme_dirs


class OutputDir:
    """The not-yet-published build folder; every write goes through here.

    When the previously published folder holds a byte-identical file at the same place,
    that file is hard-linked instead of written, so an unchanged page keeps its inode and
    modification time (rsync, caches and the preview server see nothing changed).
    """

    def __init__(self, path: Path, previous: Path | None = None):
        self.path = path
        self.previous = previous if previous is not None and previous.is_dir() else None
        self.reused = 0
        self.written: list[str] = []  # relative paths, in the order written
        # Plain string paths and os calls: pathlib's joins and opens cost as much per file
        # as the write itself (35 of 90 µs), and a site has a file a paper.
        self._root = os.fspath(path)
        self._old = os.fspath(self.previous) if self.previous is not None else None
        self._made: set[str] = {self._root}

    def _target(self, rel: str) -> str:
        target = f"{self._root}/{rel}"
        parent = target.rpartition("/")[0]
        if parent not in self._made:
            try:
                os.mkdir(parent)  # its own parent is usually there already
            except FileNotFoundError:
                os.makedirs(parent, exist_ok=True)
            except FileExistsError:
                pass
            self._made.add(parent)
        self.written.append(rel)
        return target

    @property
    def count(self) -> int:
        """How many files were written (or reused) so far."""
        return len(self.written)

    def absorb(self, written: list[str], reused: int) -> None:
        """Count files another process wrote into this folder (a forked worker's
        `written` and `reused`) as written here."""
        self.written.extend(written)
        self.reused += reused

    def write_text(self, rel: str, text: str) -> None:
        """Write a UTF-8 text file at `rel` (a POSIX path below the output root)."""
        self.write_bytes(rel, text.encode("utf-8"))

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a binary file at `rel`, reusing an identical previously published one.

        Raises `BuildError` when the file cannot be written (a full disk, say)."""
        try:
            target = self._target(rel)
            if self._old is not None and self._link_unchanged(rel, data, target):
                return
            try:
                file = open(target, "xb")  # noqa: SIM115 (closed below)
            except FileExistsError:
                # Written before in this build, maybe as a link to the published file,
                # which writing through the link would change: replaced, not overwritten.
                os.unlink(target)
                file = open(target, "xb")  # noqa: SIM115
            with file:
                file.write(data)
        except OSError as exc:
            raise BuildError(
                f"cannot write {rel} into the build folder next to {self.path.parent}: "
                f"{exc.strerror or exc}; nothing was published"
            )

    def link_previous(self, rel: str, digest: str) -> bool:
        """Take the previously published `rel` as it is, if its bytes still have `digest`
        (`content_digest`); False (and nothing done) when they do not, or it is gone."""
        if self._old is None:
            return False
        old = f"{self._old}/{rel}"
        try:
            # Its bytes, not its stamp: a site restored from a CI cache has new inodes and
            # times, and a file edited in place may keep its size and time.
            with open(old, "rb") as file:
                if content_digest(file.read()) != digest:
                    return False
            os.link(old, self._target(rel))
        except OSError:
            if self.written and self.written[-1] == rel:
                self.written.pop()  # (it will be written instead)
            return False
        self.reused += 1
        return True

    def _link_unchanged(self, rel: str, data: bytes, target: str) -> bool:
        old = f"{self._old}/{rel}"
        try:
            if os.stat(old).st_size != len(data):
                return False
            with open(old, "rb") as file:
                if file.read() != data:
                    return False
            os.link(old, target)
        except OSError:
            return False
        self.reused += 1
        return True


def content_digest(data: bytes) -> str:
    """A short digest of a file's bytes (what `OutputDir.link_previous` checks)."""
    return hashlib.sha256(data).hexdigest()[:32]


def check_output_dir(config: Config, target: Path) -> None:
    """Refuse an output folder whose replacement would destroy the site's own files."""
    root = config.root.resolve()
    protected = [root, config.path, *(s.path.resolve() for s in config.sources)]
    themes = [d.resolve() for d in theme_dirs(config)]
    for path in [*protected, *themes]:
        if target == path or target in path.parents:
            raise ConfigError(
                f"output folder {target} contains the site's own files ({path}); "
                "choose another --out or output_dir"
            )
    for theme in themes:
        # Inside a theme, the output would be copied into the next build as static files.
        if theme in target.parents:
            raise ConfigError(
                f"output folder {target} is inside the theme folder {theme}; "
                "choose another --out or output_dir"
            )
    if target.exists() and not target.is_dir():
        raise ConfigError(f"output folder {target} exists and is not a folder")


@contextmanager
def atomic_output(target: Path) -> Iterator[OutputDir]:
    """Yield a fresh folder next to `target`; on success it replaces `target` at once.

    When the body raises, the fresh folder is removed and `target` is not touched. When
    `target` is a symlink, the link is kept and the folder it points to is replaced.
    """
    final = target.resolve() if target.is_symlink() else target
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        fresh = Path(tempfile.mkdtemp(prefix=f".{final.name}.new-", dir=final.parent))
    except OSError as exc:
        raise BuildError(f"cannot create a build folder next to {final}: {exc.strerror}")
    try:
        yield OutputDir(fresh, previous=final)
        os.chmod(fresh, 0o755)
        try:
            _swap(fresh, final)
        except OSError as exc:
            raise BuildError(
                f"cannot put the new site in place at {final}: {exc.strerror or exc} "
                "(another build publishing there at the same time?); this build's output "
                "was discarded"
            )
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise


def _swap(fresh: Path, final: Path) -> None:
    """Put `fresh` where `final` is; the old output is removed only after the swap."""
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old-", dir=final.parent))
        os.rename(final, old / final.name)
    try:
        os.rename(fresh, final)
    except OSError:
        if old is not None:
            os.rename(old / final.name, final)
            old.rmdir()  # empty again: nothing would sweep it until the next build
        raise
    remove_in_background(sorted(final.parent.glob(f".{final.name}.old-*")))


def remove_in_background(folders: list[Path]) -> None:
    """Delete replaced output folders in a detached process.

    Deleting tens of thousands of files takes seconds and nothing waits for it: the new site
    is already in place. Leftovers of an interrupted deletion match the same pattern and
    are swept by the next build.
    """
    if not folders:
        return
    # The shell backgrounds rm and exits at once, so nothing is left to wait for and rm
    # finishes on its own even after this process has exited.
    subprocess.run(
        ["sh", "-c", 'rm -rf -- "$@" </dev/null >/dev/null 2>&1 &', "sh", *map(str, folders)],
        check=False,
    )
