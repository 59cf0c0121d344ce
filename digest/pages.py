"""The page set: every page of the site as data (URL → template + context), built before
anything is rendered, so plugins can add pages and the preview server can tell what changed."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# What `Page.inputs` is: (the context's values, a digest of a value) → bytes.
PageInputs = Callable[[Mapping[str, Any], Callable[[Any], bytes]], bytes]


@dataclass(slots=True, init=False)
class Page:
    """One output page.

    `url` is the page's path below the site root: ``""`` for the home page,
    ``"topics/vision/"`` for a folder page (written as ``topics/vision/index.html``), or
    a file name such as ``"404.html"``. `context` is passed to `template` along with
    ``site`` and ``page``. A page with a `nav` label is listed in the site navigation.

    `context` may be any mapping and `description` a function that makes the text, called
    each time it is read: a paper page makes both when it is rendered, since every paper's
    made in advance would be held from collecting the pages to the end of the build.

    `inputs`, when given, says what the page is made from besides what every page is (the
    code, theme, config and navigation): called with the context's values and a function
    that digests a value by its repr (`digest.reuse.PageReuse.digest`), it returns bytes
    that change whenever the page would. A build then takes the page's file from the
    previous build when they have not changed (see `digest.reuse`); without `inputs` a
    page is rendered at every build.
    """

    url: str
    template: str
    title: str
    context: Mapping[str, Any]
    nav: str | None
    nav_weight: int
    in_sitemap: bool
    inputs: PageInputs | None
    _description: str | Callable[[], str] = field(repr=False)

    def __init__(
        self,
        url: str,
        template: str,
        title: str,
        context: Mapping[str, Any] | None = None,
        nav: str | None = None,
        nav_weight: int = 50,
        in_sitemap: bool = True,
        description: str | Callable[[], str] = "",
        inputs: PageInputs | None = None,
    ) -> None:
        self.url = url
        self.template = template
        self.title = title
        self.context = {} if context is None else context
        self.nav = nav
        self.nav_weight = nav_weight
        self.in_sitemap = in_sitemap
        self.inputs = inputs
        self._description = description

    @property
    def description(self) -> str:
        """The page's summary, for its meta description."""
        made = self._description
        return made if isinstance(made, str) else made()

    @description.setter
    def description(self, text: str | Callable[[], str]) -> None:
        self._description = text

    @property
    def output_path(self) -> str:
        """The file this page is written to, relative to the output folder."""
        if self.url == "" or self.url.endswith("/"):
            return self.url + "index.html"
        return self.url


def paginate(items: list[Any], url: str, page_size: int) -> list[tuple[str, list[Any], int, int]]:
    """Split `items` into pages with stable URLs: ``url``, ``url + "page/2/"`` ….

    Returns (url, items on that page, page number, number of pages) for each page; an
    empty list still gives one (empty) page so the listing URL always exists.
    """
    chunks = [items[i : i + page_size] for i in range(0, len(items), page_size)] or [[]]
    total = len(chunks)
    return [
        (url if n == 1 else f"{url}page/{n}/", chunk, n, total)
        for n, chunk in enumerate(chunks, start=1)
    ]


def pagination(url: str, number: int, total: int) -> dict[str, Any]:
    """The pager of page `number` (of `total`) of the listing whose page `url` this is.

    ``pages`` lists (number, url) for the first and last pages and the two either side of
    the current one, with (None, None) where numbers are left out, so a listing of
    thousands of pages keeps a short pager (and a listing's pagers grow linearly with its
    pages, not with their square). Every listing of the core and the built-in plugins
    uses it, so their pagers look and work alike.
    """
    suffix = f"page/{number}/"
    base = url[: -len(suffix)] if number > 1 and url.endswith(suffix) else url

    def page_url(n: int) -> str:
        return base if n == 1 else f"{base}page/{n}/"

    shown = sorted({1, total, *range(max(1, number - 2), min(total, number + 2) + 1)})
    pages: list[tuple[int | None, str | None]] = []
    last = 0
    for n in shown:
        if n - last > 1:
            pages.append((None, None))
        pages.append((n, page_url(n)))
        last = n
    return {
        "number": number,
        "total": total,
        "previous": page_url(number - 1) if number > 1 else None,
        "next": page_url(number + 1) if number < total else None,
        "pages": pages,
    }
