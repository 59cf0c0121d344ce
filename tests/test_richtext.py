"""Titles and abstracts → HTML: LaTeX as MathML, emphasis, highlights, links; never markup
from the source text."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from digest.richtext import Mark, find_urls, latex_to_mathml, plain_text, render_rich_text

MATHML_TAGS = {
    "math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
    "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
    "mstyle", "mpadded", "mphantom", "menclose", "merror", "semantics",
}  # fmt: skip
ALLOWED_TAGS = MATHML_TAGS | {"span", "em", "mark", "a"}


class TagCollector(HTMLParser):
    """Every start tag and attribute the HTML parser sees, as a browser would."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = TagCollector()
    parser.feed(html)
    parser.close()
    return parser.tags


def test_latex_in_a_title_becomes_mathml() -> None:
    html = render_rich_text("LeC$^2$O-NeRF: Learning Continuous Occupancy")
    assert html.startswith('LeC<span class="math"')
    assert '<math xmlns="http://www.w3.org/1998/Math/MathML" display="inline">' in html
    assert "<msup><mi></mi><mn>2</mn></msup>" in html
    assert html.endswith("O-NeRF: Learning Continuous Occupancy")
    assert 'title="$^2$"' in html


def test_greek_letters_become_characters() -> None:
    html = render_rich_text("A Large-Scale Exploration of $\\mu$-Transfer")
    assert "<mi>μ</mi>" in html
    assert "-Transfer" in html


@pytest.mark.parametrize(
    "text",
    [
        "It costs $8.1 per hour.",
        "It costs $8.1.",
        "between $10 and $20 a month",
        "prices from $5 to $7",
        "a lone $ sign",
        "US$ 300 and $ 5$",
    ],
)
def test_dollar_amounts_stay_text(text: str) -> None:
    assert str(render_rich_text(text)) == text


def test_math_after_a_price_is_still_math() -> None:
    html = render_rich_text("It costs $8.1. Other models use $x$ words")
    assert html.startswith('It costs $8.1. Other models use <span class="math"')
    assert html.count("<math") == 1


def test_unconvertible_latex_falls_back_to_the_source_text() -> None:
    assert latex_to_mathml("\\frac{") is None
    html = render_rich_text("Broken $\\frac{$ math")
    assert "<math" not in html
    assert "$\\frac{$" in html


def test_script_in_text_stays_text() -> None:
    html = render_rich_text('<script>alert("x")</script> & <b onmouseover=x>bold</b>')
    assert "<script" not in html and "<b" not in html
    assert "&lt;script&gt;" in html
    assert "&amp;" in html
    assert tags_of(html) == []


@pytest.mark.parametrize(
    "latex",
    [
        "$\\text{<img src=x onerror=alert(1)>}$",
        "$\\mathrm{</math><script>alert(1)</script>}$",
        "$\\href{javascript:alert(1)}{x}$",
        "$\\style{background:url(javascript:alert(1))}{x}$",
        "$\\text{&lt;script&gt;}$",
        "$\\text{&#x3C;img src=x onerror=alert(1)&#x3E;}$",
        "$\\operatorname{<svg/onload=alert(1)>}$",
        "$\\color{red}{x}$",
    ],
)
def test_mathml_output_carries_no_injected_markup(latex: str) -> None:
    html = str(render_rich_text(f"Title {latex} end"))
    for tag, attrs in tags_of(html):
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), html
            assert name not in ("href", "style", "src"), html
            # The title attribute holds the LaTeX source as plain (escaped) text.
            if name != "title":
                assert "javascript" not in (value or "").lower(), html
    assert "<img" not in html and "<script" not in html and "<svg" not in html


def test_text_inside_math_is_escaped_not_dropped() -> None:
    html = render_rich_text("$\\text{<img src=x>}$")
    assert "<mtext>&lt;img\xa0src=x&gt;</mtext>" in html


def test_emphasis_and_marks() -> None:
    text = "We study *the curse of diversity* in ensembles."
    start = text.index("ensembles")
    html = render_rich_text(text, [Mark(start, start + 9, "ensemble")])
    assert "<em>the curse of diversity</em>" in html
    assert '<mark data-keyword="ensemble">ensembles</mark>' in html
    assert plain_text(text) == "We study the curse of diversity in ensembles."


def test_marks_never_land_inside_math() -> None:
    text = "Scaling $x^2$ laws"
    html = render_rich_text(text, [Mark(0, len(text), "all")])
    assert html.count("<mark") == 2
    math = re.search(r"<math.*</math>", str(html))
    assert math and "<mark" not in math.group(0)


def test_mark_labels_are_escaped() -> None:
    html = render_rich_text("a word", [Mark(2, 6, '"><script>')])
    assert "<script" not in html
    assert 'data-keyword="&#34;&gt;&lt;script&gt;"' in html


def test_links_only_when_asked_and_only_http() -> None:
    text = "Code: https://github.com/zzysteve/SkeletonX. Not javascript:alert(1)."
    assert "<a " not in render_rich_text(text)
    html = render_rich_text(text, links=True)
    assert (
        '<a href="https://github.com/zzysteve/SkeletonX" rel="nofollow noopener">'
        "https://github.com/zzysteve/SkeletonX</a>." in html
    )
    assert html.count("<a ") == 1


def test_url_trailing_punctuation_and_brackets() -> None:
    urls = [u for _, _, u in find_urls(
        "at {http://lingboliu.com/RGBT.html}. See (https://en.wikipedia.org/wiki/A_(b)), "
        'and https://x.org/a"onmouseover=alert(1)'
    )]  # fmt: skip
    assert urls == [
        "http://lingboliu.com/RGBT.html",
        "https://en.wikipedia.org/wiki/A_(b)",
        "https://x.org/a",
    ]


PIECES = [*"ab $\\^_{}<>&\"'*x2", "\\text", "\\frac", "https://x.org/", "<script>"]


@given(st.lists(st.sampled_from(PIECES), max_size=30).map("".join))
def test_any_text_gives_only_allowed_markup(text: str) -> None:
    html = str(render_rich_text(text, links=True))
    for tag, attrs in tags_of(html):
        assert tag in ALLOWED_TAGS
        assert all(not name.startswith("on") for name in attrs)
    if "<math" not in html and "*" not in text:
        # Without math or emphasis, what the reader sees is exactly the source text.
        visible = re.sub(r"<[^>]+>", "", html)
        for entity, char in (("&lt;", "<"), ("&gt;", ">"), ("&#34;", '"'), ("&#39;", "'")):
            visible = visible.replace(entity, char)
        assert visible.replace("&amp;", "&") == text
