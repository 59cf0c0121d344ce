"""Citation export: BibTeX entries for papers, one per paper page and whole .bib files.

Every entry is an ``@misc`` (what arXiv itself exports for preprints) with the arXiv
eprint fields when the id is known. Text from the sources is escaped for BibTeX and LaTeX;
inline math (``$^2$`` in ``LeC$^2$O-NeRF``) is kept as LaTeX when its braces balance.
Citation keys (``jin2025cost``) are unique within a site and stable from build to build:
the same paper gets the same key on its page, in every .bib file and in the reading list.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Iterable

from digest.model import Paper
from digest.richtext import MATH_SPAN, plain_text
from digest.site import Site

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile(r"[\\{}&%$#_~^]")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_STOP_WORDS = frozenset(
    {"a", "an", "the", "on", "of", "in", "for", "to", "and", "with", "via", "is", "are", "by"}
)
_KEYS = "bibtex_keys"
# Authors named in an entry before "and others" (a consortium paper lists thousands).
MAX_AUTHORS = 100
_NOT_KEY_CHAR = re.compile(r"[^a-z0-9]")
_TITLE_WORD = re.compile(r"[^\W_]+")
_AND = re.compile(r"\sand\s", re.IGNORECASE)
_DOI_PREFIX = re.compile(r"^https?://(dx\.)?doi\.org/")
_NOT_VERBATIM = re.compile(r"[\\{}\s]")
# Citation key parts and entries are kept for papers whose fields are unchanged (a preview
# server builds again after each edit): keyed by every field they are made from.
CACHE_SIZE = 1 << 16


def escape_bibtex(text: str) -> str:
    """`text` with every BibTeX/LaTeX special character escaped (no math kept)."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], " ".join(text.split()))


def escape_bibtex_keeping_math(text: str) -> str:
    """Like `escape_bibtex`, but ``$…$`` spans with balanced braces stay LaTeX math."""
    if "$" not in text:
        return escape_bibtex(text)
    out: list[str] = []
    pos = 0
    for m in MATH_SPAN.finditer(text):
        if _balanced(m.group(1)):
            out.append(escape_bibtex(text[pos : m.start()]))
            out.append(m.group(0))
            pos = m.end()
    out.append(escape_bibtex(text[pos:]))
    return "".join(out)


def _balanced(latex: str) -> bool:
    depth = 0
    escaped = False
    for char in latex:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0 and not escaped


def _ascii_word(text: str) -> str:
    if text.isascii():  # (NFKD leaves ASCII as it is)
        lower = text.lower()
        return lower if lower.isalnum() else _NOT_KEY_CHAR.sub("", lower)
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return _NOT_KEY_CHAR.sub("", ascii_text.lower())


def _key_base(paper: Paper) -> str:
    """``<first author's last name><year><first significant title word>``; without authors,
    ``<first title word><year><second title word>`` (``lec2024nerf``)."""
    first = paper.authors[0] if paper.authors else ""
    return _key_base_of(
        first, paper.organization, paper.date.year if paper.date else None, paper.title
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _key_base_of(first_author: str, organization: str | None, year: int | None, title: str) -> str:
    who = ""
    author_names, organization_words = first_author.split(), (organization or "").split()
    if author_names:
        who = _ascii_word(author_names[-1])
    elif organization_words:  # an organization of spaces alone is no name
        who = _ascii_word(organization_words[0])
    if "$" in title:
        title = MATH_SPAN.sub(" ", title)
    # Only the first two significant words are ever used.
    words: list[str] = []
    for token in _TITLE_WORD.findall(title):
        word = _ascii_word(token)
        if len(word) > 1 and word not in _STOP_WORDS:
            words.append(word)
            if len(words) == 2:
                break
    if not who and words:
        who = words.pop(0)[:20]
    return (
        (who or "anon")
        + (str(year) if year is not None else "")
        + (words[0][:20] if words else "paper")
    )


def citation_keys(site: Site) -> dict[str, str]:
    """A unique citation key per paper key, for every paper of the site (computed once).

    A clash gets ``a``, ``b`` … appended, in paper-key order, so keys are stable.
    """
    keys: dict[str, str] | None = site.data.get(_KEYS)
    if keys is None or len(keys) != len(site.papers) + len(site.archived):
        papers = [*site.papers, *site.archived]
        keys = {}
        taken: dict[str, int] = {}
        bases = {p.key: _key_base(p) for p in papers}
        counts: dict[str, int] = {}
        for base in bases.values():
            counts[base] = counts.get(base, 0) + 1
        for paper_key in sorted(bases):
            base = bases[paper_key]
            if counts[base] == 1:
                keys[paper_key] = base
                continue
            n = taken.get(base, 0)
            taken[base] = n + 1
            keys[paper_key] = base + _suffix(n)
        site.data[_KEYS] = keys
    return keys


def _suffix(n: int) -> str:
    """a, b, … z, aa, ab … for the n-th (0-based) paper sharing a key."""
    letters = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        letters = chr(ord("a") + rest) + letters
    return letters


def _author_field(
    authors: tuple[str, ...], hidden_authors: int, organization: str | None
) -> str | None:
    names = []
    for name in authors[:MAX_AUTHORS]:
        # A name with " and " in it would be split into two authors: brace it.
        escaped = escape_bibtex(name)
        names.append(f"{{{escaped}}}" if _AND.search(name) else escaped)
    if names:
        if hidden_authors or len(authors) > MAX_AUTHORS:
            names.append("others")
        return " and ".join(names)
    if organization:
        return "{" + escape_bibtex(organization) + "}"
    return None


def bibtex_entry(paper: Paper, key: str, url: str | None = None) -> str:
    """One ``@misc`` entry for `paper` under citation `key`; `url` is used when the paper
    has no link of its own (pass its page's absolute URL)."""
    links = paper.links
    return _entry(
        paper.title,
        tuple(paper.authors),
        paper.hidden_authors,
        paper.organization,
        paper.date,
        paper.arxiv_id,
        paper.categories[0] if paper.categories else None,
        links.get("doi"),
        links.get("abs"),
        links.get("source"),
        key,
        url,
    )


@functools.lru_cache(maxsize=CACHE_SIZE)
def _entry(
    title: str,
    authors: tuple[str, ...],
    hidden_authors: int,
    organization: str | None,
    date: dt.date | None,
    arxiv_id: str | None,
    primary_class: str | None,
    doi_link: str | None,
    abs_link: str | None,
    source_link: str | None,
    key: str,
    url: str | None,
) -> str:
    fields: list[tuple[str, str]] = [("title", "{" + escape_bibtex_keeping_math(title) + "}")]
    author = _author_field(authors, hidden_authors, organization)
    if author:
        fields.append(("author", author))
    if date:
        fields.append(("year", str(date.year)))
        fields.append(("month", _MONTHS[date.month - 1]))
    if arxiv_id:
        fields.append(("eprint", arxiv_id))
        fields.append(("archivePrefix", "arXiv"))
        if primary_class is not None:
            fields.append(("primaryClass", escape_bibtex(primary_class)))
    if doi_link:
        doi = _DOI_PREFIX.sub("", doi_link)
        fields.append(("doi", _verbatim(doi)))
    link = abs_link or source_link or url
    if arxiv_id and not abs_link:
        link = f"https://arxiv.org/abs/{arxiv_id}"
    if link:
        fields.append(("url", _verbatim(link)))
    body = ",\n".join(
        f"  {name} = {value if name == 'month' else '{' + value + '}'}" for name, value in fields
    )
    return f"@misc{{{key},\n{body}\n}}\n"


def _verbatim(value: str) -> str:
    # url and doi are verbatim fields (biblatex, the url package): an escape would show up
    # in the output, so nothing is escaped; only braces and backslashes, which could end
    # the field, are dropped (a well-formed URL or DOI has none).
    return _NOT_VERBATIM.sub("", value)


_ENTRIES = "bibtex_export.entries"


def paper_bibtex(site: Site, paper: Paper) -> str:
    """The BibTeX entry shown on `paper`'s page (and used in every .bib file); made once
    per build, since a paper is in the digest's file, its topics' files and its page."""
    entries: dict[str, str] = site.data.setdefault(_ENTRIES, {})
    entry = entries.get(paper.key)
    if entry is None:
        key = citation_keys(site)[paper.key]
        entry = bibtex_entry(paper, key, site.config.base_url + site.paper_url(paper))
        entries[paper.key] = entry
    return entry


def bibtex_file(site: Site, papers: Iterable[Paper], title: str | None = None) -> str:
    """A whole .bib file for `papers` (in the given order), with a comment header naming
    `title` (default: the site's) so a reader knows where the file came from.

    This is what the topics plugin calls for ``topics/<slug>/papers.bib``.
    """
    # Outside entries BibTeX ignores text up to the next "@", so the header must have none.
    name = " ".join(plain_text(title or site.config.title).replace("@", " ").split())
    header = f"% {name} ({site.config.base_url.replace('@', '%40')})\n"
    header += f"% Exported by paper-digest on {site.date.isoformat()}.\n\n"
    return header + "\n".join(paper_bibtex(site, paper) for paper in papers)
