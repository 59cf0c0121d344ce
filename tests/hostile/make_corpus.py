# ruff: noqa: E501  (payloads are clearest on one line each)
"""Writes papers.jsonl, the hostile papers of tests/test_hardening_injection.py.

Run it (python tests/hostile/make_corpus.py) after changing a payload; the output is
committed so the corpus is a plain fixture file.
"""

import json
from pathlib import Path

OUT = Path(__file__).resolve().parent
# Every payload tries to run script; each names itself so a failure says which one worked.
P = {
    "script": '<script>alert("xss-script")</script>',
    "img": '"><img src=x onerror=alert("xss-img")>',
    "svg": "'><svg/onload=alert('xss-svg')>",
    "anchor": "<a href=\"javascript:alert('xss-anchor')\">click</a>",
    "js-url": 'javascript:alert("xss-js-url")',
    "data-url": "data:text/html;base64,PHNjcmlwdD5hbGVydCgneHNzLWRhdGEnKTwvc2NyaXB0Pg==",
    "entity": '&lt;script&gt;alert("xss-entity")&lt;/script&gt; &#60;img src=x onerror=alert(1)&#62; &amp;lt;b&amp;gt;',
    "jinja": '{{ 7*191 }} {% include "/etc/passwd" %} {{ config.__class__.__init__.__globals__ }} {# c #}',
    "markdown": '[click me](javascript:alert("xss-md")) <javascript:alert(1)> ![i](data:image/svg+xml,<svg onload=alert(1)>) <http://x.org/"onmouseover=alert(1)>',
    "breakout": '</title></textarea></style></script><script>window.__pwned="breakout"</script><!-- ]]> --> <![CDATA[ x ]]>',
    "rtl": "\u202eevil.exe\u202c \u2066gpj.\u2069 \u200b\u200c\u200d\ufeff\u2028\u2029 zero\u200bwidth",
    "style": '<style>*{display:none}</style><iframe src="javascript:alert(\'xss-iframe\')"></iframe><object data="javascript:alert(1)">',
    "emphasis": '*<img src=x onerror=alert("xss-em")>* and *"onmouseover=alert(1)*',
    "urls": "see https://example.org/\"onmouseover=alert(1)// and https://example.org/<script>alert(1)</script> and https://example.org/a'onfocus='alert(1)",
    "mathml-raw": '<math><mi xlink:href="javascript:alert(1)">x</mi><maction actiontype="statusline">y</maction></math>',
    "control": "nul\u0000byte bell\u0007 esc\u001b[31m vt\u000b ff\u000c del\u007f",
}
LATEX = [
    r'$\text{<script>alert("xss-latex-text")</script>}$',
    r'$\mathrm{"><img src=x onerror=alert("xss-latex-mathrm")>}$',
    r'$x^{<svg onload=alert("xss-latex-sup")>}$',
    r'$\href{javascript:alert("xss-latex-href")}{click}$',
    r"$\text{&lt;script&gt;alert(1)&lt;/script&gt;}$",
    r"$\text{&#x3C;img src=x onerror=alert(1)&#x3E;}$",
    r"$\style{background:url(javascript:alert(1))}{x}$",
    r"$\unicode{x3c}script\unicode{x3e}$",
    r'$\operatorname{<img src=x onerror=alert("xss-op")>}$',
    r'$\mathbb{"onmouseover="alert(1)}$',
    r"$\color{red\" onmouseover=\"alert(1)}{x}$",
    r"$\begin{array}{c<script>}x\end{array}$",
    r"$\frac{<b>}{</b>}$",
    r"$a<b>c$",
]
LONG = "A" * 4000
LONG_URLISH = "https://example.org/" + "x" * 3000

links_bad = {
    "abs": 'javascript:alert("xss-link-abs")',
    "pdf": "data:text/html,<script>alert('xss-link-pdf')</script>",
    "code": "JaVaScRiPt:alert(1)",
    "project": " javascript:alert(1)",
    "doi": "vbscript:msgbox(1)",
    "source": "//evil.example.org/protocol-relative",
    "tabbed": "java\tscript:alert(1)",
    "nohost": "https:alert(1)",
    "spaced": 'https://example.org/a b"onmouseover=alert(1)',
    "file": "file:///etc/passwd",
}

papers: list[dict] = []


def add(title: str, **fields: object) -> None:
    n = len(papers) + 1
    rec: dict[str, object] = {
        "title": title,
        "authors": [],
        "abstract": "",
        "date": f"2025-10-{n % 28 + 1:02d}",
    }
    rec.update(fields)
    papers.append(rec)


for name, p in P.items():
    add(
        f"Title {name}: {p}",
        authors=[p, f"Author {name}"],
        abstract=f"Abstract {name}: {p}",
        links={"source": f"https://example.org/{name}"},
    )
    add(
        f"Plain paper about {name}",
        authors=[f"Ordinary {name}"],
        abstract=f"{p} {p}",
        organization=p,
        categories=[p],
    )
for i, tex in enumerate(LATEX):
    add(f"Math {i} {tex}", authors=[f"Tex {i}"], abstract=f"We prove {tex} holds, and {tex}.")
add(f"Long token {LONG}", authors=[LONG], abstract=f"{LONG} {LONG_URLISH}")
add(
    "Every unsafe link is dropped",
    authors=["Link Tester"],
    abstract="links",
    links=links_bad,
    sightings=[
        {"source": "hostile", "position": 1, "url": "javascript:alert('xss-sighting')"},
        {
            "source": '<script>alert("xss-source-name")</script>',
            "position": 2,
            "url": "data:text/html,x",
        },
    ],
)
add(
    "A safe link kind with a hostile name",
    authors=["Kind Tester"],
    abstract="x",
    links={'"><script>alert("xss-kind")</script>': "https://example.org/kind"},
)
add(
    '<script>alert("xss-arxiv")</script>',
    arxiv_id="2510.01234",
    authors=["Arxiv Hostile"],
    abstract='An arXiv paper. "><img src=x onerror=alert(1)>',
    categories=['cs.LG"><script>alert(1)</script>'],
)
add("\u200b\u200d\ufeff", authors=["Only invisible title"], abstract="zero-width title")
with (OUT / "papers.jsonl").open("w", encoding="utf-8") as f:
    for rec in papers:
        f.write(json.dumps(rec, ensure_ascii=True) + "\n")
