"""Readers for structured formats: canonical JSON Lines, arXiv API Atom, arXiv listing RSS,
Hugging Face daily papers JSON, BibTeX/biblatex, CSL-JSON, Better BibTeX JSON and arXiv
OAI-PMH. One module per format; this module only gathers their readers."""

from digest.sources import (
    arxiv_atom,
    arxiv_rss,
    bibtex,
    csl_json,
    hf_api,
    jsonl,
    oai_pmh,
    zotero_bbt,
)
from digest.sources.base import Reader

READERS: list[Reader] = [
    jsonl.READER,
    arxiv_atom.READER,
    arxiv_rss.READER,
    hf_api.READER,
    bibtex.READER,
    csl_json.READER,
    zotero_bbt.READER,
    oai_pmh.READER,
]
