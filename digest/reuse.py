"""Pages a build takes unchanged from the previous build instead of rendering them again.

A page that says what it is made from (`Page.inputs`; every paper's page does) gets a
*fingerprint*: a hash of those inputs and of what every page is made from (the code, the
theme, the config, the navigation, the static files and the pages' URLs;
`site_wide_inputs`). A build records the fingerprint of each such page it published, with
a digest of the page's bytes, in ``.digest-cache/pages-<output>.json`` (one record per
output folder; `store_path`). The next build hard-links the published file instead of
rendering the page when the fingerprint is the same and the file still holds those bytes:
a night of new papers renders the pages of the papers that changed, not every paper's.
(Bytes rather than file stamps, so a CI job that restores the previous site and
``.digest-cache`` from a cache, with new inodes and times, reuses them too.)

A fingerprint only covers what it hashes, so whatever else a page reads disqualifies it:

- a template that reads anything of ``site`` but its config and `Site.paper_url` (its date,
  papers or pages) gets a page that is rendered again at the next build (`WatchedSite`);
- a plugin that adds Jinja filters or globals (``digest_jinja_env``) without saying what
  they read (``digest_page_inputs``) makes every build render every page.

Paper cards (the HTML a listing shows for each paper) are kept the same way, in
``.digest-cache/cards-<output>.bin``: a card whose fingerprint (the site-wide inputs and
its paper) is unchanged is read from there instead of being rendered.

``digest build --force`` renders every page and card. The preview server renders pages
when they are asked for and does not use any of this.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import pluggy

from digest.pages import Page
from digest.site import Site

CACHE_DIR = Path(".digest-cache")
FORMAT = 2
# Records of this many output folders are kept (the most recently built): building into
# a new temporary folder each time (as tests do) must not grow the cache without end.
KEPT_OUTPUTS = 4


def site_wide_inputs(
    code: str, site: Site, pm: pluggy.PluginManager, nav: list[Page], assets: Mapping[str, str]
) -> bytes | None:
    """What every reusable page is made from, as a digest; None when a plugin adds to the
    Jinja environment without saying what its additions read (then no page is reused).

    `code` is `digest.uptodate.code_digest` (the code, theme and config files), `assets`
    the static files' hashed names.
    """
    declared = {impl.plugin for impl in pm.hook.digest_page_inputs.get_hookimpls()}
    if any(impl.plugin not in declared for impl in pm.hook.digest_jinja_env.get_hookimpls()):
        return None
    whole = hashlib.sha256(code.encode())
    whole.update(repr([(p.url, p.title, p.nav, p.nav_weight) for p in nav]).encode())
    whole.update(repr(sorted(assets.items())).encode())
    whole.update(repr(pm.hook.digest_page_inputs(site=site)).encode())
    # A paper's URL is its own slug unless another paper's clashed with it: those
    # exceptions are the only part of any page's links that other papers decide.
    clashes = sorted(
        (paper.key, slug)
        for paper in [*site.papers, *site.archived]
        if (slug := site.slugs.get(paper.key, paper.slug)) != paper.slug
    )
    whole.update(repr(clashes).encode())
    return whole.digest()


class WatchedSite:
    """The site as a reusable page's template sees it: notes (`strayed`) any read that
    its fingerprint does not cover, that is anything but ``config`` and ``paper_url``."""

    __slots__ = ("_site", "strayed")

    def __init__(self, site: Site) -> None:
        self._site = site
        self.strayed = False

    def __getattr__(self, name: str) -> Any:
        if name not in _COVERED:
            self.strayed = True
        return getattr(self._site, name)


# The config is hashed with the code; a paper's URL is its slug (the paper's own) or one
# of the clashes `site_wide_inputs` hashes.
_COVERED = frozenset({"config", "paper_url"})


class PageReuse:
    """The fingerprints of the pages the previous build published (`previous`) and of
    those this build publishes (`published`), for one output folder."""

    def __init__(
        self,
        inputs: bytes,
        previous: dict[str, list[str]] | None = None,
        cards: tuple[BinaryIO, dict[str, list[int]]] | None = None,
    ) -> None:
        self.inputs = inputs
        self.previous = previous or {}
        # The previous build's card file and where each card is in it, by fingerprint.
        self._card_file: BinaryIO | None = cards[0] if cards is not None else None
        self.cards: dict[str, list[int]] = cards[1] if cards is not None else {}
        # This build's cards, written by `keep_cards` beside the record until `save`, in a
        # file that starts with `card_token` (which the record names, so that a record
        # and a card file never get mixed up).
        self.kept_cards: dict[str, list[int]] = {}
        self.card_token = b""
        # Output path → [fingerprint, digest of the file's bytes (`content_digest`)].
        self.published: dict[str, list[str]] = {}
        self.taken = 0  # pages taken from the previous build (not rendered)
        # A paper is the input of its page and of its neighbours': hashed once per build.
        self._digests: dict[int, bytes] = {}

    def fingerprint(self, page: Page, values: Mapping[str, Any]) -> str:
        """The fingerprint of `page`, whose context's values are `values` (the page must
        have `inputs`)."""
        assert page.inputs is not None
        whole = hashlib.sha256(self.inputs)
        whole.update(repr((page.url, page.template, page.title, page.in_sitemap)).encode())
        whole.update(page.inputs(values, self.digest))
        return whole.hexdigest()[:32]

    def digest(self, value: Any) -> bytes:
        """A digest of `value`'s repr, kept for the rest of the build (so `value` must not
        change meanwhile: papers do not once the pages are made)."""
        known = self._digests.get(id(value))
        if known is None:
            known = self._digests[id(value)] = hashlib.sha256(repr(value).encode()).digest()
        return known

    def forget_previous(self) -> None:
        """Take nothing from the previous build (``--force``); this one is still recorded."""
        self.previous, self.cards = {}, {}

    def card_fingerprint(self, paper: Any, show_abstract: bool) -> str:
        """The fingerprint of `paper`'s card (with its abstract or not)."""
        whole = hashlib.sha256(self.inputs)
        whole.update(b"card\0%d" % show_abstract)
        whole.update(self.digest(paper))
        return whole.hexdigest()[:32]

    def previous_card(self, fingerprint: str) -> bytes | None:
        """The card the previous build rendered for `fingerprint`, if it kept one."""
        place = self.cards.get(fingerprint)
        if place is None or self._card_file is None:
            return None
        try:
            data = os.pread(self._card_file.fileno(), place[1], place[0])
        except OSError:
            return None
        return data if len(data) == place[1] else None

    def keep_cards(self, root: Path, output: Path, cards: Iterable[tuple[str, bytes]]) -> None:
        """Write this build's cards (fingerprint, HTML) for the next build, beside the
        record, which `save` puts in place once the site is published (best effort)."""
        kept: dict[str, list[int]] = {}
        path = _cards_path(root, output, ".new")
        self.card_token = os.urandom(16)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as file:
                file.write(self.card_token)
                offset = len(self.card_token)
                for fingerprint, html in cards:
                    file.write(html)
                    kept[fingerprint] = [offset, len(html)]
                    offset += len(html)
        except OSError:
            kept = {}
        self.kept_cards = kept

    def close(self) -> None:
        """Close the previous build's card file."""
        if self._card_file is not None:
            self._card_file.close()
            self._card_file = None

    def match(self, rel: str, fingerprint: str) -> str | None:
        """The digest of the bytes the previous build published at `rel` for `fingerprint`,
        or None when it published it from other inputs (or not at all)."""
        entry = self.previous.get(rel)
        if entry is None or entry[0] != fingerprint:
            return None
        return entry[1]

    def record(self, rel: str, fingerprint: str, digest: str, taken: bool = False) -> None:
        """Note that this build published `rel` for `fingerprint`, as bytes with `digest`
        (`taken`: the previous build's file, not rendered)."""
        self.published[rel] = [fingerprint, digest]
        self.taken += taken

    def start_part(self) -> None:
        """Forget what was recorded so far: a forked render worker then records only its
        own part, which `part` hands back."""
        self.published, self.taken = {}, 0

    def part(self) -> tuple[dict[str, list[str]], int]:
        """What was recorded since `start_part`, for `add_part` in the build process."""
        return self.published, self.taken

    def add_part(self, part: tuple[dict[str, list[str]], int]) -> None:
        """Add what a forked render worker recorded."""
        self.published.update(part[0])
        self.taken += part[1]


def store_path(root: Path, output: Path) -> Path:
    """Where the site in `root` keeps the record of its last build into `output`."""
    return root / CACHE_DIR / f"pages-{_output_name(output)}.json"


def _output_name(output: Path) -> str:
    return hashlib.sha256(str(output).encode()).hexdigest()[:12]


def _cards_path(root: Path, output: Path, suffix: str = "") -> Path:
    return root / CACHE_DIR / f"cards-{_output_name(output)}.bin{suffix}"


def load(root: Path, output: Path, inputs: bytes | None) -> PageReuse | None:
    """What the last build into `output` recorded (nothing when it was made from other
    site-wide inputs or cannot be read); None when `inputs` is None (nothing reusable)."""
    if inputs is None:
        return None
    try:
        data = json.loads(store_path(root, output).read_text(encoding="utf-8"))
        if (data["format"], data["output"], data["inputs"]) == (FORMAT, str(output), inputs.hex()):
            return PageReuse(inputs, data["pages"], _previous_cards(root, output, data))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return PageReuse(inputs)


def _previous_cards(
    root: Path, output: Path, data: dict[str, Any]
) -> tuple[BinaryIO, dict[str, list[int]]] | None:
    """The card file the record names, if it is the one written with it (it starts with
    the record's token and is as long as the record says)."""
    cards: dict[str, list[int]] = data.get("cards") or {}
    token = bytes.fromhex(data.get("card_token") or "")
    if not cards or not token:
        return None
    try:
        file = _cards_path(root, output).open("rb")
    except OSError:
        return None
    end = max(offset + length for offset, length in cards.values())
    if file.read(len(token)) != token or os.fstat(file.fileno()).st_size != end:
        file.close()
        return None
    return file, cards


def save(root: Path, output: Path, reuse: PageReuse | None) -> None:
    """Record what this build published into `output`, for the next build (best effort: a
    build without the record renders every page). Without `reuse`, forget the record."""
    path = store_path(root, output)
    try:
        if reuse is None:
            path.unlink(missing_ok=True)
            return
        reuse.close()
        cards = reuse.kept_cards
        if cards:
            os.replace(_cards_path(root, output, ".new"), _cards_path(root, output))
        data = {
            "format": FORMAT,
            "output": str(output),
            "inputs": reuse.inputs.hex(),
            "pages": reuse.published,
            "cards": cards,
            "card_token": reuse.card_token.hex() if cards else "",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps(data, sort_keys=True, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, path)
        _prune(path.parent)
    except OSError:
        pass


def _prune(folder: Path) -> None:
    """Forget the records (and card files) of all but the `KEPT_OUTPUTS` output folders
    built into most recently."""
    records = sorted(folder.glob("pages-*.json"), key=lambda p: p.stat().st_mtime_ns)
    for old in records[:-KEPT_OUTPUTS]:
        name = old.stem.removeprefix("pages-")
        for path in (old, folder / f"cards-{name}.bin", folder / f"cards-{name}.bin.new"):
            path.unlink(missing_ok=True)
