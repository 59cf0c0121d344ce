"""Every hook a paper-digest plugin can implement. These docstrings are the reference.

A plugin is a module (or object) with functions decorated by ``@digest.hookimpl`` and
named like the specs below. It may accept any subset of a hook's arguments, so hooks can
grow arguments without breaking plugins. Hooks run in this order during a build:

1. ``digest_configure`` once, after site.toml is read: validate your settings.
2. ``digest_readers`` when sources are loaded: offer format readers.
3. ``digest_papers`` once, on the merged papers: enrich them (trending, topics …).
4. ``digest_pages`` once: add pages to the page set.
5. ``digest_jinja_env`` once, when the theme's environment is made: add filters/globals;
   ``digest_page_inputs`` then says what they read.
6. ``digest_build_done`` after every page is written, before the site is published.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import jinja2

    from digest.config import Config
    from digest.model import Paper
    from digest.pages import Page
    from digest.publish import OutputDir
    from digest.site import Site
    from digest.sources.base import Reader

PROJECT = "digest"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def digest_configure(config: Config) -> None:
    """Validate and parse this plugin's settings; runs once, right after site.toml is read.

    Read your table with ``config.plugin_options("<name>")`` (a `digest.config.Options`),
    take each setting with its typed getters, and call ``.done()`` so unknown keys are
    reported. Errors are collected into the config's error list, never raised, so a user
    sees every mistake at once. Store parsed settings with ``config.set_plugin_settings``.
    """


@hookspec
def digest_readers() -> list[Reader]:  # type: ignore[empty-body]
    """Return format readers (objects following `digest.sources.base.Reader`).

    Called when sources are loaded. A reader's ``name`` is what site.toml's
    ``format = "..."`` names; when a source names no format, every reader's ``sniff`` is
    asked and the most confident wins. Two readers with one name is an error.
    """


@hookspec
def digest_papers(papers: list[Paper], site: Site) -> None:
    """Enrich the merged papers in place; runs once, before any page is built.

    Put results under ``paper.data["<plugin name>"]`` (papers are otherwise frozen). The
    list may be reordered in place. Use ``tryfirst``/``trylast`` when your plugin needs
    another's results: the built-in trending plugin runs first, highlight last.
    ``site.data`` is shared, site-wide state for plugins (e.g. the topic list).

    Two keys of ``paper.data`` are read by the core: ``"marks"`` (``{"title": [Mark …],
    "abstract": [Mark …]}``, spans the theme wraps in ``<mark>``) and ``"search"``
    (``{"topics": [...], "keywords": [...]}``: extra words for the search index; the topic
    names also become JSON-LD keywords and Atom categories).
    """


@hookspec
def digest_jinja_env(env: jinja2.Environment, site: Site) -> None:
    """Add filters, tests or globals to the theme's Jinja environment (one per build).

    Implement ``digest_page_inputs`` too, or every build renders every page.
    """


@hookspec
def digest_page_inputs(site: Site) -> object:
    """Say what the filters, tests and globals you add in ``digest_jinja_env`` read
    besides their arguments and the config: return a value whose ``repr`` changes whenever
    that changes, or None when they read nothing else.

    A build takes a paper's page unchanged from the previous build when nothing it is
    made from changed (`digest.reuse`); what every plugin returns here is part of that.
    While one plugin that adds to the environment does not implement this hook, a build
    cannot know what its pages are made from, and renders all of them.
    """


@hookspec
def digest_pages(site: Site) -> list[Page]:  # type: ignore[empty-body]
    """Return pages to add to the site; runs once, after ``digest_papers``.

    A `digest.pages.Page` names its URL path, its template and its context. Pages with a
    ``nav`` label appear in the site navigation, ordered by ``nav_weight``. Two pages at
    one URL is a build error.
    """


@hookspec
def digest_build_done(site: Site, outdir: Path, output: OutputDir) -> None:
    """Write extra files once every page is rendered.

    Write through ``output.write_bytes(rel, data)`` / ``output.write_text(rel, text)``
    (paths relative to the site root), so a file identical to the published one is
    reused rather than rewritten. ``outdir`` is the same not-yet-published folder, for
    tools that need a path. Whatever is written is published atomically with the rest, and
    an exception here fails the build and leaves the previously published site untouched.
    Under ``digest serve`` the folder is a scratch one that holds only what the hook
    writes (pages are rendered on demand there), so do not read other output files.
    """
