"""Property-based fuzzing of the inputs people and scrapers write: the source loader (random
and mutated bytes, every reader and the sniffing), site.toml (random text and random typed
values), rich text with highlights, the LaTeX renderer and the highlight plugin's matcher.

Each test runs a fixed budget of examples so CI time stays bounded. For a long run, set
``DIGEST_FUZZ_EXAMPLES`` (e.g. ``DIGEST_FUZZ_EXAMPLES=5000 pytest tests/test_hardening_fuzz.py``):
it selects the ``hardening-long`` hypothesis profile with that many examples per test.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import tomllib
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from digest.build import prepare_config, readers_by_name
from digest.config import load_config
from digest.errors import ConfigError
from digest.model import Paper, Problem
from digest.plugins import make_plugin_manager
from digest.richtext import MATH_SPAN, Mark, latex_to_mathml, render_rich_text
from digest.sources.base import Source
from digest.sources.loader import choose_reader, load_source

FORMATS = Path(__file__).parent / "fixtures" / "formats"
DATA = Path(__file__).resolve().parent.parent / "data"
HOSTILE = Path(__file__).parent / "hostile"

settings.register_profile(
    "hardening",
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "hardening-long",
    parent=settings.get_profile("hardening"),
    max_examples=int(os.environ.get("DIGEST_FUZZ_EXAMPLES") or 60),
)
# Applied per test (not loaded globally), so the other test modules keep their settings.
FUZZ = settings.get_profile(
    "hardening-long" if os.environ.get("DIGEST_FUZZ_EXAMPLES") else "hardening"
)
MATHML_TAGS = frozenset(
    {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
     "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
     "mstyle", "mpadded", "mphantom", "menclose", "merror", "semantics"}
)  # fmt: skip


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every reader the built-in plugins offer, by format name."""
    folder = tmp_path_factory.mktemp("readers")
    (folder / "site.toml").write_text("", "utf-8")
    config = load_config(folder / "site.toml")
    return readers_by_name(make_plugin_manager(config))


def samples() -> list[bytes]:
    """Real inputs of every format to mutate: the format fixtures, seed listings, corpus."""
    files = [*sorted(FORMATS.glob("*.*")), *sorted(DATA.glob("*.txt")), HOSTILE / "papers.jsonl"]
    return [f.read_bytes()[:20000] for f in files if f.suffix != ".txt" or f.parent == DATA]


SAMPLES = samples()
SYNTAX = b"<>/&;=\"'{}[]:,@%\\$#\n\r\t ?!-x1\x00\xff\xfe\xef\xbb\xbf\xc3\xa9"


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A sample with random cuts, insertions and byte flips (or plain random bytes)."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=4000))
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    for _ in range(draw(st.integers(1, 8))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 3))
        if op == 0:
            del data[at : at + draw(st.integers(1, 200))]
        elif op == 1:
            data[at:at] = draw(st.binary(min_size=1, max_size=40))
        elif op == 2:
            data[at:at] = bytes([draw(st.sampled_from(SYNTAX))]) * draw(st.integers(1, 50))
        else:
            data = data[:at]
    return bytes(data)


def check_result(result: Any) -> None:
    """What a load gives is well formed: papers with a title, problems with a position."""
    for paper in result.papers:
        assert isinstance(paper, Paper) and paper.title.strip()
        assert all(isinstance(a, str) for a in paper.authors)
        for url in paper.links.values():
            assert url.startswith(("http://", "https://")), url
        for sighting in paper.sightings:
            assert sighting.url is None or sighting.url.startswith(("http://", "https://"))
    for problem in result.problems:
        assert isinstance(problem, Problem) and problem.line >= 0 and problem.message
    assert not any(p.kind == "reader-crash" for p in result.problems), result.problems


@FUZZ
@given(data=mutated())
def test_the_loader_never_raises_on_sniffed_bytes(
    data: bytes, readers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Random and mutated bytes, format sniffed: papers and problems, never an exception,
    never a reader crash (a reader bug the loader had to catch)."""
    path = tmp_path_factory.mktemp("load") / "input"
    path.write_bytes(data)
    check_result(load_source(readers, Source("fuzz", path)))


@FUZZ
@given(data=mutated(), index=st.integers(0, 100))
def test_every_reader_survives_any_bytes(
    data: bytes, index: int, readers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same bytes through a named reader (each in turn): no exception, no crash."""
    name = sorted(readers)[index % len(readers)]
    path = tmp_path_factory.mktemp("load") / "input"
    path.write_bytes(data)
    check_result(load_source(readers, Source("fuzz", path, format=name)))


@FUZZ
@given(head=st.text(max_size=3000) | mutated().map(lambda b: b.decode("utf-8", "replace")))
def test_sniffing_never_raises_and_scores_in_range(head: str, readers: dict[str, Any]) -> None:
    """Every reader's sniff takes any text (the loader would hide a crash, so each is called
    directly) and answers 0..100; choosing a reader never raises."""
    for name, reader in readers.items():
        score = reader.sniff(head, Path("input"))
        assert 0 <= int(score) <= 100, (name, score)
    reader, problem = choose_reader(readers, Source("fuzz", Path("input")), head)
    assert reader is not None or problem is not None


# -- site.toml ---------------------------------------------------------------------------

TOML_SYNTAX = st.sampled_from(
    ["[", "]", "[[", "]]", "=", '"', "'", '"""', "\n", "#", ".", ",", "{", "}", "title", "sources",
     "plugins", "path", "1979-05-27", "true", "nan", "-inf", "0x1F", "\\u00e9", "\\", " "]
)  # fmt: skip


@FUZZ
@given(text=st.lists(TOML_SYNTAX | st.text(max_size=8), max_size=60).map("".join))
@example(text='title = "x"\n[[sources]]\npath = "a"\n[[sources]]\npath = 1\n')
@example(text="[plugins]\nenabled = [1]\n[plugins.highlight]\nkeywords = [{}]\n")
def test_random_toml_text_gives_a_config_error_at_most(text: str, tmp_path_factory: Any) -> None:
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "site.toml").write_text(text, "utf-8", errors="surrogatepass")
    try:
        prepare_config(folder / "site.toml")
    except ConfigError as exc:
        assert str(exc).strip()


def toml_value(value: Any) -> str:
    """`value` written as TOML (strings in JSON's escapes, which TOML shares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int | dt.date | dt.datetime | dt.time):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_value(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


SCALARS = (
    st.text(max_size=20)
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats()
    | st.booleans()
    | st.dates()
    | st.datetimes()
    | st.sampled_from(["data/x.txt", "jsonl", "default", "../..", "/", "javascript:x", ""])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
TOP_KEYS = ["title", "description", "base_url", "language", "output_dir", "theme", "theme_dir",
            "intro", "about", "page_size", "history", "unknown_key"]  # fmt: skip
SOURCE_KEYS = ["name", "path", "format", "year", "date", "url", "kind", "categories",
               "max_results", "timeout", "retries", "options", "query", "days"]  # fmt: skip
PLUGIN_KEYS = {
    "highlight": ["keywords", "authors", "exclude", "exclude_mode", "title_weight", "page"],
    "topics": ["topics", "max_topics", "mode", "auto", "min_score", "feeds", "extend_defaults"],
    "trending": ["gravity", "half_life_days", "top", "badge_top", "weights"],
}


@st.composite
def typed_config(draw: st.DrawFn) -> str:
    """site.toml with the real keys (and a few wrong ones) holding random typed values."""
    lines = [
        f"{k} = {toml_value(draw(VALUES))}"
        for k in draw(st.lists(st.sampled_from(TOP_KEYS), unique=True, max_size=6))
    ]
    for _ in range(draw(st.integers(0, 2))):
        lines.append("[[sources]]")
        for key in draw(st.lists(st.sampled_from(SOURCE_KEYS), unique=True, max_size=5)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    if draw(st.booleans()):
        lines.append("[plugins]")
        for key in draw(st.lists(st.sampled_from(["enabled", "disabled", "local"]), unique=True)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    for plugin, keys in PLUGIN_KEYS.items():
        if draw(st.booleans()):
            lines.append(f"[plugins.{plugin}]")
            for key in draw(st.lists(st.sampled_from(keys), unique=True, max_size=4)):
                lines.append(f"{key} = {toml_value(draw(VALUES))}")
    if draw(st.booleans()):
        lines.append("[email]")
        for key in draw(st.lists(st.sampled_from(["from", "to", "top", "subject"]), unique=True)):
            lines.append(f"{key} = {toml_value(draw(VALUES))}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=typed_config())
@example(text='[plugins.highlight]\nkeywords = [{regex = "("}, {term = ""}, 3]\n')
@example(text='[plugins.topics]\ntopics = [{name = 1}, {slug = "UPPER"}, "x"]\n')
@example(text="[plugins.trending]\nweights = 1\n")
@example(text="page_size = -1\nbase_url = 3\n[[sources]]\nyear = 1e400\n")
def test_random_typed_values_give_issues_never_a_traceback(
    text: str, tmp_path_factory: Any
) -> None:
    """Every key (core and plugins) given a random type: load_config and the plugins'
    validation end in ConfigError (naming the key) or a config, never another exception."""
    tomllib.loads(text)  # valid TOML: what is tested is the validation of the values
    folder = tmp_path_factory.mktemp("cfg")
    (folder / "site.toml").write_text(text, "utf-8")
    try:
        prepare_config(folder / "site.toml")
    except ConfigError as exc:
        message = str(exc)
        assert "site.toml" in message, message


# -- rich text and highlights -------------------------------------------------------------

RICH_ALPHABET = st.sampled_from(
    [*"ab xyz019$*_\\{}^<>&\"'\n\t.,()[]|`~#%", "\u00e9", "\u202e", "\u200b", "\ufffd",
    "\U0001d465", "https://x.org/a", "www.y.com", "&amp;", "&#x3c;", "\\frac{a}{b}",
    "\\text{<b>}", "\\alpha", "$x$", "*em*", "**", "$$"]
)  # fmt: skip
RICH_TEXT = st.lists(RICH_ALPHABET | st.characters(), max_size=80).map("".join)


class Rebuilt(HTMLParser):
    """Parses rendered rich text back to its source text, character by character: text as
    is, ``<em>`` and ``</em>`` as the ``*`` they replaced, a math span as its ``title`` (the
    LaTeX it came from); `marked` says, per character, the label of the mark around it."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chars: list[str] = []
        self.marked: list[str | None] = []
        self.in_math: list[bool] = []
        self.tags: list[str] = []
        self.links: list[str] = []
        self._mark: str | None = None
        self._math_depth = 0

    def _emit(self, text: str, math: bool = False) -> None:
        for char in text:
            self.chars.append(char)
            self.marked.append(None if math else self._mark)
            self.in_math.append(math)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if self._math_depth:
            self.tags.append(tag)
            if tag in ("span",):
                self._math_depth += 1
            return
        if tag == "em":
            self._emit("*")
        elif tag == "mark":
            assert self._mark is None, "a mark inside a mark"
            self._mark = found.get("data-keyword") or ""
        elif tag == "span" and found.get("class") == "math":
            self._emit(found.get("title") or "", math=True)
            self._math_depth = 1
        elif tag == "a":
            self.links.append(found.get("href") or "")
            assert found.get("rel") == "nofollow noopener"
        else:
            raise AssertionError(f"unexpected <{tag}> outside math")

    def handle_endtag(self, tag: str) -> None:
        if self._math_depth:
            if tag == "span":
                self._math_depth -= 1
            return
        if tag == "em":
            self._emit("*")
        elif tag == "mark":
            self._mark = None

    def handle_data(self, data: str) -> None:
        if not self._math_depth:
            self._emit(data)

    @property
    def text(self) -> str:
        return "".join(self.chars)


def rebuild(html: str) -> Rebuilt:
    parser = Rebuilt()
    parser.feed(html)
    parser.close()
    return parser


@st.composite
def text_and_marks(draw: st.DrawFn) -> tuple[str, list[Mark]]:
    """Random text and random non-overlapping marks on it (labels hostile too)."""
    text = draw(RICH_TEXT)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=8, unique=True)))
    label = st.sampled_from(["kw", '"><script>', "a&b", "\u202e", ""])
    marks = [Mark(a, b, draw(label)) for a, b in zip(cuts[::2], cuts[1::2], strict=False) if a < b]
    return text, marks


@FUZZ
@given(text_and_marks(), st.booleans(), st.booleans())
@example(("a $x$ *b* https://x.org/c", [Mark(0, 25, "all")]), True, True)
@example(("*$x$*", [Mark(1, 4, "m")]), True, False)
@example(("$\\text{<img src=x onerror=alert(1)>}$", []), True, False)
def test_rich_text_parses_back_to_the_source_text(
    case: tuple[str, list[Mark]], math: bool, links: bool
) -> None:
    """Rendering never changes the text, it only marks it: the HTML parsed back (emphasis
    as its asterisks, math as the LaTeX it came from) is exactly the input, and every
    character is inside a <mark> exactly when a mark covers it (unless it is math, which is
    never marked, or an emphasis asterisk)."""
    text, marks = case
    html = str(render_rich_text(text, marks, math=math, links=links))
    parsed = rebuild(html)
    assert parsed.text == text
    assert set(parsed.tags) <= MATHML_TAGS
    for i, char in enumerate(text):
        covering = [m.label for m in marks if m.start <= i < m.end]
        if parsed.in_math[i]:
            assert parsed.marked[i] is None
        elif parsed.marked[i] is None:
            # Only an emphasis asterisk (rendered as a tag) escapes its mark.
            assert not covering or char == "*", (i, char)
        else:
            assert covering == [parsed.marked[i]], (i, char)
    for href in parsed.links:
        assert href.startswith(("http://", "https://"))


LATEX_TOKENS = st.sampled_from(
    [r"\frac", r"\sqrt", r"\text", r"\mathrm", r"\mathbf", r"\operatorname", r"\left(",
     r"\right)", r"\begin{matrix}", r"\end{matrix}", r"\begin{array}{cc}", r"\end{array}",
     r"\\", "&", "{", "}", "^", "_", "x", "1", "<", ">", '"', "'", "#", "%", "~", r"\alpha",
     r"\sum", r"\int", r"\limits", r"\href", r"\color", r"\style", r"\unicode", r"\overset",
     r"\underbrace", r"\hat", r"\not", r"\;", r"\,", "&#x3c;", "&lt;", "<script>", " ", "(",
     ")", "[", "]", "|", r"\|", r"\{", r"\}", "-", "+", "=", r"\mathbb", r"\boxed", r"\phantom"]
)  # fmt: skip


@FUZZ
@given(st.lists(LATEX_TOKENS | st.text(max_size=3), max_size=30).map("".join))
@example(r"\frac{\frac{\frac{a}{b}}{c}}{d}")
@example(r"\begin{matrix}<script>&</script>\end{matrix}")
def test_latex_never_raises_and_yields_only_mathml(latex: str) -> None:
    """Any LaTeX between dollars: the renderer never raises, and what it yields is MathML
    only (the allowed elements), or nothing (the text is shown as it was)."""
    assume("$" not in latex)
    mathml = latex_to_mathml(latex)
    html = str(render_rich_text(f"${latex}$"))
    if mathml is None:
        assert "<math" not in html
        return
    tags = re.findall(r"<([a-zA-Z][\w:-]*)", mathml)
    assert set(tags) <= MATHML_TAGS, tags
    attributes = re.findall(r"\s([a-zA-Z][\w:-]*)=", mathml)
    assert not [a for a in attributes if a.lower().startswith(("on", "href", "xlink", "src"))]


# -- the highlight plugin's matcher ---------------------------------------------------------

highlight = pytest.importorskip("plugins.digest_highlight")
KEYWORD_WORDS = st.sampled_from(
    ["scaling", "law", "in-context", "learning", "model", "merge", "x", "a", "é", "LLaMA",
     "mixture", "of", "experts", "policy", "pre-training", "ß", "İ", "ﬁ"]
)  # fmt: skip
PHRASES = st.lists(KEYWORD_WORDS, min_size=1, max_size=3).map(" ".join)
MATCH_TEXT = st.lists(
    KEYWORD_WORDS | RICH_ALPHABET | st.sampled_from(["laws", "policies", "merging", "-", " "]),
    max_size=60,
).map("".join)


@FUZZ
@given(st.lists(PHRASES, min_size=1, max_size=6), MATCH_TEXT)
@example(["scaling law"], "$scaling law$ scaling laws https://x.org/scaling-law")
@example(["İ"], "İİ i̇ İ")
def test_the_highlight_matcher_only_marks(phrases: list[str], text: str) -> None:
    """The plugin's matcher on random text: marks inside the text, non-overlapping, never
    inside $…$ math or a URL, each on word boundaries; rendering with them gives the text
    back unchanged."""
    keywords = []
    for phrase in phrases:
        pattern = highlight.Pattern.phrase(phrase)
        if pattern is not None:
            keywords.append(highlight.Keyword(phrase, pattern))
    matcher = highlight.KeywordMatcher(keywords)
    marks = matcher.find(text)
    last = 0
    math = [m.span() for m in MATH_SPAN.finditer(text)]
    for mark in marks:
        assert last <= mark.start < mark.end <= len(text), (mark, text)
        last = mark.end
        assert not any(a < mark.end and mark.start < b for a, b in math), (mark, text)
        assert (
            mark.start == 0 or not text[mark.start - 1].isalnum() or not text[mark.start].isalnum()
        ), (mark, text)
    html = str(render_rich_text(text, marks))
    assert rebuild(html).text == text
