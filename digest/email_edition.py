"""The email edition: one day's digest as an email (``digest email``).

The edition of a date holds the papers first seen that day (from the history, as they were
that day), or, when there are none or the site keeps no history, the top of that day's
digest. It is rendered from the theme's ``email/digest.html`` (inline styles, no scripts, no
images, absolute links from ``base_url``) and ``email/digest.txt`` into a
``multipart/alternative`` message that is byte-for-byte reproducible: its Date is the
edition's date, its Message-ID and MIME boundary derive from a hash of its content.

Settings come from the ``[email]`` table of site.toml (when the config knows it, as
``config.raw_email``), overridden by command-line options::

    [email]
    from = "Paper Digest <digest@example.org>"
    to = ["team@example.org"]
    subject = "{title}, {date}: {headline}"   # also {count}
    top = 20                                  # at most this many papers in an edition
    smtp = "smtp.example.org:587"             # where `digest email --send` delivers

SMTP credentials never live in site.toml: ``DIGEST_SMTP_USER``, ``DIGEST_SMTP_PASSWORD``
and ``DIGEST_SMTP_STARTTLS=1`` come from the environment.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import os
import smtplib
import ssl
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, replace
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
import pluggy

from digest.build import assign_slugs, load_papers, prepare_config
from digest.config import Config, Options
from digest.errors import ConfigError, DigestError
from digest.history import History, HistoryDB, history_path
from digest.model import Paper, newest_first
from digest.render import theme_dirs
from digest.richtext import plain_text
from digest.site import Site

DEFAULT_SUBJECT = "{title}, {date}: {headline}"
ABSTRACT_CHARS = 300


@dataclass(frozen=True, slots=True)
class EmailSettings:
    """The ``[email]`` table, with command-line overrides applied."""

    sender: str | None = None
    recipients: tuple[str, ...] = ()
    subject: str = DEFAULT_SUBJECT
    top: int = 20
    smtp: str | None = None


def read_email_settings(config: Config) -> EmailSettings:
    """Validate the ``[email]`` table (issues go to ``config.issues``); defaults when the
    config has none."""
    raw = config.raw_email
    opts = Options(raw, "email", config.path.name, config.issues)
    defaults = EmailSettings()
    settings = EmailSettings(
        sender=opts.string("from"),
        recipients=opts.strings("to", ()),
        subject=opts.string("subject", defaults.subject),
        top=opts.integer("top", defaults.top, minimum=1),
        smtp=opts.string("smtp"),
    )
    opts.done()
    return settings


def with_overrides(settings: EmailSettings, **overrides: Any) -> EmailSettings:
    """`settings` with every override that is not None (or empty) applied."""
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    return replace(settings, **given)


@dataclass
class Edition:
    """What one email says: the date, its papers and where they live on the site."""

    config: Config
    date: dt.date
    papers: list[Paper]
    new: bool
    total: int
    slugs: dict[str, str]
    archive: bool

    def url(self, path: str) -> str:
        """An absolute URL on the site."""
        return self.config.base_url + path

    def paper_url(self, paper: Paper) -> str:
        """The absolute URL of a paper's page."""
        return self.url(f"papers/{self.slugs.get(paper.key, paper.slug)}/")

    @property
    def headline(self) -> str:
        """``12 new papers`` or ``top 10 papers``."""
        n = len(self.papers)
        noun = "paper" if n == 1 else "papers"
        return f"{self.total} new {noun}" if self.new else f"top {n} {noun}"


def edition_for(config_path: Path, date: dt.date, top: int, history: Path | None = None) -> Edition:
    """The edition of `date`: from the history when it recorded that date, else from a
    fresh read of the sources (plugins run, nothing is written)."""
    config, pm = prepare_config(config_path)
    database = history_path(config, history)
    if database is not None and database.is_file():
        with HistoryDB.for_reading(database) as db:
            if any(day.date == date for day in db.days()):
                return _edition_from_history(config, db, date, top)
            return _edition_from_sources(config, pm, date, top, db.view(date))
    return _edition_from_sources(config, pm, date, top, None)


def _edition_from_history(config: Config, db: HistoryDB, date: dt.date, top: int) -> Edition:
    day = (date.isoformat(),)
    new = [
        p
        for _, p in db.papers_where(
            "s.date = ? AND NOT EXISTS (SELECT 1 FROM seen e WHERE e.paper = s.paper"
            " AND e.date < s.date)",
            day,
        )
    ]
    papers = new or [p for _, p in db.papers_where("s.date = ? AND s.rank <= ?", (*day, top))]
    # The same slugs the build of that date gave: every paper known up to that date.
    known = db.papers_where(
        "s.date = (SELECT MAX(e.date) FROM seen e WHERE e.paper = s.paper AND e.date <= ?)", day
    )
    return Edition(
        config,
        date,
        papers[:top],
        bool(new),
        len(new),
        assign_slugs([p for _, p in known]),
        archive=bool(new),
    )


def _edition_from_sources(
    config: Config, pm: pluggy.PluginManager, date: dt.date, top: int, view: History | None
) -> Edition:
    papers, loaded = load_papers(config, pm)
    site = Site(config=config, date=date, problems=loaded.problems, sources=loaded.sources)
    site.papers = newest_first(papers)
    if view is not None:
        view.attach(site)
        site.data["history"] = view
        site.archived = view.archived_papers()
    site.slugs = assign_slugs([*site.papers, *site.archived])
    pm.hook.digest_papers(papers=site.papers, site=site)
    new_keys = set(view.papers_first_seen(date)) if view is not None else set()
    new = [p for p in site.papers if p.key in new_keys]
    chosen = new or site.papers
    return Edition(config, date, chosen[:top], bool(new), len(new), site.slugs, archive=bool(new))


# -- rendering --------------------------------------------------------------------------


def email_environment(config: Config) -> jinja2.Environment:
    """Jinja for email templates: the theme chain's ``templates/``, HTML autoescaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d / "templates") for d in theme_dirs(config)]),
        autoescape=jinja2.select_autoescape(["html"], default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _authors(paper: Paper, limit: int = 5) -> str:
    if paper.authors:
        more = max(0, len(paper.authors) - limit) + paper.hidden_authors
        shown = ", ".join(paper.authors[:limit])
        return f"{shown} +{more} more" if more else shown
    if paper.hidden_authors:
        return f"{paper.hidden_authors} author{'s' if paper.hidden_authors != 1 else ''}"
    return paper.organization or "Authors unknown"


def _shorten(text: str, limit: int = ABSTRACT_CHARS) -> str:
    text = " ".join(plain_text(text).split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;:.") + "…"


def paper_entry(edition: Edition, paper: Paper) -> dict[str, Any]:
    """What the templates show of one paper, every link absolute."""
    meta = []
    if paper.date:
        meta.append(f"{paper.date.day} {paper.date:%b %Y}")
    if paper.upvotes is not None:
        meta.append(f"{paper.upvotes} upvote{'s' if paper.upvotes != 1 else ''}")
    if len(paper.source_names) > 1:
        meta.append(f"in {len(paper.source_names)} listings")
    links = [(kind, paper.links[kind]) for kind in ("abs", "pdf", "code") if kind in paper.links]
    return {
        "title": " ".join(plain_text(paper.title).split()),
        "url": edition.paper_url(paper),
        "authors": _authors(paper),
        "meta": " · ".join(meta),
        "abstract": _shorten(paper.abstract) if paper.abstract else "",
        "links": links,
    }


def render_edition(edition: Edition) -> tuple[str, str]:
    """The edition as (plain text, HTML)."""
    env = email_environment(edition.config)
    context = {
        "title": edition.config.title,
        "language": edition.config.language,
        "date": edition.date,
        "long_date": f"{edition.date.day} {edition.date:%B %Y}",
        "headline": edition.headline,
        "new": edition.new,
        "papers": [paper_entry(edition, p) for p in edition.papers],
        "more": edition.total - len(edition.papers) if edition.new else 0,
        "site_url": edition.url(""),
        "archive_url": edition.url(f"archive/{edition.date:%Y/%m/%d}/")
        if edition.archive
        else None,
        "wrap": lambda text, indent="": textwrap.fill(
            text, 72, initial_indent=indent, subsequent_indent=indent
        ),
    }
    try:
        text = env.get_template("email/digest.txt").render(context)
        html = env.get_template("email/digest.html").render(context)
    except jinja2.TemplateError as exc:
        raise DigestError(f"email template: {exc}")
    return text, html


def make_message(edition: Edition, settings: EmailSettings) -> EmailMessage:
    """The edition as a deterministic multipart/alternative message."""
    text, html = render_edition(edition)
    host = urlsplit(edition.config.base_url).hostname or "localhost"
    title = " ".join(edition.config.title.split())  # a header is one line
    try:
        subject = settings.subject.format(
            title=title,
            date=edition.date.isoformat(),
            count=len(edition.papers),
            headline=edition.headline,
        )
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"[email] subject: {settings.subject!r} cannot be filled in: {exc}")
    subject = " ".join(subject.split())
    content = hashlib.sha256("\0".join((subject, text, html)).encode("utf-8")).hexdigest()
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = subject
    msg["From"] = settings.sender or formataddr((title, f"digest@{host}"))
    if settings.recipients:
        msg["To"] = ", ".join(settings.recipients)
    midnight = dt.datetime.combine(edition.date, dt.time(0, 0), tzinfo=dt.UTC)
    msg["Date"] = format_datetime(midnight)
    msg["Message-ID"] = f"<digest.{edition.date.isoformat()}.{content[:24]}@{host}>"
    msg.set_content(text, cte="quoted-printable")
    msg.add_alternative(html, subtype="html", cte="quoted-printable")
    # Quoted-printable escapes every "=", so a boundary starting "=_" cannot occur in a part.
    msg.set_boundary(f"=_digest_{content[24:48]}")
    return msg


# -- delivery ---------------------------------------------------------------------------


def parse_server(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:25`` for IPv6) → (host, port)."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--smtp: expected host:port, got {value!r}")
    return host.strip("[]"), int(port)


def send_message(
    msg: EmailMessage,
    server: str,
    recipients: tuple[str, ...],
    env: Mapping[str, str] = os.environ,
) -> None:
    """Deliver `msg` through the SMTP server at ``host:port``.

    ``DIGEST_SMTP_STARTTLS=1`` upgrades the connection with STARTTLS (certificate checked);
    ``DIGEST_SMTP_USER`` / ``DIGEST_SMTP_PASSWORD`` log in.
    """
    if not recipients:
        raise ConfigError("no recipients: give --to or [email] to in site.toml")
    host, port = parse_server(server)
    sender = parseaddr(str(msg["From"]))[1]
    try:
        with smtplib.SMTP(host, port, timeout=30) as smtp:
            if env.get("DIGEST_SMTP_STARTTLS") == "1":
                smtp.starttls(context=ssl.create_default_context())
            user = env.get("DIGEST_SMTP_USER")
            if user:
                smtp.login(user, env.get("DIGEST_SMTP_PASSWORD", ""))
            refused = smtp.send_message(msg, from_addr=sender, to_addrs=list(recipients))
    except (smtplib.SMTPException, OSError) as exc:
        raise DigestError(f"sending the email through {server} failed: {exc}")
    if refused:
        raise DigestError(f"the server refused: {', '.join(sorted(refused))}")
