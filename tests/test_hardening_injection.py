"""Injection: a corpus of hostile papers and a hostile site.toml (tests/hostile/) built into a
site must come out with no executable markup anywhere.

Every output file is parsed (HTML with html.parser, XML with ElementTree, JSON with json,
the email edition with the email package) and checked for script, event-handler attributes,
``javascript:``/``data:`` URLs and evaluated template syntax. Then the pages are loaded in
headless Chromium twice: under a strict Content-Security-Policy whose violation events are
recorded (any inline script or handler trying to run is a violation), and without any CSP,
with alert/confirm/prompt replaced before the page loads so a payload that runs is recorded
instead of opening a dialog. Every payload calls one of those or sets ``window.__pwned``.
"""

from __future__ import annotations

import email
import email.policy
import functools
import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

import pytest
from click.testing import CliRunner
from conftest import DEMO_DATE

from digest.build import BuildResult, build
from digest.cli import main
from digest.config import load_config
from digest.richtext import render_rich_text
from digest.sources.base import Source
from digest.sources.jsonl import READER as JSONL
from digest.sources.loader import DecodedLines

HOSTILE = Path(__file__).resolve().parent / "hostile"
PREFIX = "/digest/"  # the path of the hostile site's base_url
UNSAFE_SCHEMES = ("javascript", "data", "vbscript", "file")
URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background",
     "srcset", "ping", "cite", "longdesc", "manifest", "codebase", "srcdoc"}
)  # fmt: skip
# Elements that can load or run something; the default theme uses none of them.
FORBIDDEN_TAGS = frozenset(
    {"iframe", "frame", "frameset", "object", "embed", "applet", "img", "video", "audio",
     "source", "track", "template", "portal", "foreignobject", "use", "image", "animate",
     "set", "animatetransform", "animatemotion", "handler", "feimage", "maction"}
)  # fmt: skip
# Inline SVG (the topics page's sparklines) may only draw.
SVG_DRAWING = frozenset(
    {"svg", "title", "desc", "g", "path", "polyline", "polygon", "line", "rect", "circle",
     "ellipse", "text", "tspan"}
)  # fmt: skip
MATHML = frozenset(
    {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
     "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd",
     "mstyle", "mpadded", "mphantom", "menclose", "merror", "semantics"}
)  # fmt: skip
EVALUATED = "1337"  # 7*191: the corpus writes {{ 7*191 }} wherever text goes


def unsafe_url(value: str) -> bool:
    """Whether a URL attribute value would run or embed something (as a browser reads it:
    control characters and whitespace inside the scheme are ignored)."""
    squeezed = re.sub(r"[\x00-\x20\x7f]+", "", value).lower()
    return any(squeezed.startswith(scheme + ":") for scheme in UNSAFE_SCHEMES)


class MarkupScanner(HTMLParser):
    """Collects every executable or loading construct in an HTML document."""

    def __init__(self, name: str) -> None:
        super().__init__(convert_charrefs=True)
        self.name = name
        self.findings: list[str] = []
        self.tags: list[str] = []
        self._script: dict[str, str | None] | None = None
        self._script_body: list[str] = []
        self._in_style = False
        self._svg_depth = 0
        self.text: list[str] = []

    def _found(self, what: str) -> None:
        self.findings.append(f"{self.name}:{self.getpos()[0]}: {what}")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self._found(f"<{tag}> has an event handler {name}={value!r}")
            if name in URL_ATTRIBUTES and value is not None and unsafe_url(value):
                self._found(f"<{tag} {name}={value!r}>")
            if name == "style" and value and re.search(r"url\s*\(|expression", value, re.I):
                self._found(f"<{tag}> style loads something: {value!r}")
        if tag in FORBIDDEN_TAGS:
            self._found(f"a <{tag}> element")
        if tag == "svg":
            self._svg_depth += 1
        elif self._svg_depth and tag not in SVG_DRAWING:
            self._found(f"a <{tag}> element inside <svg>")
        if tag == "meta" and (attributes.get("http-equiv") or "").lower() == "refresh":
            self._found("a meta refresh")
        if tag == "base" and not (attributes.get("href") or "").startswith("/"):
            self._found(f"<base href={attributes.get('href')!r}>")
        if tag == "form" and unsafe_url(attributes.get("action") or ""):
            self._found("a form posting to a script URL")
        if tag == "script":
            self._script = attributes
            self._script_body = []
        if tag == "style":
            self._in_style = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        if tag == "script" and self._script is not None:
            self._check_script(self._script, "".join(self._script_body))
            self._script = None
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script_body.append(data)
        elif self._in_style:
            if re.search(r"url\s*\(|expression|@import|javascript:", data, re.I):
                self._found(f"a style element that loads something: {data[:80]!r}")
        else:
            self.text.append(data)

    def _check_script(self, attributes: dict[str, str | None], body: str) -> None:
        src = attributes.get("src")
        kind = attributes.get("type")
        if src is not None:
            path = urlsplit(src).path
            if body.strip() or urlsplit(src).scheme or "static/" not in path:
                self._found(f"a script that is not the theme's own: src={src!r}")
        elif kind == "application/ld+json":
            try:
                json.loads(body)
            except ValueError as exc:
                self._found(f"JSON-LD that is not JSON ({exc}): {body[:80]!r}")
        else:
            self._found(f"an inline script (type={kind!r}): {body[:80]!r}")


def scan_html(name: str, text: str) -> MarkupScanner:
    """Parse `text` and return the scanner with its findings."""
    scanner = MarkupScanner(name)
    scanner.feed(text)
    scanner.close()
    if EVALUATED in "".join(scanner.text):
        scanner.findings.append(f"{name}: template syntax from the input was evaluated")
    for tag in {t for t in scanner.tags if t.startswith("m") and t not in MATHML}:
        if tag not in ("main", "meta", "mark", "menu"):
            scanner.findings.append(f"{name}: an element outside MathML's set: <{tag}>")
    return scanner


def scan_xml(name: str, data: bytes) -> list[str]:
    """Findings in an XML file: it must parse, hold no script-capable element or URL."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return [f"{name}: not well-formed XML: {exc}"]
    findings = []
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1]
        if local in ("script", "iframe", "img", "svg", "object") or local.startswith("on"):
            findings.append(f"{name}: a <{local}> element")
        for attr, value in element.attrib.items():
            attr_local = attr.rsplit("}", 1)[-1]
            if attr_local.startswith("on"):
                findings.append(f"{name}: <{local}> has {attr_local}")
            if attr_local in URL_ATTRIBUTES and unsafe_url(value):
                findings.append(f"{name}: <{local} {attr_local}={value!r}>")
        if local in ("loc", "id", "uri", "icon", "logo") and unsafe_url(element.text or ""):
            findings.append(f"{name}: <{local}> is {element.text!r}")
        if element.get("type") in ("html", "xhtml"):
            findings.extend(scan_html(f"{name}<{local}>", element.text or "").findings)
    return findings


URL_KEYS = frozenset({"u", "url", "href", "src", "link", "ref", "sameAs", "mainEntityOfPage"})


def scan_json(name: str, data: bytes) -> list[str]:
    """Findings in a JSON file: it must parse; no URL-valued key may hold a script URL."""
    try:
        value = json.loads(data)
    except ValueError as exc:
        return [f"{name}: not JSON: {exc}"]
    findings: list[str] = []

    def walk(node: Any, key: str | None) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, str(k))
                if key == "links" and isinstance(v, str) and unsafe_url(v):
                    findings.append(f"{name}: links.{k} = {v!r}")
        elif isinstance(node, list):
            for item in node:
                walk(item, key)
        elif isinstance(node, str) and key in URL_KEYS and unsafe_url(node):
            findings.append(f"{name}: {key} = {node[:80]!r}")

    walk(value, None)
    return findings


def scan_site(folder: Path) -> tuple[list[str], dict[str, int]]:
    """Every finding in every output file of a built site, and how many files of each kind
    were checked."""
    findings: list[str] = []
    counts = {"html": 0, "xml": 0, "json": 0}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        if path.suffix == ".html":
            findings.extend(scan_html(rel, path.read_text(encoding="utf-8")).findings)
            counts["html"] += 1
        elif path.suffix == ".xml":
            findings.extend(scan_xml(rel, path.read_bytes()))
            counts["xml"] += 1
        elif path.suffix == ".json":
            findings.extend(scan_json(rel, path.read_bytes()))
            counts["json"] += 1
    return findings, counts


# -- the scanners themselves catch what they must (so a clean site means something) -----


@pytest.mark.parametrize(
    "html",
    [
        "<p><script>alert(1)</script></p>",
        '<p><img src=x onerror="alert(1)"></p>',
        '<a href="  JaVa\tScRiPt:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        "<p onmouseover=alert(1)>x</p>",
        '<script type="application/ld+json">{"a": </script>',
        '<script src="https://evil.example.org/static/x.js"></script>',
        "<iframe src=/x></iframe>",
        '<base href="javascript:alert(1)//">',
        "<p>{{ 7*191 }} became 1337</p>",
        "<math><maction>x</maction></math>",
        '<svg><a xlink:href="javascript:alert(1)">x</a></svg>',
        "<svg><foreignObject><p>x</p></foreignObject></svg>",
        '<svg><use href="#x"/></svg>',
        "<style>body{background:url(https://evil.example.org/)}</style>",
    ],
)
def test_the_html_scanner_catches_executable_markup(html: str) -> None:
    assert scan_html("t.html", html).findings


def test_the_html_scanner_accepts_the_theme_s_own_script_and_json_ld() -> None:
    html = (
        '<script src="../static/digest.1234567890.js" defer></script>'
        '<script type="application/ld+json">{"name": "\\u003cscript\\u003e"}</script>'
        '<p>&lt;script&gt; as text</p><a href="https://example.org/" rel="noopener">x</a>'
    )
    assert scan_html("t.html", html).findings == []


def test_the_xml_and_json_scanners_catch_script_urls() -> None:
    assert scan_xml("f.xml", b'<feed><link href="javascript:alert(1)"/></feed>')
    assert scan_xml("f.xml", b"<feed><unclosed></feed>")
    assert scan_json("d.json", b'{"p": {"u": "javascript:alert(1)"}}')
    assert scan_json("d.json", b'{"links": {"abs": "data:text/html,x"}}')
    assert scan_json("d.json", b"{not json")
    assert scan_json("d.json", b'{"title": "javascript:alert(1) as text is fine"}') == []


# -- the hostile build -------------------------------------------------------------------


@dataclass
class HostileBuild:
    """The hostile site built once for the module, and its email edition."""

    result: BuildResult
    root: Path
    eml: Path
    payload_titles: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileBuild:
    root = tmp_path_factory.mktemp("hostile") / "site"
    shutil.copytree(HOSTILE, root)
    result = build(root / "site.toml", outdir=root / "_site", date=DEMO_DATE)
    eml = root / "edition.eml"
    runner = CliRunner()
    outcome = runner.invoke(
        main,
        ["email", "--config", str(root / "site.toml"), "--date", "2025-10-30", "--out", str(eml)],
    )
    assert outcome.exit_code == 0, outcome.output
    lines = (root / "papers.jsonl").read_text("utf-8").splitlines()
    titles = [json.loads(line)["title"] for line in lines]
    return HostileBuild(result, root, eml, titles)


def test_every_hostile_paper_is_built(hostile: HostileBuild) -> None:
    site = hostile.result.site
    assert len(site.papers) == len(hostile.payload_titles) == 51
    # Every paper has its page; none was dropped to get rid of its payload.
    for paper in site.papers:
        assert (hostile.result.outdir / site.paper_url(paper) / "index.html").is_file()


def test_no_output_file_holds_executable_markup(hostile: HostileBuild) -> None:
    findings, counts = scan_site(hostile.result.outdir)
    assert findings == []
    assert counts["html"] >= 90 and counts["xml"] >= 3 and counts["json"] >= 4, counts


def test_payloads_are_shown_as_text(hostile: HostileBuild) -> None:
    """The escaped payloads are still there, as text: nothing was silently eaten."""
    site = hostile.result.site
    paper = next(p for p in site.papers if p.title.startswith("Title script:"))
    page = (hostile.result.outdir / site.paper_url(paper) / "index.html").read_text("utf-8")
    scanner = scan_html("paper", page)
    text = "".join(scanner.text)
    assert '<script>alert("xss-script")</script>' in text
    jinja = next(p for p in site.papers if p.title.startswith("Title jinja:"))
    page = (hostile.result.outdir / site.paper_url(jinja) / "index.html").read_text("utf-8")
    assert "{{ 7*191 }}" in "".join(scan_html("paper", page).text)
    home = (hostile.result.outdir / "index.html").read_text("utf-8")
    assert '</title><script>alert("cfg-title")</script>' in "".join(scan_html("home", home).text)


def test_links_are_http_only_with_noopener(hostile: HostileBuild) -> None:
    """Every outside link on a paper page is http(s) and carries rel=noopener."""

    class Links(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.outside: list[dict[str, str | None]] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found = dict(attrs)
            href = found.get("href") or ""
            if tag == "a" and ":" in href.split("/")[0]:
                self.outside.append(found)

    seen = 0
    for page in sorted((hostile.result.outdir / "papers").rglob("index.html")):
        parser = Links()
        parser.feed(page.read_text("utf-8"))
        for link in parser.outside:
            assert urlsplit(link["href"] or "").scheme in ("http", "https"), link
            assert "noopener" in (link.get("rel") or "").split(), link
            seen += 1
    assert seen >= 30


def test_unsafe_links_are_dropped_and_reported(hostile: HostileBuild) -> None:
    problems = [p for p in hostile.result.site.problems if p.kind == "unsafe-link"]
    dropped = {p.message.split()[2] for p in problems}
    assert {"abs", "pdf", "code", "project", "doi", "source", "tabbed", "nohost"} <= dropped
    # The sighting URLs of the same entry are links from the source too.
    assert sum("sighting" in (p.field or "") for p in problems) == 2, problems
    paper = next(p for p in hostile.result.site.papers if p.title.startswith("Every unsafe"))
    assert all(s.url is None for s in paper.sightings)
    assert paper.links == {}


def test_the_email_edition_holds_no_executable_markup(hostile: HostileBuild) -> None:
    message = email.message_from_bytes(hostile.eml.read_bytes(), policy=email.policy.default)
    assert message.is_multipart()
    html_part = message.get_body(preferencelist=("html",))
    text_part = message.get_body(preferencelist=("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()  # type: ignore[attr-defined]
    scanner = scan_html("edition.eml", html)
    assert scanner.findings == []
    assert "<script>" in "".join(scanner.text)  # as text
    # No header was injected: exactly the headers the edition writes.
    names = sorted({name.lower() for name in message})
    assert names == sorted(
        {"subject", "from", "to", "date", "message-id", "mime-version", "content-type"}
    ), names


def test_a_newline_in_the_title_cannot_inject_an_email_header(tmp_path: Path) -> None:
    root = tmp_path / "site"
    shutil.copytree(HOSTILE, root)
    config = (root / "site.toml").read_text("utf-8")
    config = re.sub(r"(?m)^title = .*$", r'title = "Digest\\r\\nBcc: victim@example.org"', config)
    (root / "site.toml").write_text(config, "utf-8")
    eml = tmp_path / "e.eml"
    outcome = CliRunner().invoke(
        main,
        ["email", "--config", str(root / "site.toml"), "--date", "2025-10-30", "--out", str(eml)],
    )
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), outcome.output
    if outcome.exit_code == 0:
        message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
        assert "bcc" not in {k.lower() for k in message}
    else:
        assert "Traceback" not in outcome.output


def test_a_script_url_as_base_url_is_refused(tmp_path: Path) -> None:
    for bad in ("javascript:alert(1)//", "data:text/html,x/", " JavaScript:alert(1)/"):
        (tmp_path / "site.toml").write_text(f"base_url = {json.dumps(bad)}\n", "utf-8")
        config = load_config(tmp_path / "site.toml")
        assert [i.key for i in config.errors] == ["base_url"], bad
    for good in ("/", "/digest/", "https://example.org/digest/", "http://localhost:8000/"):
        (tmp_path / "site.toml").write_text(f"base_url = {json.dumps(good)}\n", "utf-8")
        assert load_config(tmp_path / "site.toml").errors == [], good


def test_the_jsonl_reader_reports_unsafe_sighting_urls() -> None:
    line = json.dumps(
        {"title": "T", "sightings": [{"source": "s", "url": "javascript:alert(1)"}]}
    ).encode()
    import io

    source = Source("s", Path("s.jsonl"))
    items = list(JSONL.read(DecodedLines(io.BytesIO(line), "s.jsonl"), source))
    papers = [i for i in items if not hasattr(i, "kind")]
    problems = [i for i in items if hasattr(i, "kind")]
    assert [p.kind for p in problems] == ["unsafe-link"]  # type: ignore[union-attr]
    assert papers[0].sightings[0].url is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "latex",
    [
        r"\text{<script>alert(1)</script>}",
        r"\href{javascript:alert(1)}{x}",
        r"\mathrm{<img src=x onerror=alert(1)>}",
        r"\text{&#x3C;script&#x3E;}",
        r"\style{color:red}{x}",
    ],
)
def test_latex_never_yields_markup_outside_mathml(latex: str) -> None:
    html = str(render_rich_text(f"before ${latex}$ after"))
    scanner = scan_html("latex", html)
    assert scanner.findings == []
    assert set(scanner.tags) <= MATHML | {"span", "em"}


# -- in a real browser --------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
needs_browser = pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
    reason="Debian's chromium and chromium-driver are not installed",
)
CSP = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'self'; "
    "style-src 'self' 'unsafe-inline'"
)
# Runs before any script of every page: dialogs and payload globals are recorded, CSP
# violations too (an inline script or handler that the policy stopped).
TRAP = """
window.__fired = [];
window.__violations = [];
for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
  window[name] = function () {
    window.__fired.push(name + ": " + Array.from(arguments).join(" "));
  };
}
Object.defineProperty(window, "__pwned", {
  set(value) { window.__fired.push("__pwned = " + value); }, get() { return undefined; },
});
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""
# What a loaded page holds: handlers, script URLs and foreign elements in the live DOM
# (after the theme's scripts ran), plus what the trap recorded.
INSPECT = """
const found = [];
for (const el of document.querySelectorAll("*")) {
  for (const attr of el.attributes) {
    if (attr.name.startsWith("on")) found.push(el.tagName + " " + attr.name);
  }
  for (const name of ["href", "src", "action", "formaction", "xlink:href", "data"]) {
    const value = el.getAttribute(name);
    if (value && /^(javascript|data|vbscript|file):/i.test(value.replace(/[\\x00-\\x20]/g, "")))
      found.push(el.tagName + " " + name + "=" + value);
  }
  const tag = el.tagName.toLowerCase();
  if (["iframe", "object", "embed", "img", "frame", "image", "use", "foreignobject"].includes(tag))
    found.push("<" + tag + ">");
  const own = el.src && new URL(el.src).origin === location.origin && el.src.includes("/static/");
  if (tag === "script" && !(el.type === "application/ld+json" || own))
    found.push("script " + (el.src || el.textContent.slice(0, 60)));
}
return {found: found, fired: window.__fired || ["the trap did not run"],
        violations: window.__violations || [], title: document.title,
        ready: document.readyState};
"""


@dataclass
class Served:
    """The site over HTTP at PREFIX; `csp` (when set) is sent with every response."""

    root: str
    csp: list[str | None] = field(default_factory=lambda: [None])
    csp_report_only: list[str | None] = field(default_factory=lambda: [None])
    failures: list[tuple[str, int]] = field(default_factory=list)


@pytest.fixture(scope="module")
def served(hostile: HostileBuild) -> Iterator[Served]:
    state = Served(root="")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            clean = urlsplit(path).path
            inside = clean.startswith(PREFIX)
            return super().translate_path("/" + clean[len(PREFIX) :] if inside else "/.none/")

        def end_headers(self) -> None:
            # Never from the browser cache: a cached page would keep another test's policy.
            self.send_header("Cache-Control", "no-store")
            if state.csp[0]:
                self.send_header("Content-Security-Policy", state.csp[0])
            if state.csp_report_only[0]:
                self.send_header("Content-Security-Policy-Report-Only", state.csp_report_only[0])
            super().end_headers()

        def send_error(self, code: int, *args: Any, **kwargs: Any) -> None:
            state.failures.append((self.path, code))
            super().send_error(code, *args, **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    handler = functools.partial(Handler, directory=str(hostile.result.outdir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.root = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"):  # fmt: skip
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        driver.execute_cdp_cmd("Page.enable", {})
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": TRAP})
        yield driver
    finally:
        driver.quit()


def page_urls(hostile: HostileBuild) -> list[str]:
    """Every HTML page of the hostile site (below the site root)."""
    out = hostile.result.outdir
    urls = []
    for path in sorted(out.rglob("*.html")):
        rel = path.relative_to(out).as_posix()
        urls.append(rel.removesuffix("index.html"))
    return urls


def load_and_inspect(driver: Any, url: str) -> dict[str, Any]:
    driver.get(url)
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 10).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )
    return dict(driver.execute_script(INSPECT))


def browser_problems(seen: dict[str, Any], where: str) -> list[str]:
    """What the trap and the DOM inspection found on one page, one line each."""
    return [
        f"{where}: {kind}: {item}"
        for kind in ("found", "fired", "violations")
        for item in seen[kind]
    ]


def search_in_browser(driver: Any, served: Served, query: str) -> dict[str, Any]:
    """Search for `query` on the search page and inspect the page once results show."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(served.root + "search/?q=" + query)
    WebDriverWait(driver, 15).until(
        lambda d: d.execute_script(
            "return document.querySelectorAll('#search-results > li').length"
        )
    )
    return dict(driver.execute_script(INSPECT))


def save_every_paper(driver: Any, served: Served, keys: list[str]) -> None:
    """Put every paper on the reading list (digest.js keeps it in localStorage)."""
    driver.get(served.root + "reading-list/")
    driver.execute_script(
        "localStorage.setItem('digest:' + arguments[0] + ':saved', JSON.stringify(arguments[1]));",
        PREFIX,
        keys,
    )


@needs_browser
def test_no_page_runs_or_attempts_to_run_a_payload(
    chromium: Any, served: Served, hostile: HostileBuild
) -> None:
    """Every page, without a CSP that blocks anything: no payload runs (the trap records
    dialogs and ``window.__pwned``), no inline script or handler is even attempted (the
    report-only CSP reports each one as a violation while letting it run), and the live DOM,
    after the theme's scripts ran, holds no handler, script URL or foreign element. The
    search page and the reading list, which render hostile titles with JavaScript, are
    checked with hostile results showing."""
    served.csp[0] = None
    served.csp_report_only[0] = CSP
    problems: list[str] = []
    pages = page_urls(hostile)
    try:
        for rel in pages:
            problems.extend(browser_problems(load_and_inspect(chromium, served.root + rel), rel))
        for query in ("alert", "script", "onerror", "javascript", "math"):
            seen = search_in_browser(chromium, served, query)
            problems.extend(browser_problems(seen, f"search {query}"))
        keys = [p.key for p in hostile.result.site.papers]
        save_every_paper(chromium, served, keys)
        seen = load_and_inspect(chromium, served.root + "reading-list/")
        shown = chromium.execute_script("return document.querySelectorAll('main li a').length")
        problems.extend(browser_problems(seen, "reading list"))
    finally:
        served.csp_report_only[0] = None
    assert problems == []
    assert shown == len(keys)
    assert len(pages) >= 90
    assert served.failures == []


@needs_browser
def test_the_theme_works_under_an_enforced_strict_csp(
    chromium: Any, served: Served, hostile: HostileBuild
) -> None:
    """With a strict CSP enforced (scripts from the site only, nothing inline), the theme
    still works (search finds results, the reading list renders) and nothing is blocked."""
    served.csp[0] = CSP
    problems: list[str] = []
    try:
        paper = hostile.result.site.papers[0]
        for rel in ("", hostile.result.site.paper_url(paper), "topics/", "for-you/", "about/"):
            problems.extend(browser_problems(load_and_inspect(chromium, served.root + rel), rel))
        problems.extend(browser_problems(search_in_browser(chromium, served, "alert"), "search"))
        save_every_paper(chromium, served, [paper.key])
        seen = load_and_inspect(chromium, served.root + "reading-list/")
        shown = chromium.execute_script("return document.querySelectorAll('main li a').length")
        problems.extend(browser_problems(seen, "reading list"))
    finally:
        served.csp[0] = None
    assert problems == []
    assert shown == 1


@needs_browser
def test_the_trap_would_see_a_payload_that_runs(chromium: Any, served: Served) -> None:
    """The checks can fail: a page that does run a payload is caught by each of them."""
    from selenium.webdriver.support.ui import WebDriverWait

    served.csp_report_only[0] = CSP
    try:
        chromium.get(served.root)
        chromium.execute_script(
            "document.body.insertAdjacentHTML('beforeend', arguments[0]);",
            '<img src="data:," onerror="alert(\'caught\')"><a href="javascript:void 0">x</a>',
        )
        seen = WebDriverWait(chromium, 10).until(
            lambda d: (lambda r: r if r["fired"] and r["violations"] else None)(
                dict(d.execute_script(INSPECT))
            )
        )
    finally:
        served.csp_report_only[0] = None
    assert any("alert: caught" in f for f in seen["fired"])
    assert any("onerror" in f for f in seen["found"])
    assert any("javascript:" in f for f in seen["found"])
    assert seen["violations"]
