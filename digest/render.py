"""The Jinja environment: theme lookup, URL helpers and filters shared by every theme.

Lookup order for a template or static file: the site's ``theme_dir`` → the chosen theme →
the default theme. Any template can also be named ``default:<name>`` so an override can
extend the very template it replaces and change one block.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

from digest.config import Config
from digest.errors import BuildError, ConfigError
from digest.model import Paper
from digest.reuse import WatchedSite
from digest.richtext import Mark, plain_text, render_rich_text

if TYPE_CHECKING:
    from digest.reuse import PageReuse

PACKAGE_DIR = Path(__file__).resolve().parent


def themes_root() -> Path:
    """Where the bundled themes live: inside an installed wheel, else the repo's themes/."""
    bundled = PACKAGE_DIR / "_themes"
    return bundled if bundled.is_dir() else PACKAGE_DIR.parent / "themes"


def theme_dirs(config: Config) -> list[Path]:
    """Theme folders in lookup order: site override, chosen theme, default theme."""
    root = themes_root()
    dirs: list[Path] = []
    if config.theme_dir is not None:
        if not config.theme_dir.is_dir():
            raise ConfigError(f"{config.path.name}: theme_dir: no folder {config.theme_dir}")
        dirs.append(config.theme_dir)
    chosen = root / config.theme
    if not chosen.is_dir():
        known = ", ".join(sorted(p.name for p in root.iterdir() if p.is_dir()))
        raise ConfigError(f"{config.path.name}: theme: no theme {config.theme!r} (known: {known})")
    dirs.append(chosen)
    if config.theme != "default":
        dirs.append(root / "default")
    return dirs


def static_files(config: Config) -> Iterator[tuple[str, Path]]:
    """Every static file of the theme chain as (relative path, file); overrides win."""
    seen: set[str] = set()
    for theme in theme_dirs(config):
        static = theme / "static"
        if not static.is_dir():
            continue
        for file in sorted(static.rglob("*")):
            rel = file.relative_to(static).as_posix()
            if file.is_file() and rel not in seen:
                seen.add(rel)
                yield rel, file


def markdown_renderer() -> MarkdownIt:
    """Markdown for the site's own pages (about, intro): CommonMark without raw HTML."""
    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})


def relative_url(from_url: str, to_url: str) -> str:
    """A link from page `from_url` to `to_url` (both below the site root) that works under
    any sub-path and on any static host: up to the root, then down to the target."""
    # One "../" per folder level of the page; computing a minimal relative path instead
    # costs more than the rest of a card's rendering.
    prefix = "../" * from_url.count("/")
    return prefix + to_url if to_url or prefix else "./"


class Assets:
    """Content-hashed names for static files, so browsers can cache them forever."""

    def __init__(self, files: dict[str, bytes]):
        self.names: dict[str, str] = {}
        for rel, data in sorted(files.items()):
            digest = hashlib.sha256(data).hexdigest()[:10]
            stem, dot, ext = rel.rpartition(".")
            self.names[rel] = f"static/{stem}.{digest}.{ext}" if dot else f"static/{rel}.{digest}"

    def url_path(self, rel: str) -> str:
        """The hashed output path of a static file."""
        try:
            return self.names[rel]
        except KeyError:
            raise jinja2.TemplateError(f"no static file {rel!r} in the theme")


# Page-independent fragments are rendered with links from this placeholder root, replaced
# by the path up to the real root of each page that includes them. (NUL never survives
# into escaped output, so it cannot collide with content.)
ROOT = "\x00root\x00/"
HEADING = "\x00heading\x00"


class _Fragment:
    """The `page` a cached fragment is rendered for: no URL of its own."""

    url = ""
    title = ""


FRAGMENT = _Fragment()


CardKey = tuple[str, int, bool]


class CardCache:
    """Every paper card of a build, as HTML with `ROOT` and `HEADING` placeholders.

    Keyed by the paper object as well as its key: an archive day shows a paper as it was
    then (another object with the same key), and that card differs from today's. Forked
    render workers inherit the parent's objects at the same addresses, so cards they
    render can be handed back and `add`-ed. Cards are kept UTF-8 encoded: as text, one
    "▲" would make a whole card take two bytes a character, and a site has a card a paper.
    """

    def __init__(self, env: jinja2.Environment):
        self.env = env
        self.html: dict[CardKey, bytes] = {}
        # Cards `add`-ed from forked workers: (offset, length) in `_file`, an unnamed
        # temporary file, rather than bytes in memory (see `add`).
        self._stored: dict[CardKey, tuple[int, int]] = {}
        self._file: BinaryIO | None = None
        self._paper_card: tuple[Any, Any] | None = None
        # Set by a build that takes unchanged cards from the previous one (`digest.reuse`);
        # then each card whose fingerprint it may record is in `fingerprints`.
        self.reuse: PageReuse | None = None
        self.fingerprints: dict[CardKey, str] = {}
        self._watched: tuple[Any, WatchedSite, bool] | None = None

    def _known(self, key: CardKey) -> bytes | None:
        html = self.html.get(key)
        if html is None:
            place = self._stored.get(key)
            if place is not None:
                assert self._file is not None
                html = os.pread(self._file.fileno(), place[1], place[0])
        return html

    def fragment(self, site: Any, paper: Paper, show_abstract: bool = True) -> str:
        """The card of `paper`, rendered on first use."""
        key = (paper.key, id(paper), show_abstract)
        html = self._known(key)
        if html is not None:
            return html.decode("utf-8")
        reuse = self.reuse
        if reuse is None:
            text = self._render(site, paper, show_abstract)
        else:
            fingerprint = reuse.card_fingerprint(paper, show_abstract)
            old = reuse.previous_card(fingerprint)
            if old is not None:
                self.html[key] = old
                self.fingerprints[key] = fingerprint
                return old.decode("utf-8")
            watched, strayed = self._watched_site(site)
            watched.strayed = False
            text = self._render(watched, paper, show_abstract)
            if not (watched.strayed or strayed):
                self.fingerprints[key] = fingerprint
        self.html[key] = text.encode("utf-8")
        return text

    def _watched_site(self, site: Any) -> tuple[WatchedSite, bool]:
        """The site as cards see it when they may be recorded for the next build, made once
        per site, and whether importing the theme's macros with it read more than a card's
        fingerprint covers (then no card is recorded)."""
        if self._watched is None or self._watched[0] is not site:
            watched = WatchedSite(site)
            self._paper_card_macro(watched)
            self._watched = (site, watched, watched.strayed)
        return self._watched[1], self._watched[2]

    def _render(self, site: Any, paper: Paper, show_abstract: bool) -> str:
        paper_card = self._paper_card_macro(site)
        if paper_card is None:
            text = self.env.get_template("_card_fragment.html").render(
                site=site,
                page=FRAGMENT,
                nav=(),
                paper=paper,
                heading=HEADING,
                show_abstract=show_abstract,
            )
        else:
            text = str(paper_card(paper, HEADING, show_abstract))
        return text

    def _paper_card_macro(self, site: Any) -> Any:
        """The `paper_card` macro the default _card_fragment.html would call, imported once
        per site rather than once per card; None when a theme replaces _card_fragment.html.

        Importing _macros.html "with context" builds a new module for every card, which
        cost about as much as rendering the card itself; every card is rendered in the
        same context (`FRAGMENT`, no nav), so one module serves them all.
        """
        if self._paper_card is not None and self._paper_card[0] is site:
            return self._paper_card[1]
        template = self.env.get_template("_card_fragment.html")
        default = themes_root() / "default" / "templates" / "_card_fragment.html"
        macro = None
        if template.filename is not None and Path(template.filename) == default:
            macros = self.env.get_template("_macros.html")
            module: Any = macros.make_module({"site": site, "page": FRAGMENT, "nav": ()})
            macro = module.paper_card
        self._paper_card = (site, macro)
        return macro

    def fragments(self, site: Any, papers: Iterable[Paper], show_abstract: bool = True) -> str:
        """The cards of `papers`, one after another (each rendered on first use)."""
        known = self._known
        parts: list[bytes] = []
        for paper in papers:
            key = (paper.key, id(paper), show_abstract)
            data = known(key)
            if data is None:
                self.fragment(site, paper, show_abstract)
                data = self.html[key]
            parts.append(data)
        return b"".join(parts).decode("utf-8")

    def take_new(self, known: set[CardKey]) -> tuple[dict[CardKey, bytes], dict[CardKey, str]]:
        """The cards rendered here that are not in `known`, and the fingerprints of those
        that have one, which this cache then forgets (a forked worker hands them to the
        build process, see `add`)."""
        new = {key: html for key, html in self.html.items() if key not in known}
        prints = {key: self.fingerprints.pop(key) for key in new if key in self.fingerprints}
        for key in new:
            del self.html[key]
        return new, prints

    def recorded(self) -> Iterator[tuple[str, bytes]]:
        """(fingerprint, HTML) of every card that has a fingerprint, once per fingerprint."""
        seen: set[str] = set()
        for key, fingerprint in self.fingerprints.items():
            html = self._known(key)
            if html is not None and fingerprint not in seen:
                seen.add(fingerprint)
                yield fingerprint, html

    def add(self, cards: dict[CardKey, bytes], fingerprints: dict[CardKey, str]) -> None:
        """Take cards rendered elsewhere (by a forked render worker).

        They are appended to an unnamed temporary file and read back (``pread``) when a
        listing needs them: every card of a big site held in memory (70 MB at 50,000
        papers) would be held in the build process and in every worker it forks to render
        the listings, where reading them back from the file costs microseconds a card.
        """
        self.fingerprints.update(fingerprints)
        if not cards:
            return
        data = memoryview(b"".join(cards.values()))
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 (see clear)
            offset = self._file.tell()  # (only ever appended to)
            written = 0
            while written < len(data):
                written += os.write(self._file.fileno(), data[written:])
        except OSError as exc:
            raise BuildError(
                f"cannot keep the rendered paper cards in a temporary file "
                f"({tempfile.gettempdir()}): {exc.strerror or exc}; nothing was published"
            )
        for key, html in cards.items():
            self._stored[key] = (offset, len(html))
            offset += len(html)

    def clear(self) -> None:
        """Forget every card (once the pages that list them are all written)."""
        self.html.clear()
        self._stored.clear()
        self.fingerprints.clear()
        self.reuse = None
        self._watched = None
        if self._file is not None:
            self._file.close()
            self._file = None


def card_cache(env: jinja2.Environment) -> CardCache:
    """The card cache of an environment made by `make_environment`."""
    return env.globals["card"].cache  # type: ignore[attr-defined]


def make_environment(config: Config, assets: Assets) -> jinja2.Environment:
    """One Jinja environment per build: autoescape on, strict undefined, theme loaders."""
    dirs = theme_dirs(config)
    default_loader = jinja2.FileSystemLoader(str(themes_root() / "default" / "templates"))
    loader = jinja2.ChoiceLoader(
        [
            jinja2.FileSystemLoader([str(d / "templates") for d in dirs]),
            jinja2.PrefixLoader({"default": default_loader}, delimiter=":"),
        ]
    )
    env = jinja2.Environment(
        loader=loader,
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
        cache_size=-1,
    )
    md = markdown_renderer()

    @jinja2.pass_context
    def url(ctx: Any, target: str) -> str:
        page = ctx["page"]
        if page is FRAGMENT:
            return ROOT + (target or "./")
        return relative_url(page.url, target)

    @jinja2.pass_context
    def root(ctx: Any) -> str:
        """The way up from this page to the site root ("" at the top): `root() ~ target` is
        `url(target)` for any target but the root itself (which is ``root() or "./"``)."""
        page = ctx["page"]
        return ROOT if page is FRAGMENT else "../" * page.url.count("/")

    @jinja2.pass_context
    def asset(ctx: Any, rel: str) -> str:
        return url(ctx, assets.url_path(rel))

    def absolute_url(target: str) -> str:
        return config.base_url + target

    cache = CardCache(env)

    @jinja2.pass_context
    def card(ctx: Any, paper: Paper, heading: str = "h2", show_abstract: bool = True) -> Markup:
        """A paper's card (``_card.html``), rendered once per build and re-rooted per page:
        a paper appears on many list pages, and its card does not depend on which."""
        html = cache.fragment(ctx["site"], paper, show_abstract)
        prefix = "../" * ctx["page"].url.count("/")
        return Markup(html.replace(ROOT, prefix).replace(HEADING, escape(heading)))

    @jinja2.pass_context
    def cards(
        ctx: Any, papers: Iterable[Paper], heading: str = "h2", show_abstract: bool = True
    ) -> Markup:
        """The cards of `papers` one after another, as `card` gives each: one call for a
        whole list, as a template's call of `card` costs more than copying a cached card."""
        html = cache.fragments(ctx["site"], papers, show_abstract)
        prefix = "../" * ctx["page"].url.count("/")
        return Markup(html.replace(ROOT, prefix).replace(HEADING, escape(heading)))

    card.cache = cache  # type: ignore[attr-defined]
    env.globals.update(
        url=url, root=root, asset=asset, absolute_url=absolute_url, card=card, cards=cards
    )
    env.filters.update(
        rich=rich_filter,
        plain=plain_text,
        markdown=lambda text: jinja2.utils.markupsafe.Markup(md.render(text)),
        isodate=lambda d: d.isoformat() if d else "",
        longdate=long_date,
        marks_for=marks_for,
    )
    return env


def rich_filter(text: str, marks: Sequence[Mark] = ()) -> Any:
    """Jinja filter: a title or abstract as safe HTML (see `digest.richtext`)."""
    if len(text) <= SHORT_TEXT:
        return _rich_short(text, tuple(marks))
    return render_rich_text(text, marks)


# Titles are rendered on every page that lists or relates a paper; abstracts once or twice.
SHORT_TEXT = 400


@functools.lru_cache(maxsize=1 << 16)
def _rich_short(text: str, marks: tuple[Mark, ...]) -> Any:
    return render_rich_text(text, marks)


def marks_for(paper: Paper, field: str) -> Sequence[Mark]:
    """Spans any plugin asked to mark in `field` of `paper` (``paper.data["marks"][field]``)."""
    marks = paper.data.get("marks")
    return tuple(marks.get(field, ())) if marks else ()


@functools.lru_cache(maxsize=8192)
def long_date(value: dt.date | None) -> str:
    """``30 Oct 2024``: unambiguous and locale-independent."""
    return f"{value.day} {value:%b %Y}" if value else ""
