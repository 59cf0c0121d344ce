"""One build, start to finish: config → load → merge → plugins → pages → render → publish."""

from __future__ import annotations

import datetime as dt
import difflib
import gc
import multiprocessing
import os
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import pluggy

from digest import feeds, related, search
from digest import reuse as page_reuse
from digest.config import Config, ConfigIssue, load_config
from digest.corepages import core_pages
from digest.errors import BuildError, ConfigError
from digest.fetch import fetch_for_build
from digest.history import History, HistoryDB, history_path
from digest.model import Paper, Problem, newest_first
from digest.pages import Page
from digest.plugins import available_plugin_names, make_plugin_manager
from digest.publish import OutputDir, atomic_output, check_output_dir, content_digest
from digest.render import Assets, CardKey, card_cache, make_environment, static_files
from digest.report import write_report
from digest.reuse import PageReuse, WatchedSite
from digest.site import Site, SourceReport
from digest.sources.base import Reader, Source
from digest.sources.loader import LoadResult, load_source
from digest.sources.merge import merge_papers
from digest.uptodate import code_digest, inputs_digest, load_stamp, save_stamp, up_to_date

Progress = Callable[[str], None]
# A context manager factory that times the phase it is named after.
PhaseTimer = Callable[[str], AbstractContextManager[None]]


@dataclass
class BuildResult:
    """What a build did, for the CLI summary and ``--report``."""

    site: Site
    outdir: Path
    pages: int = 0
    files: int = 0
    # Pages taken unrendered from the previous build (`digest.reuse`).
    reused: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    # Set when nothing changed since the last build (`digest.uptodate`): what it published.
    unchanged: dict[str, Any] | None = None


def build_date(value: dt.date | None = None) -> dt.date:
    """The date a build is "as of": the given one, else SOURCE_DATE_EPOCH, else today (UTC)."""
    if value is not None:
        return value
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            return dt.datetime.fromtimestamp(int(epoch), dt.UTC).date()
        except ValueError:
            raise ConfigError(f"SOURCE_DATE_EPOCH: expected seconds since 1970, got {epoch!r}")
    return dt.datetime.now(dt.UTC).date()


def prepare_config(path: Path, strict: bool = False) -> tuple[Config, pluggy.PluginManager]:
    """Load site.toml and the plugins, and let plugins validate their settings.

    Raises `ConfigError` listing every error (and every warning with `strict`).
    """
    config = load_config(path)
    pm = make_plugin_manager(config)
    pm.hook.digest_configure(config=config)
    from digest.email_edition import read_email_settings  # it builds on this module

    read_email_settings(config)
    _check_plugin_tables(config, pm)
    fatal = config.issues if strict else config.errors
    if fatal:
        raise ConfigError("\n".join(str(issue) for issue in fatal))
    return config, pm


def _check_plugin_tables(config: Config, pm: pluggy.PluginManager) -> None:
    """A ``[plugins.<name>]`` table must name an installed plugin (a typo is an error)."""
    known = set(available_plugin_names()) | set(config.plugins_local)
    for name in sorted(config.raw_plugin_options):
        if name not in known:
            near = difflib.get_close_matches(name, sorted(known), n=1)
            hint = f" (did you mean [plugins.{near[0]}]?)" if near else ""
            config.issues.append(
                ConfigIssue(config.path.name, f"plugins.{name}", "", f"no such plugin{hint}")
            )


def readers_by_name(pm: pluggy.PluginManager) -> dict[str, Reader]:
    """Every reader the plugins offer, by format name; a name offered twice is an error."""
    readers: dict[str, Reader] = {}
    for offered in pm.hook.digest_readers():
        for reader in offered or ():
            if reader.name in readers:
                raise ConfigError(f"two plugins offer a reader named {reader.name!r}")
            readers[reader.name] = reader
    return readers


def load_papers(
    config: Config,
    pm: pluggy.PluginManager,
    load: Callable[[dict[str, Reader], Source], LoadResult] = load_source,
) -> tuple[list[Paper], Site]:
    """Load and merge every configured source (each through `load`, e.g. a cache); problems
    and per-source counts go on the returned site."""
    readers = readers_by_name(pm)
    site = Site(config=config, date=dt.date.today())
    loaded: list[Paper] = []
    for source in config.sources:
        result = load(readers, source)
        loaded.extend(result.papers)
        site.problems.extend(result.problems)
        site.sources.append(
            SourceReport(
                name=source.name,
                format=result.format,
                path=source.label,
                entries=len(result.papers),
                problems=len(result.problems),
                error=next((p.message for p in result.problems if p.severity == "error"), None),
            )
        )
    return merge_papers(loaded), site


def enrich_and_collect(
    site: Site,
    pm: pluggy.PluginManager,
    view: History | None,
    phase: PhaseTimer,
    after_plugins: Callable[[], object] | None = None,
) -> None:
    """Run the plugins on the site's papers, then build its page set (with the history's
    archive days when there is a history): the same for `digest build` and the preview.
    `after_plugins` is called in between (the build starts the search index there)."""
    # The related papers' index is made beside the plugins, since it needs only the
    # papers' text (the paper pages take it).
    with related.prepared(site.papers):
        with phase("plugins"):
            pm.hook.digest_papers(papers=site.papers, site=site)
        if after_plugins is not None:
            after_plugins()
        with phase("pages"):
            if view is not None:
                # Today's new papers are listed in the digest's order, so after the plugins.
                site.archive_days = dict(sorted(view.archive_days().items()))
            site.pages = collect_pages(site, pm)


def render_page(
    env: jinja2.Environment,
    site: Site | WatchedSite,
    page: Page,
    nav: list[Page],
    context: Mapping[str, Any] | None = None,
) -> str:
    """One page's HTML (`context`: the values of the page's context, if already read);
    template problems become a `BuildError` naming file and line."""
    try:
        template = env.get_template(page.template)
        values = page.context if context is None else context
        return template.render(site=site, page=page, nav=nav, **values)
    except jinja2.TemplateSyntaxError as exc:
        raise BuildError(f"{exc.filename or exc.name}:{exc.lineno}: template error: {exc}") from exc
    except jinja2.TemplateError as exc:
        raise BuildError(
            f"{_template_frame(exc, page)}: rendering /{page.url} failed: {exc}"
        ) from exc


def _template_frame(exc: BaseException, page: Page) -> str:
    """``file:line`` of the innermost template frame of a rendering error (Jinja rewrites
    tracebacks so template code carries template lines), else the page's template."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.endswith((".html", ".xml", ".txt")):
            return f"{frame.filename}:{frame.lineno}"
    return page.template


def site_nav(site: Site) -> list[Page]:
    """The pages that appear in the navigation, in order."""
    return sorted((p for p in site.pages if p.nav), key=lambda p: (p.nav_weight, p.nav or ""))


def assign_slugs(papers: list[Paper]) -> dict[str, str]:
    """A unique page slug per paper key; a clash gets ``-2``, ``-3`` … in key order."""
    slugs: dict[str, str] = {}
    taken: set[str] = set()
    for paper in sorted(papers, key=lambda p: p.key):
        slug, n = paper.slug, 1
        while slug in taken:
            n += 1
            slug = f"{paper.slug}-{n}"
        taken.add(slug)
        slugs[paper.key] = slug
    return slugs


def collect_pages(site: Site, pm: pluggy.PluginManager) -> list[Page]:
    """The core pages plus every plugin's, checked for two pages at one URL."""
    pages = list(core_pages(site))
    for offered in pm.hook.digest_pages(site=site):
        pages.extend(offered or ())
    seen: dict[str, Page] = {}
    for page in pages:
        if page.output_path in seen:
            raise BuildError(f"two pages want the same URL /{page.url} ({page.template})")
        seen[page.output_path] = page
    return sorted(pages, key=lambda p: p.output_path)


@contextmanager
def _phase(result: BuildResult, name: str, progress: Progress | None) -> Iterator[None]:
    if progress:
        progress(name)
    start = time.perf_counter()
    yield
    result.phases[name] = round(time.perf_counter() - start, 4)


def render_pages(
    env: jinja2.Environment,
    site: Site,
    out: OutputDir,
    progress: Progress | None = None,
    reuse: PageReuse | None = None,
) -> None:
    """Render every page of the site into the output folder, on every core when the site is
    big enough for that to pay (forked workers share the loaded site copy-on-write).
    `progress` hears ``"render 4200/11172"`` as parts of the site are done. With `reuse`,
    a page the previous build published from the same inputs is taken from it unrendered
    (`digest.reuse`), and `reuse` records what this build published.

    In parallel, pages are rendered in two rounds so that no card is rendered twice: first
    the pages of single papers, each followed by that paper's card (while its title is in
    the worker's caches); then, with every card known, the listings made of those cards.
    """
    total = len(site.pages)
    workers = _render_workers(total)
    if workers <= 1:
        parts = RENDER_PARTS_PER_WORKER
        before = out.count
        for index in range(parts):
            _render_slice(env, site, out, site.pages[index::parts], reuse=reuse)
            if progress:
                progress(f"render {out.count - before}/{total}")
        return
    singles = [p for p in site.pages if "paper" in p.context]
    listings = [p for p in site.pages if "paper" not in p.context]
    # A listing of papers, rendered here first, tells whether the theme uses cards at all.
    probe = next((p for p in listings if p.context.get("papers")), None)
    if probe is not None:
        _render_slice(env, site, out, [probe])
        listings.remove(probe)
    cards = bool(card_cache(env).html)
    done = 1 if probe else 0
    for pages, with_cards in ((singles, cards), (listings, False)):
        done = _render_round(
            env, site, out, pages, with_cards, workers, done, total, progress, reuse
        )


def _render_round(
    env: jinja2.Environment,
    site: Site,
    out: OutputDir,
    pages: list[Page],
    with_cards: bool,
    workers: int,
    done: int,
    total: int,
    progress: Progress | None,
    reuse: PageReuse | None,
) -> int:
    """Render `pages` in forked workers, with the card of each page's paper if `with_cards`;
    returns the number of pages done."""
    global _FORK_STATE
    parts = workers * RENDER_PARTS_PER_WORKER
    _FORK_STATE = (env, site, out, pages, with_cards, reuse)
    cards = card_cache(env)
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            tasks = [(i, parts) for i in range(parts)]
            for done_part in pool.imap_unordered(_render_forked, tasks):
                written, reused, error, (rendered, prints), published = done_part
                if error:
                    raise BuildError(error)
                out.absorb(written, reused)
                cards.add(rendered, prints)
                if reuse is not None:
                    reuse.add_part(published)
                done += len(written)
                if progress:
                    progress(f"render {done}/{total}")
    finally:
        _FORK_STATE = None
    return done


RENDER_PARTS_PER_WORKER = 8


# What forked render workers inherit: set just before a pool forks, cleared after.
_FORK_STATE: (
    tuple[jinja2.Environment, Site, OutputDir, list[Page], bool, PageReuse | None] | None
) = None
PARALLEL_MIN_PAGES = 1000


def _render_workers(pages: int) -> int:
    if pages < PARALLEL_MIN_PAGES or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    return max(1, min(os.cpu_count() or 1, 8))


def _render_forked(
    task: tuple[int, int],
) -> tuple[
    list[str],
    int,
    str | None,
    tuple[dict[CardKey, bytes], dict[CardKey, str]],
    tuple[dict[str, list[str]], int],
]:
    index, step = task
    assert _FORK_STATE is not None
    env, site, parent_out, pages, with_cards, reuse = _FORK_STATE
    out = OutputDir(parent_out.path, parent_out.previous)
    cards = card_cache(env)
    known = set(cards.html)
    if reuse is not None:
        reuse.start_part()
    try:
        _render_slice(env, site, out, pages[index::step], with_cards, reuse)
    except BuildError as exc:
        return out.written, out.reused, exc.message, ({}, {}), ({}, 0)
    # Handed back and forgotten: a worker renders each paper's card once, and all of them
    # kept to its end would grow it by half of every card of the site.
    part = reuse.part() if reuse is not None else ({}, 0)
    return out.written, out.reused, None, cards.take_new(known), part


def _render_slice(
    env: jinja2.Environment,
    site: Site,
    out: OutputDir,
    pages: list[Page],
    cards: bool = False,
    reuse: PageReuse | None = None,
) -> None:
    nav = site_nav(site)
    cache = card_cache(env)
    for page in pages:
        if reuse is not None and page.inputs is not None:
            _render_reusable(env, site, out, page, nav, reuse)
        else:
            out.write_text(page.output_path, render_page(env, site, page, nav))
        if cards:
            cache.fragment(site, page.context["paper"])


def _render_reusable(
    env: jinja2.Environment,
    site: Site,
    out: OutputDir,
    page: Page,
    nav: list[Page],
    reuse: PageReuse,
) -> None:
    """Take `page` from the previous build if its fingerprint is the same, else render it;
    record its fingerprint unless its template read what the fingerprint does not cover."""
    rel = page.output_path
    values = dict(page.context)  # (read once: a paper page's context makes its values)
    fingerprint = reuse.fingerprint(page, values)
    digest = reuse.match(rel, fingerprint)
    if digest is not None and out.link_previous(rel, digest):
        reuse.record(rel, fingerprint, digest, taken=True)
        return
    watched = WatchedSite(site)
    data = render_page(env, watched, page, nav, values).encode("utf-8")
    out.write_bytes(rel, data)
    if not watched.strayed:
        reuse.record(rel, fingerprint, content_digest(data))


def build(
    config_path: Path,
    outdir: Path | None = None,
    date: dt.date | None = None,
    strict: bool = False,
    progress: Progress | None = None,
    history: Path | None = None,
    report: Path | None = None,
    force: bool = False,
) -> BuildResult:
    """Build the site described by `config_path` and publish it atomically.

    Raises `ConfigError` for unusable settings and `BuildError` when the build fails (or,
    with `strict`, when any source reported a problem); in both cases the previously
    published output is left exactly as it was, and so is the history.

    `history` names the history database (default: site.toml's ``history``; neither: no
    history), see `digest.history`. With `report`, a JSON build report is written there
    whether the build succeeds or fails, see `digest.report`.

    A build whose inputs and output are unchanged since the last one returns at once with
    `BuildResult.unchanged` set (see `digest.uptodate`), unless `force`, a history or a
    report asks for a real build.
    """
    # --- history & report (digest.history, digest.report) ---
    run = _Run(started=time.perf_counter())
    try:
        skip_allowed = not force and report is None
        result = _build(
            run, config_path, outdir, date, strict, progress, history, skip_allowed, force
        )
    except BaseException as exc:
        if report is not None:
            if run.result is not None:
                run.result.seconds = time.perf_counter() - run.started
            write_report(report, run.result, exc, _requested_date(date))
        raise
    finally:
        gc.unfreeze()  # see `_keep_for_good`: a caller that goes on may have cycles to free
        if run.history is not None:
            run.history.close()
        if run.reuse is not None:
            run.reuse.close()  # (the previous build's card file)
    if report is not None:
        write_report(report, result, None)
    return result


@dataclass
class _Run:
    """What a build has so far: for `build` to report a failure and close the history."""

    started: float
    result: BuildResult | None = None
    history: HistoryDB | None = None
    view: History | None = None
    reuse: PageReuse | None = None


def _requested_date(date: dt.date | None) -> dt.date | None:
    try:
        return build_date(date)
    except ConfigError:
        return None


def _build(
    run: _Run,
    config_path: Path,
    outdir: Path | None,
    date: dt.date | None,
    strict: bool,
    progress: Progress | None,
    history: Path | None,
    skip_allowed: bool = False,
    force: bool = False,
) -> BuildResult:
    """The pipeline itself (see `build`); `run` keeps the result and history as it goes
    (`force`: render every page, taking none from the previous build)."""
    config, pm = prepare_config(config_path, strict)
    target = (outdir or config.output_dir).resolve()
    check_output_dir(config, target)
    result = BuildResult(site=Site(config=config, date=build_date(date)), outdir=target)
    run.result = result
    database = history_path(config, history, output=target)
    if database is not None:
        # Locked and read before loading: a second build fails fast, before any work.
        with _phase(result, "history", progress):
            run.history = HistoryDB.for_build(database)
            run.view = run.history.view(result.site.date)
            result.site.data["history"] = run.view
    # --- url sources are fetched (through the cache) before loading (digest.fetch) ---
    with _phase(result, "fetch", progress):
        fetch_warnings = fetch_for_build(config, date)
    inputs = None
    code = code_digest(config, pm)  # (what the up-to-date check and page reuse start from)
    if run.history is None:
        with _phase(result, "check", progress):
            settings = [result.site.date.isoformat(), str(target), f"strict={strict}"]
            inputs = inputs_digest(code, config, settings)
            stamp = load_stamp(config)
            # A fetch that failed (and fell back to a cached copy) is news worth a build.
            if skip_allowed and not fetch_warnings and up_to_date(stamp, inputs, target):
                assert stamp is not None
                result.unchanged = stamp.summary
                result.pages, result.files = stamp.summary["pages"], stamp.summary["files"]
                result.seconds = time.perf_counter() - run.started
                return result
    with _kept_for_good(), _phase(result, "load", progress):
        papers, loaded = load_papers(config, pm)
    site = result.site
    site.problems, site.sources = [*fetch_warnings, *loaded.problems], loaded.sources
    site.papers = newest_first(papers)
    if run.view is not None:
        with _phase(result, "archive", progress):
            run.view.attach(site)
            site.archived = run.view.archived_papers()
    site.slugs = assign_slugs([*site.papers, *site.archived])
    _fail_on_problems(site.problems, strict)
    with atomic_output(target) as out, Background(out) as background:

        def after_plugins() -> None:
            _keep_for_good()
            # The index needs the plugins' topics and keywords, not the pages.
            background.start(search.write_index, site)

        with _kept_for_good():
            enrich_and_collect(
                site, pm, run.view, lambda name: _phase(result, name, progress), after_plugins
            )
        # Feeds, the sitemap and papers.bib need the pages, not their HTML: written beside
        # the rendering rather than after it, on a core the renderer leaves idle at times.
        background.start(feeds.write_site_files, site)
        with _phase(result, "render", progress):
            files = {rel: path.read_bytes() for rel, path in static_files(config)}
            files.update(search.runtime_files())
            assets = Assets(files)
            for rel, data in files.items():
                out.write_bytes(assets.url_path(rel), data)
            env = make_environment(config, assets)
            pm.hook.digest_jinja_env(env=env, site=site)
            shared = page_reuse.site_wide_inputs(code, site, pm, site_nav(site), assets.names)
            reuse = run.reuse = page_reuse.load(config.root, target, shared)
            if reuse is not None and force:
                reuse.forget_previous()
            card_cache(env).reuse = reuse
            try:
                render_pages(env, site, out, progress, reuse)
                if reuse is not None:
                    reuse.keep_cards(config.root, target, card_cache(env).recorded())
            finally:
                # A card a paper need not outlive the listings (and its file is closed).
                card_cache(env).clear()
        with _phase(result, "background", progress):
            background.finish()  # the search index and the feeds
        with _phase(result, "feeds", progress):
            pm.hook.digest_build_done(site=site, outdir=out.path, output=out)
        result.files = out.count
        result.reused = reuse.taken if reuse is not None else 0
        if run.history is not None:
            with _phase(result, "record", progress):
                run.history.record(site)
    page_reuse.save(config.root, target, reuse)  # (for the published site only)
    if run.history is not None:
        run.history.commit()  # only now that the new site is published
    result.pages = len(site.pages)
    if inputs is not None:
        save_stamp(config, inputs, target, out.written, _summary(result))
    result.seconds = time.perf_counter() - run.started
    return result


@contextmanager
def _kept_for_good() -> Iterator[None]:
    """No automatic garbage collection in the body, then `_keep_for_good` what it made.

    Loading, the plugins and the pages make what the build keeps to its end, and no
    reference cycles, so the collector's passes over that growing heap find nothing, and
    they come more often as it grows: seconds of the plugins at 50,000 papers. (Rendering
    does leave cycles, some fifty objects a page, so it runs with the collector on.)
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
    _keep_for_good()


def _keep_for_good() -> None:
    """Collect what the phase just done left over and exempt everything else from
    garbage collection for the rest of the build: forked workers that ran a collection
    would otherwise touch, and so copy, every inherited page of memory."""
    gc.collect()
    gc.freeze()


def _summary(result: BuildResult) -> dict[str, Any]:
    """What a skipped build reports in place of this one."""
    site = result.site
    return {
        "papers": len(site.papers),
        "sources": len(site.sources),
        "problems": [str(p) for p in site.problems],
        "pages": result.pages,
        "files": result.files,
    }


BackgroundJob = Callable[[Site, OutputDir], None]


def _job_name(job: BackgroundJob) -> str:
    return f"{getattr(job, '__module__', '')}.{getattr(job, '__qualname__', 'job')}"


class Background:
    """Jobs that write into the build folder beside the rest of the build: each in a forked
    process when the site is big enough for that to pay (the search index, written while
    pages are collected and rendered; the site's feeds, written while pages are rendered),
    else at `finish`, in this process, in the order they were started.

    As a context manager it stops forked jobs that are still running when the build fails.
    """

    def __init__(self, out: OutputDir):
        self.out = out
        # (job, site, process, the end of the pipe it replies on); no process: run at finish.
        self.jobs: list[tuple[BackgroundJob, Site, Any, Any]] = []

    def start(self, job: BackgroundJob, site: Site) -> None:
        """Start `job(site, output)`; forked only for a site that renders in parallel."""
        if _render_workers(len(site.papers) + len(site.archived)) <= 1:
            self.jobs.append((job, site, None, None))
            return
        context = multiprocessing.get_context("fork")
        reply, child_end = context.Pipe(duplex=False)
        process = context.Process(
            target=_background_main, args=(child_end, job, site, self.out), daemon=False
        )
        process.start()
        child_end.close()
        self.jobs.append((job, site, process, reply))

    def finish(self) -> None:
        """Wait for every job (or run it now); their files count as this build's."""
        while self.jobs:
            job, site, process, reply = self.jobs.pop(0)
            if process is None:
                job(site, self.out)
                continue
            try:
                written, reused, error = reply.recv()
            except EOFError:
                written, reused, error = [], 0, f"{_job_name(job)} died without a word"
            process.join()
            if error:
                raise BuildError(error)
            self.out.absorb(written, reused)

    def __enter__(self) -> Background:
        return self

    def __exit__(self, *exc: object) -> None:
        for _, _, process, _ in self.jobs:
            if process is not None:
                process.terminate()
                process.join()
        self.jobs.clear()


def _background_main(reply: Any, job: BackgroundJob, site: Site, parent_out: OutputDir) -> None:
    gc.enable()  # forked while the parent had it paused (see `_kept_for_good`)
    out = OutputDir(parent_out.path, parent_out.previous)
    try:
        job(site, out)
        reply.send((out.written, out.reused, None))
    except BuildError as exc:
        reply.send(([], 0, exc.message))
    except Exception as exc:  # reported by the parent, which owns the build's errors
        reply.send(([], 0, f"{_job_name(job)}: {type(exc).__name__}: {exc}"))


def _fail_on_problems(problems: list[Problem], strict: bool) -> None:
    errors = [p for p in problems if p.severity == "error" or strict]
    if errors:
        shown = "\n".join(str(p) for p in errors[:20])
        more = f"\n… and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise BuildError(f"{len(errors)} source problem(s) stop the build:\n{shown}{more}")
