"""The topics plugin: give every paper a primary topic and a few secondary ones, group the
home page by topic, and add a topics index, a page and an Atom feed per topic.

Rules
-----
A taxonomy is a list of topics, each with keywords (words or phrases) and optional
exclusions. Keywords match as the highlight plugin's do: case-insensitive, on word
boundaries, tolerant of plurals and simple inflections, hyphens or spaces between words
(``graph neural network`` matches ``Graph Neural Networks`` and ``graph-neural-network``).
Where two keywords overlap in the text, the longer wins (``vision-language model`` is not
also a ``language model``). A topic scores, for a paper::

    weight · Σ over its keywords (title_weight   if the keyword is in the title
                                + abstract_weight · min(3, times it is in the abstract))

and scores 0 when any of its ``exclude`` phrases occurs. The best-scoring topic with at
least ``min_score`` is the primary one (ties: taxonomy order); the next best, scoring at
least ``min_score`` and ``secondary_ratio`` × the primary's score, are secondary, up to
``max_topics`` in all. Every keyword of every topic is compiled into one regular
expression: each title and abstract is scanned once. Each text's keyword counts, and the
topics of each kind of paper, are remembered for the process's next builds (the preview
server's), so a rebuild only scans what changed.

A default taxonomy for machine-learning papers (`DEFAULT_TOPICS`) is used when site.toml
defines no ``[[plugins.topics.topics]]``; with ``extend_defaults = true`` the site's topics
are added to it (a site topic with a default topic's slug replaces it).

Automatic topics
----------------
Papers no rule places (or, with ``mode = "auto"``, every paper) are clustered from their
text: each paper's terms (words and two-word phrases, stop words removed, plurals folded,
title words counted three times) are weighted by TF-IDF over the whole site (document
frequencies estimated on at most 5,000 of the other papers, picked by key); each paper
joins the cluster of its best term weighted by the cluster's size, and clusters smaller
than ``auto_min_size`` are dissolved and their papers re-assigned until every cluster is
big enough. A cluster is labelled with its term as the papers write it
(``Action recognition``). This costs a few passes over the papers' terms: linear in the
text, never pairwise. Papers still unplaced go to the "Other" topic (slug ``other``,
listed last, and not put in the search index's topics).

Data
----
::

    paper.data["topics"] = {"primary": {"slug", "name", "url"}, "all": [primary, …]}
    paper.data["search"]["topics"] = [topic names]          # for the search index
    site.data["topics"] = [{"slug", "name", "url", "count"}, …]   # most papers first, Other last

``url`` is ``topics/<slug>/``. The Jinja global ``topic_groups(papers)`` groups papers by
primary topic, groups ordered by their first paper (so by trending rank when trending
runs); hidden papers (``paper.data["hidden"]``, set by the highlight plugin) are left out.
Pages: ``topics/`` (nav "Topics": each topic with its count, top papers and a sparkline of
papers per week), ``topics/<slug>/`` (paginated by ``page_size``) and the feed
``topics/<slug>/feed.xml``.

Settings (``[plugins.topics]``, defaults shown)::

    mode = "rules"            # or "auto": clusters only, no taxonomy
    auto = true               # in rules mode, cluster the papers no rule places
    extend_defaults = false   # add the site's topics to the default taxonomy
    max_topics = 3            # topics per paper, the primary included
    title_weight = 3.0        # a keyword in the title counts this much …
    abstract_weight = 1.0     # … and each time it is in the abstract (at most 3 times) this much
    min_score = 2.0           # a topic needs this score to be given
    secondary_ratio = 0.5     # a secondary topic needs this fraction of the primary's score
    auto_min_size = 3         # the smallest automatic cluster
    top_papers = 3            # papers named per topic on the topics index
    sparkline_weeks = 26      # weeks shown in each topic's sparkline (0: no sparklines)
    feeds = true              # write topics/<slug>/feed.xml

    [[plugins.topics.topics]]
    name = "Graph learning"                   # required
    slug = "graphs"                           # optional: derived from the name
    keywords = ["graph neural network", "GNN", "message passing"]
    exclude = ["graph of thoughts"]           # optional
    weight = 1.0                              # optional: scales the topic's score
"""

from __future__ import annotations

import functools
import itertools
import math
import re
import threading
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from markupsafe import Markup, escape

from digest import hookimpl
from digest.bibtex_export import bibtex_file
from digest.config import Config, Options
from digest.feeds import atom_feed
from digest.model import Paper, newest_first, slugify
from digest.pages import Page, paginate, pagination
from digest.publish import OutputDir
from digest.site import Site
from plugins.digest_highlight import MEMO_SIZE, Memo, Pattern, Scanner

NAME = "topics"
OTHER = "other"
SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
ABSTRACT_CAP = 3
MAX_ROUNDS = 12
MIN_COMMON = 10
DF_SAMPLE = 5000


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic of a taxonomy."""

    name: str
    slug: str
    keywords: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    weight: float = 1.0


def _t(name: str, slug: str, keywords: str, exclude: str = "", weight: float = 1.0) -> Topic:
    """A default topic from ``;``-separated keyword lists (compact to read and edit)."""

    def split(text: str) -> tuple[str, ...]:
        return tuple(k.strip() for k in text.split(";") if k.strip())

    return Topic(name, slug, split(keywords), split(exclude), weight)


# fmt: off
DEFAULT_TOPICS: tuple[Topic, ...] = (
    _t("Scaling laws", "scaling-laws",
       "scaling law; neural scaling; scaling behavior; scaling behaviour; compute-optimal;"
       " scaling properties; emergent ability; emergent abilities; emergent capability;"
       " loss prediction; predictable scaling; scaling trend; data mixing law; densing law;"
       " power law; model size; scale up; scaling up; scaling down; billion parameters;"
       " parameter count; compute budget; downstream performance scaling", weight=1.4),
    _t("Efficiency and compression", "efficiency",
       "quantization; quantized; low-bit; post-training quantization; pruning; pruned;"
       " sparsity; sparse training; knowledge distillation; model compression; compressed;"
       " mixture of experts; mixture-of-experts; MoE; upcycling; efficient inference;"
       " inference efficiency; FLOPs; memory footprint; parameter-efficient; PEFT; LoRA;"
       " low-rank adaptation; low-rank; adapter; speculative decoding; KV cache; FP8; FP16;"
       " low precision; mixed precision; lottery ticket; on-device; edge device; latency;"
       " throughput; GPU memory; small language model; distillation; efficiency; compression;"
       " lossless"),
    _t("Model merging and transfer", "merging-transfer",
       "model merging; merging; merged model; model soup; weight averaging; task arithmetic;"
       " task vector; model reuse; model zoo; model growth; model expansion; growing;"
       " initialization from; transfer learning; knowledge transfer; domain adaptation;"
       " continual learning; continual pre-training; continued pretraining; lifelong learning;"
       " catastrophic forgetting; model editing; knowledge editing; fine-tuning; finetuning;"
       " fine-tuned; pretrained models; pre-trained models; linear mode connectivity;"
       " learngene; hypernetwork; parameter prediction"),
    _t("Generative models and diffusion", "generative",
       "diffusion model; diffusion; denoising; score-based; score matching; generative model;"
       " generative modeling; generative modelling; GAN; generative adversarial network; VAE;"
       " variational autoencoder; autoencoder; normalizing flow; flow matching;"
       " consistency model; stable diffusion; text-to-image; image generation;"
       " video generation; image synthesis; 3D generation; energy-based model;"
       " density estimation; likelihood-based; model collapse; synthetic images;"
       " sampling from; stochastic interpolant; classifier-free guidance"),
    _t("Retrieval and search", "retrieval",
       "retrieval; dense retrieval; information retrieval; retriever; search engine; RAG;"
       " retrieval-augmented; passage ranking; passage; reranking; re-ranking; ranking;"
       " recommendation; recommender; embedding model; text embedding; sentence embedding;"
       " query; document ranking; literature search; index"),
    _t("Reinforcement learning", "reinforcement-learning",
       "reinforcement learning; RL; policy; policies; reward; Markov decision process; MDP;"
       " Q-learning; actor-critic; policy gradient; value function; exploration; offline RL;"
       " bandit; multi-agent; self-play; agent; planning; model-based RL; Atari; MuJoCo",
       weight=1.2),
    _t("Graph learning", "graphs",
       "graph neural network; GNN; graph; graphs; message passing; node classification;"
       " link prediction; knowledge graph; graph transformer; graph representation;"
       " relational; equivariant", weight=1.2),
    _t("Optimisation and training dynamics", "optimization",
       "optimizer; optimiser; optimization; optimisation; gradient descent; SGD; Adam;"
       " learning rate; training dynamics; learning dynamics; loss landscape; initialization;"
       " initialisation; convergence; training instability; stability; batch size;"
       " weight decay; layer normalization; normalization; grokking; feature learning;"
       " hyperparameter; warmup; maximal update; parametrization; parameterization; μP;"
       " muP; Hessian; curvature; momentum; backpropagation; gradient; loss curve;"
       " pre-training; pretraining; training recipe; training strategies; overparameterized"),
    _t("Theory", "theory",
       "theory; theoretical; theorem; provably; provable; generalization bound; sample complexity;"
       " kernel; Gaussian process; neural tangent kernel; minimax; convergence rate;"
       " statistical; asymptotic; high-dimensional; random features; Bayesian; estimator;"
       " regression; nonparametric; PAC-Bayes; information-theoretic; proof; we prove"),
    _t("Computer vision", "vision",
       "computer vision; image; images; visual; vision; video; videos; object detection;"
       " detection; segmentation; image classification; ImageNet;"
       " vision transformer; ViT; 3D; point cloud; depth estimation; pose estimation;"
       " action recognition; NeRF; Gaussian splatting; scene; camera; pixel; dehazing;"
       " super-resolution; optical flow"),
    _t("Multimodal models", "multimodal",
       "multimodal; multi-modal; vision-language; vision language model; VLM; CLIP;"
       " image-text; image captioning; visual question answering; VQA; text-to-video;"
       " audio-visual; modalities; MLLM", weight=1.2),
    _t("Speech and audio", "speech-audio",
       "speech; audio; ASR; speech recognition; text-to-speech; TTS; music; speaker;"
       " acoustic; sound; spoken; voice", weight=1.3),
    _t("Robotics and embodied AI", "robotics",
       "robot; robotic; robotics; manipulation; embodied; autonomous driving; navigation;"
       " locomotion; grasping; vehicle; self-driving; sim-to-real", weight=1.2),
    _t("Science and medicine", "science-medicine",
       "medical; medicine; clinical; biology; biological; protein; molecule; molecular;"
       " drug; chemistry; chemical; materials; physics; physical; weather; climate;"
       " healthcare; patient; surgical; surgery; genomics; genome; cell; PDE;"
       " neural operator; fluid; astronomy; astrophysics; earth; brain; neuroscience;"
       " neural circuits; metamaterial; atomistic; radiology; pathology; dynamical system;"
       " breast; cancer; disease"),
    _t("Datasets and benchmarks", "datasets-benchmarks",
       "benchmark; benchmarks; dataset; datasets; evaluation; leaderboard; data curation;"
       " data selection; data quality; synthetic data; corpus; corpora; annotation;"
       " data attribution; training data; data pruning; data filtering; data mixture;"
       " data influence; reproducibility; evaluation suite; test set; data-efficient"),
    _t("Safety, alignment and interpretability", "safety-alignment",
       "alignment; aligned; misaligned; safety; RLHF; human feedback; preference;"
       " preference optimization; DPO; jailbreak; adversarial; robustness; privacy;"
       " differential privacy; fairness; bias; toxicity; hallucination; interpretability;"
       " interpretable; interpreting; interpretation; explainability; explainable; explaining;"
       " explanation; mechanistic; circuit;"
       " probing; saliency; memorization; memorisation; watermark; unlearning;"
       " out-of-distribution; OOD; distribution shift; spurious; calibration; uncertainty;"
       " anomaly detection; detection of generated"),
    _t("Representation learning", "representation-learning",
       "representation learning; representations; self-supervised; contrastive learning;"
       " contrastive; clustering; unsupervised; semi-supervised; metric learning; embeddings;"
       " few-shot; meta-learning; active learning; ensemble; ensembles; feature learning;"
       " foundation model"),
    _t("Sequence models and architectures", "architectures",
       "transformer; transformers; attention; self-attention; state space model; state-space;"
       " SSM; Mamba; recurrent; RNN; LSTM; long context; long-context; long sequence;"
       " architecture; architectures; neural architecture search; NAS; convolution;"
       " convolutional; CNN; residual; layer; sequence modeling; HiPPO"),
    _t("Time series and forecasting", "time-series",
       "time series; time-series; forecasting; forecast; temporal; spatio-temporal;"
       " sequential data; temporal dynamics"),
    _t("Language models", "language-models",
       "language model; large language model; LLM; LLMs; GPT; BERT; T5; chatbot;"
       " instruction tuning; instruction-tuned; instruction; prompt; prompting;"
       " chain of thought; chain-of-thought;"
       " natural language processing; NLP; question answering; machine translation;"
       " text generation; tokenizer; tokenization; in-context learning; reasoning;"
       " code generation; text classification; summarization; multilingual; linguistic;"
       " low-resource language; natural language", weight=0.7),
)
# fmt: on


@dataclass(frozen=True, slots=True)
class TopicsSettings:
    """The parsed ``[plugins.topics]`` table."""

    mode: str = "rules"
    auto: bool = True
    topics: tuple[Topic, ...] = DEFAULT_TOPICS
    max_topics: int = 3
    title_weight: float = 3.0
    abstract_weight: float = 1.0
    min_score: float = 2.0
    secondary_ratio: float = 0.5
    auto_min_size: int = 3
    top_papers: int = 3
    sparkline_weeks: int = 26
    feeds: bool = True


def read_topic(opts: Options, taken: set[str]) -> Topic | None:
    """One ``[[plugins.topics.topics]]`` entry, or None when it is unusable."""
    name = opts.string("name")
    slug = opts.string("slug")
    keywords = tuple(k for k in opts.strings("keywords", ()) if k.strip())
    exclude = tuple(k for k in opts.strings("exclude", ()) if k.strip())
    weight = opts.number("weight", 1.0, minimum=0)
    opts.done()
    if not name or not name.strip():
        opts.error("name", "expected the topic's name, got nothing")
        return None
    slug = slug if slug is not None else slugify(name)
    if not SLUG.fullmatch(slug or ""):
        opts.error("slug", f'expected lowercase letters, digits and hyphens, got "{slug}"')
        return None
    if slug == OTHER:
        opts.error("slug", f'"{OTHER}" is reserved for papers no topic places')
        return None
    if slug in taken:
        opts.error("slug", f'the slug "{slug}" is used by another topic')
        return None
    if not keywords:
        opts.error("keywords", "expected at least one keyword")
        return None
    taken.add(slug)
    return Topic(name.strip(), slug, keywords, exclude, weight)


def read_settings(opts: Options) -> TopicsSettings:
    """Validate a ``[plugins.topics]`` table (errors go to the config's issue list)."""
    d = TopicsSettings()
    taken: set[str] = set()
    site_topics = [t for t in (read_topic(o, taken) for o in opts.tables("topics")) if t]
    extend = opts.boolean("extend_defaults", False)
    topics: tuple[Topic, ...] = d.topics
    if site_topics and extend:
        replaced = {t.slug for t in site_topics}
        topics = (*site_topics, *(t for t in DEFAULT_TOPICS if t.slug not in replaced))
    elif site_topics or "topics" in opts.values:
        topics = tuple(site_topics)
    settings = TopicsSettings(
        mode=opts.string("mode", d.mode, ("rules", "auto")),
        auto=opts.boolean("auto", d.auto),
        topics=topics,
        max_topics=opts.integer("max_topics", d.max_topics, minimum=1),
        title_weight=opts.number("title_weight", d.title_weight, minimum=0),
        abstract_weight=opts.number("abstract_weight", d.abstract_weight, minimum=0),
        min_score=opts.number("min_score", d.min_score, minimum=0),
        secondary_ratio=opts.number("secondary_ratio", d.secondary_ratio, minimum=0),
        auto_min_size=opts.integer("auto_min_size", d.auto_min_size, minimum=2),
        top_papers=opts.integer("top_papers", d.top_papers, minimum=0),
        sparkline_weeks=opts.integer("sparkline_weeks", d.sparkline_weeks, minimum=0),
        feeds=opts.boolean("feeds", d.feeds),
    )
    opts.done()
    return settings


def settings_of(site: Site) -> TopicsSettings:
    """This plugin's settings for `site` (the defaults when configure did not run)."""
    settings = site.config.settings_for(NAME)
    return settings if isinstance(settings, TopicsSettings) else TopicsSettings()


@hookimpl
def digest_configure(config: Config) -> None:
    """Read and validate ``[plugins.topics]`` and its taxonomy."""
    config.set_plugin_settings(NAME, read_settings(config.plugin_options(NAME)))


# ---------------------------------------------------------------------------------------
# Rules


class TaxonomyMatcher:
    """Every keyword and exclusion of a taxonomy in one regex; `scores` scans a paper once.

    Each text's keyword counts, and each paper's chosen topics, are remembered in a `Memo`
    (see `taxonomy_matcher` for sharing one matcher between builds): a text or paper seen
    before costs a dict lookup.
    """

    def __init__(self, topics: Sequence[Topic]):
        self.topics = tuple(topics)
        index: dict[str, int] = {}
        patterns: list[Pattern] = []
        self.owners: list[list[tuple[int, bool]]] = []
        for t, topic in enumerate(self.topics):
            phrases = [(k, False) for k in topic.keywords] + [(k, True) for k in topic.exclude]
            for phrase, excluded in phrases:
                pattern = Pattern.phrase(phrase)
                if pattern is None:
                    continue
                if pattern.regex not in index:
                    index[pattern.regex] = len(patterns)
                    patterns.append(pattern)
                    self.owners.append([])
                self.owners[index[pattern.regex]].append((t, excluded))
        self.scanner = Scanner(enumerate(patterns), overlapping=False)
        # `owners` with each topic's weight, None for an exclusion.
        self._weighted = [
            [(t, None if excluded else self.topics[t].weight) for t, excluded in owned]
            for owned in self.owners
        ]
        self._counts: Memo[str, tuple[dict[int, int], int]] = Memo()
        # Texts with equal counts (in the same order) are of one kind, numbered in order of
        # appearance (never reused), and a paper's topics depend only on its two kinds:
        # many titles match the same one or two keywords.
        self._kinds: dict[tuple[tuple[int, int], ...], int] = {}
        self._next_kind = itertools.count()
        self._chosen: dict[tuple[float, ...], dict[tuple[int, int], tuple[int, ...]]] = {}

    def hits(self, text: str) -> Counter[int]:
        """How often each keyword (by index) occurs in `text`; overlaps go to the leftmost,
        then the longest."""
        return Counter(self.counts(text))

    def counts(self, text: str) -> dict[int, int]:
        """`hits` as a plain dict in order of first occurrence, remembered per text: the
        caller must not change it."""
        return self._counted(text)[0]

    def _counted(self, text: str) -> tuple[dict[int, int], int]:
        """`counts` and the number of its kind."""
        found = self._counts.get(text)
        if found is None:
            counts = self.scanner.counts(text) if text else {}
            signature = tuple(counts.items())
            kind = self._kinds.get(signature)
            if kind is None:
                if len(self._kinds) >= MEMO_SIZE:
                    self._kinds.clear()
                kind = self._kinds[signature] = next(self._next_kind)
            found = self._counts.put(text, (counts, kind))
        return found

    def scores(self, paper: Paper, settings: TopicsSettings) -> list[tuple[float, int]]:
        """(score, topic index) for each topic that scores above zero, best first."""
        return self._scores(self.counts(paper.title), self.counts(paper.abstract), settings)

    def _scores(
        self, title: dict[int, int], abstract: dict[int, int], settings: TopicsSettings
    ) -> list[tuple[float, int]]:
        scores: dict[int, float] = {}
        blocked: set[int] = set()
        title_weight, abstract_weight = settings.title_weight, settings.abstract_weight
        weighted = self._weighted
        # The set's order fixes the order of the float sums, so it is built as it always
        # was (as ``Counter.keys() | Counter.keys()`` builds it: a set made from an exact
        # dict is sized up front and may iterate in another order).
        keywords = set(title.keys())
        keywords.update(abstract.keys())
        for keyword in keywords:
            times = abstract.get(keyword, 0)
            points = title_weight * (keyword in title)
            points += abstract_weight * (times if times < ABSTRACT_CAP else ABSTRACT_CAP)
            for topic, weight in weighted[keyword]:
                if weight is None:
                    blocked.add(topic)
                else:
                    scores[topic] = scores.get(topic, 0.0) + points * weight
        ranked = [(s, t) for t, s in scores.items() if s > 0 and t not in blocked]
        return sorted(ranked, key=lambda item: (-item[0], item[1]))

    def choose(self, paper: Paper, settings: TopicsSettings) -> tuple[int, ...]:
        """`choose_topics` for `paper`, remembered per kind of title and abstract."""
        key = (
            settings.title_weight,
            settings.abstract_weight,
            settings.min_score,
            settings.secondary_ratio,
            float(settings.max_topics),
        )
        memo = self._chosen.get(key)
        if memo is None:
            if len(self._chosen) >= 4:
                self._chosen.clear()
            memo = self._chosen[key] = {}
        title, title_kind = self._counted(paper.title)
        abstract, abstract_kind = self._counted(paper.abstract)
        chosen = memo.get((title_kind, abstract_kind))
        if chosen is None:
            if len(memo) >= MEMO_SIZE:
                memo.clear()
            scored = self._scores(title, abstract, settings)
            chosen = memo[title_kind, abstract_kind] = tuple(choose_topics(scored, settings))
        return chosen


@functools.lru_cache(maxsize=4)
def taxonomy_matcher(topics: tuple[Topic, ...]) -> TaxonomyMatcher:
    """The matcher for a taxonomy, shared by builds with an equal one: compiling it costs
    a tenth of a second, and its memos make a rebuild after a small edit cheap."""
    return TaxonomyMatcher(topics)


def choose_topics(scored: list[tuple[float, int]], settings: TopicsSettings) -> list[int]:
    """The topic indexes a paper gets from its scores: primary first, then secondaries."""
    if not scored or scored[0][0] < settings.min_score:
        return []
    best = scored[0][0]
    floor = max(settings.min_score, settings.secondary_ratio * best)
    return [t for s, t in scored[: settings.max_topics] if s >= floor]


# ---------------------------------------------------------------------------------------
# Automatic clusters

_STOPWORD_TEXT = """
    a about above across after again against all almost along also although always am
    among an and another any are around as at available based be because been before being
    below best better between beyond both but by can cannot could current despite did do
    does doing done due during each either else enough especially even ever every first
    for from further furthermore given has have having here highly how however if in
    including into is it its itself just key large larger less like made make makes making
    many may more moreover most much must new no nor not novel of off often on once one
    only or other others our out over own paper per perform performance performs present
    propose proposed provide provides rather recent recently remain remains require requires
    result results same several should show shows significant significantly similar since
    so some state still study such than that the their them then there these they this
    those three through thus to two under up upon us use used uses using various very via
    was we well were what when where whether which while who whose why will with within
    without work works would yet you your approach approaches method methods model models
    learning task tasks data training trained train framework deep neural network networks
    existing across strong achieve achieves demonstrate demonstrates experiments
    experimental effective effectively introduce introduces further ability set able
    problem problems art state-of-the-art previous prior furthermore toward towards across
    improve improves improved improving high low small level different specific general
    find found important wide range terms case way ways addition additionally particular
    approximately number time times end need needs often typically better machine
    artificial intelligence ai ml recent outperform outperforms outperforming
    lead leads achieving provide including enable enables allow allows building build
    builds effective efficient simple general robust better toward possible possibly
    potential potentially likely unlike common commonly standard typical main mainly
    overall often usually widely largely mostly directly simply easily able ability
    unique various variety several certain fully non often good great poor first second
    third last next final finally early later given known unknown well-known whose
    approach's aim aims aimed goal goals focus focuses focused propose proposes proposing
    study studies studied investigate investigates investigated analysis analyze analyse
    explore explores explored evaluate evaluates evaluated evaluating show shown showing
    consider considers considered understand understanding obtain obtained apply applied
    applying application applications lack limited limitation limitations challenge
    challenges challenging issue issues question questions extensive extensively
    empirical empirically theoretical theoretically practical practice practitioner
    substantial substantially notable notably crucial critical essential important
    importantly increasingly increase increases increased reduce reduces reduced
    compared comparison comparable respectively particularly especially specifically
    instead rather whereas hence therefore thereby"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
# A word (letters first, inner hyphens and apostrophes kept) or clause punctuation, which
# ends a two-word phrase.
TOKEN = re.compile(r"[^\W\d_][\w'-]*[^\W_]|[^\W\d_]|[.;:,!?()\[\]{}\"“”]")


@functools.lru_cache(maxsize=65536)
def fold(word: str) -> str:
    """A word lowercased with its plural folded (``networks`` → ``network``); "" for a stop
    word, a word shorter than three letters or punctuation."""
    word = word.strip("'-").lower().replace("-", "")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) < 3 or word in STOPWORDS or "'" in word:
        return ""
    return word


class _Folded(dict[str, str]):
    """token → ``fold(token)``, filled on first sight: ``map(FOLDED.__getitem__, tokens)``
    stays in C for the tokens seen before (the lru_cache's wrapper cost twice as much per
    token, and a sample of 5,000 papers has two million tokens). Emptied when it holds
    `FOLDED_SIZE` tokens, so it stays bounded whatever the site's vocabulary."""

    def __missing__(self, token: str) -> str:
        if len(self) >= FOLDED_SIZE:
            self.clear()
        folded = self[token] = fold(token)
        return folded


FOLDED_SIZE = 1 << 17
FOLDED = _Folded()


def paper_terms(text: str) -> list[str]:
    """The folded words (of four letters or more) and two-word phrases in `text`."""
    terms: list[str] = []
    previous = ""
    for token in TOKEN.findall(text):
        folded = fold(token)
        if folded:
            if len(folded) >= 4:
                terms.append(folded)
            if previous:
                terms.append(f"{previous} {folded}")
        previous = folded
    return terms


def surface_forms(text: str) -> list[tuple[str, str]]:
    """(folded term, the text as written) for the terms of `paper_terms`, for labels."""
    forms: list[tuple[str, str]] = []
    previous = ("", "")
    for token in TOKEN.findall(text):
        folded, surface = fold(token), token.strip("'-")
        if folded:
            if len(folded) >= 4:
                forms.append((folded, surface))
            if previous[0]:
                forms.append((f"{previous[0]} {folded}", f"{previous[1]} {surface}"))
        previous = (folded, surface)
    return forms


@dataclass(slots=True)
class TermIndex:
    """Term weights per paper (TF-IDF over the site) and the surface forms of each term."""

    vectors: dict[str, dict[str, float]] = field(default_factory=dict)
    surfaces: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def term_index(
    papers: Sequence[Paper], wanted: Sequence[Paper], max_share: float = 0.2
) -> TermIndex:
    """TF-IDF term vectors for the `wanted` papers, with document frequencies over all
    `papers` (title terms count three times).

    Terms in a single paper or in more than `max_share` of the papers (and more than
    `MIN_COMMON`, for small sites) would make no useful cluster and are dropped. The other
    papers' share of the document frequencies is estimated from at most `DF_SAMPLE` of
    them, chosen by a checksum of their key (so the same papers whatever their order):
    enough for stable frequencies, and it keeps a large site with few unplaced papers fast.
    Those frequencies are kept between builds (`SAMPLE_FREQUENCIES`), so a rebuild after
    a small edit only counts the papers that changed.
    """
    keys = {p.key for p in wanted}
    others = [(p, key) for p in papers if (key := p.key) not in keys]
    step = max(1, math.ceil(len(others) / DF_SAMPLE))
    if step > 1:
        sample = [p for p, key in others if zlib.crc32(key.encode()) % step == 0]
    else:
        sample = [p for p, _ in others]
    scale = len(others) / len(sample) if sample else 0.0
    counts: dict[str, Counter[str]] = {}
    index = TermIndex()
    in_wanted: Counter[str] = Counter()
    for paper in wanted:
        tf = Counter(paper_terms(paper.title))
        for term in tf:
            tf[term] *= 3
        tf.update(paper_terms(paper.abstract))
        counts[paper.key] = tf
        for text in (paper.title, paper.abstract):
            for term, surface in surface_forms(text):
                index.surfaces[term][surface] += 1
        in_wanted.update(tf.keys())
    df = SAMPLE_FREQUENCIES.lookup([(p.title, p.abstract) for p in sample], in_wanted)
    estimated: dict[str, float] = {}
    for term, papers_with_term in in_wanted.items():
        # The sample's estimate, then 1 per wanted paper, added one at a time as they
        # always were: the same float sums give the same clusters.
        value = df[term] * scale if term in df else 0.0
        for _ in range(papers_with_term):
            value += 1
        estimated[term] = value
    n = max(1, len(papers))
    ceiling = max(MIN_COMMON, max_share * n)
    for key, tf in counts.items():
        index.vectors[key] = {
            term: (1 + math.log(c)) * math.log(n / estimated[term]) * (1.3 if " " in term else 1)
            for term, c in tf.items()
            if 2 <= estimated[term] <= ceiling
        }
    return index


class TermQuery:
    """Some terms (as `paper_terms` writes them), found in a text without building its
    other terms: the text's folded words are intersected with the words asked for, and its
    adjacent pairs of folded words with the phrases asked for, both at C speed (making a
    string for every two-word phrase of a text was most of the cost of counting terms)."""

    def __init__(self, terms: Iterable[str]):
        self.words: set[str] = set()
        self.pairs: dict[tuple[str, str], str] = {}
        for term in terms:
            first, space, second = term.partition(" ")
            if space:
                if first and second:  # `paper_terms` never pairs a stop word
                    self.pairs[first, second] = term
            elif len(term) >= 4:  # nor does it keep a shorter word
                self.words.add(term)

    def __bool__(self) -> bool:
        return bool(self.words or self.pairs)

    def found(self, text: str) -> set[str]:
        """``set(paper_terms(text))`` & the terms asked for."""
        folded = list(map(FOLDED.__getitem__, TOKEN.findall(text)))
        hits = self.words.intersection(folded)
        if self.pairs and len(folded) > 1:
            pairs = self.pairs
            hits.update([pairs[pair] for pair in pairs.keys() & itertools.pairwise(folded)])
        return hits


class SampleFrequencies:
    """Document frequencies over a sample of papers, updated from the last sample's.

    A paper is its (title, abstract): its terms depend on nothing else. Only the terms
    asked for are counted (a build asks for the terms of its few unplaced papers; counting
    every term of every sampled paper cost most of a cold build's clustering, and memory),
    and they are kept for the next call: `lookup` then counts them only in the papers that
    joined or left the sample since (unless most did), and terms not asked for before only
    in the sample. Counts are exact integers, so they are the same however they were reached.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: Counter[tuple[str, str]] = Counter()
        self._query = TermQuery(())
        self._tracked: set[str] = set()
        self._df: Counter[str] = Counter()

    def lookup(self, texts: Sequence[tuple[str, str]], terms: Iterable[str]) -> dict[str, int]:
        """How many of the `texts` (papers as (title, abstract)) have each of `terms`
        (terms in none are left out)."""
        sample = Counter(texts)
        wanted = set(terms)
        with self._lock:
            left, joined = self._texts - sample, sample - self._texts
            if 2 * (left.total() + joined.total()) > len(texts):
                self._count(sample, wanted)
            else:
                query = self._query
                for (title, abstract), m in left.items() if query else ():
                    for term in query.found(title) | query.found(abstract):
                        remaining = self._df[term] - m
                        if remaining > 0:
                            self._df[term] = remaining
                        else:
                            del self._df[term]
                for (title, abstract), m in joined.items() if query else ():
                    for term in query.found(title) | query.found(abstract):
                        self._df[term] += m
                missing = wanted - self._tracked
                if len(self._tracked) + len(missing) > 4 * len(wanted) + 1000:
                    self._count(sample, wanted)  # forget terms no longer asked for
                elif missing:
                    self._df.update(_count_terms(sample, TermQuery(missing)))
                    self._tracked |= missing
                    self._query = TermQuery(self._tracked)
            self._texts = sample
            df = self._df
            return {term: df[term] for term in wanted if term in df}

    def _count(self, sample: Counter[tuple[str, str]], terms: set[str]) -> None:
        self._tracked = terms
        self._query = TermQuery(terms)
        self._df = _count_terms(sample, self._query)


def _count_terms(sample: Counter[tuple[str, str]], query: TermQuery) -> Counter[str]:
    """Document frequencies of the `query`'s terms over `sample`, reading each distinct
    abstract once."""
    df: Counter[str] = Counter()
    if not query:
        return df
    by_abstract: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (title, abstract), m in sample.items():
        by_abstract[abstract].append((title, m))
    count = df.get
    for abstract, titles in by_abstract.items():
        common = query.found(abstract)
        if len(titles) == 1 and titles[0][1] == 1:
            df.update(common | query.found(titles[0][0]))
            continue
        total = sum(m for _, m in titles)
        for term in common:
            df[term] = count(term, 0) + total
        for title, m in titles:
            for term in query.found(title) - common:
                df[term] = count(term, 0) + m
    return df


# Shared by every build in the process (the preview server rebuilds in one).
SAMPLE_FREQUENCIES = SampleFrequencies()


def cluster(papers: Sequence[Paper], index: TermIndex, min_size: int) -> dict[str, str]:
    """Paper key → cluster term, for the papers that land in a cluster of `min_size` or more.

    Each paper joins its best term, weighted by how many papers share it; clusters that end
    up too small are dissolved and their papers try again, until every cluster holds.
    """
    vectors = {p.key: index.vectors.get(p.key, {}) for p in papers}
    sizes: Counter[str] = Counter(t for v in vectors.values() for t in v)
    alive = {t for t, c in sizes.items() if c >= min_size}
    assigned: dict[str, str] = {}
    for round_ in range(MAX_ROUNDS):
        assigned = {}
        for key, vector in vectors.items():
            options = [(w * math.log1p(sizes[t]), t) for t, w in vector.items() if t in alive]
            if options:
                assigned[key] = max(options)[1]
        sizes = Counter(assigned.values())
        too_small = {t for t in alive if sizes[t] < min_size}
        if not too_small:
            break
        # Dissolve only the smallest clusters each round, so members of a barely-too-small
        # cluster can still gather around a shared term; the last rounds dissolve them all.
        smallest = min(sizes[t] for t in too_small)
        if round_ < MAX_ROUNDS - 2:
            too_small = {t for t in too_small if sizes[t] == smallest}
        alive -= too_small
    return {key: term for key, term in assigned.items() if sizes[term] >= min_size}


def cluster_label(term: str, surfaces: Counter[str]) -> str:
    """A readable label: the term's most common written form, capitalised."""
    surface = min(surfaces.items(), key=lambda item: (-item[1], item[0]))[0] if surfaces else term
    return surface[:1].upper() + surface[1:] if surface[:1].islower() else surface


# ---------------------------------------------------------------------------------------
# Assignment


@dataclass(slots=True)
class Assignment:
    """The outcome for a whole site: topic records, and each paper's topic slugs."""

    topics: dict[str, dict[str, str]] = field(default_factory=dict)
    papers: dict[str, list[str]] = field(default_factory=dict)


def topic_record(slug: str, name: str) -> dict[str, str]:
    """``{"slug", "name", "url"}`` for a topic."""
    return {"slug": slug, "name": name, "url": f"topics/{slug}/"}


def assign_topics(papers: Sequence[Paper], settings: TopicsSettings) -> Assignment:
    """Every paper's topics: rules first (unless ``mode = "auto"``), then clusters, then Other."""
    result = Assignment()
    unplaced: list[Paper] = []
    keys = [p.key for p in papers]  # a property that formats a string: read it once
    if settings.mode == "rules":
        matcher = taxonomy_matcher(settings.topics)
        for topic in settings.topics:
            result.topics[topic.slug] = topic_record(topic.slug, topic.name)
        slugs: dict[tuple[int, ...], list[str]] = {}
        for paper, key in zip(papers, keys, strict=True):
            chosen = matcher.choose(paper, settings)
            if chosen not in slugs:
                slugs[chosen] = [settings.topics[t].slug for t in chosen]
            result.papers[key] = list(slugs[chosen])
            if not chosen:
                unplaced.append(paper)
    else:
        unplaced = list(papers)
    if unplaced and (settings.mode == "auto" or settings.auto):
        _add_clusters(papers, unplaced, settings, result)
    for key in keys:
        if not result.papers.get(key):
            result.topics.setdefault(OTHER, topic_record(OTHER, "Other"))
            result.papers[key] = [OTHER]
    return result


def _add_clusters(
    papers: Sequence[Paper], unplaced: list[Paper], settings: TopicsSettings, result: Assignment
) -> None:
    index = term_index(papers, unplaced)
    clusters = cluster(unplaced, index, settings.auto_min_size)
    slugs: dict[str, str] = {}
    for term in sorted(set(clusters.values())):
        label = cluster_label(term, index.surfaces[term])
        base = slugify(label) or "topic"
        slug, n = base, 1
        while slug in result.topics or slug == OTHER:
            n += 1
            slug = f"{base}-{n}"
        result.topics[slug] = topic_record(slug, label)
        slugs[term] = slug
    for paper in unplaced:
        best = clusters.get(paper.key)
        if best is None:
            continue
        vector = index.vectors.get(paper.key, {})
        others = sorted(
            (t for t in vector if t in slugs and t != best), key=lambda t: (-vector[t], t)
        )
        chosen = [best, *others[: settings.max_topics - 1]] if settings.mode == "auto" else [best]
        result.papers[paper.key] = [slugs[t] for t in chosen]


def topic_counts(papers: Sequence[Paper]) -> list[dict[str, Any]]:
    """``site.data["topics"]``: every topic with papers, most papers first, Other last."""
    counts: Counter[str] = Counter()
    records: dict[str, dict[str, str]] = {}
    for paper in papers:
        for record in paper.data.get(NAME, {}).get("all", ()):
            counts[record["slug"]] += 1
            records[record["slug"]] = record
    ordered = sorted(records, key=lambda s: (s == OTHER, -counts[s], records[s]["name"]))
    return [{**records[s], "count": counts[s]} for s in ordered]


@hookimpl
def digest_papers(papers: list[Paper], site: Site) -> None:
    """Give every paper its topics and publish the topic list in ``site.data["topics"]``."""
    settings = settings_of(site)
    assignment = assign_topics(papers, settings)
    for paper in papers:
        records = [assignment.topics[s] for s in assignment.papers[paper.key]]
        paper.data[NAME] = {"primary": records[0], "all": records}
        names = [r["name"] for r in records if r["slug"] != OTHER]
        paper.data.setdefault("search", {})["topics"] = names
    site.data[NAME] = topic_counts(papers)


def topic_groups(papers: Iterable[Paper]) -> list[dict[str, Any]]:
    """Papers grouped by primary topic, each paper once, groups in order of their first
    paper; hidden papers are left out. For the home page: ``{"name", "url", "papers"}``."""
    groups: dict[str, dict[str, Any]] = {}
    for paper in papers:
        if paper.data.get("hidden"):
            continue
        primary = paper.data.get(NAME, {}).get("primary") or topic_record(OTHER, "Other")
        group = groups.setdefault(
            primary["slug"], {"name": primary["name"], "url": primary["url"], "papers": []}
        )
        group["papers"].append(paper)
    return list(groups.values())


@hookimpl
def digest_jinja_env(env: Any, site: Site) -> None:
    """Offer ``topic_groups(papers)`` to templates (the home page groups by topic with it)."""
    env.globals["topic_groups"] = topic_groups


@hookimpl
def digest_page_inputs(site: Site) -> None:
    """``topic_groups`` reads only the papers it is given."""


# ---------------------------------------------------------------------------------------
# Pages and feeds


def papers_by_topic(papers: Iterable[Paper]) -> dict[str, list[Paper]]:
    """Topic slug → its papers (primary or secondary), in site order."""
    by_topic: dict[str, list[Paper]] = defaultdict(list)
    for paper in papers:
        for record in paper.data.get(NAME, {}).get("all", ()):
            by_topic[record["slug"]].append(paper)
    return by_topic


def weekly_counts(papers: Iterable[Paper], site: Site, weeks: int) -> list[int] | None:
    """Papers per week for the `weeks` weeks ending at the build date (oldest first); None
    when no paper is dated within them."""
    counts = [0] * weeks
    for paper in papers:
        if paper.date is not None:
            age = (site.date - paper.date).days
            if 0 <= age < 7 * weeks:
                counts[weeks - 1 - age // 7] += 1
    return counts if weeks and any(counts) else None


def sparkline(counts: Sequence[int], label: str, width: int = 120, height: int = 24) -> Markup:
    """An inline SVG line of `counts`; only numbers we compute and the escaped `label`."""
    top = max(counts) or 1
    step = width / max(1, len(counts) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (c / top) * (height - 4):.1f}" for i, c in enumerate(counts)
    )
    title = escape(label)
    return Markup(
        f'<svg class="sparkline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<polyline fill="none" stroke="currentColor" stroke-width="1.5" points="{points}"/>'
        "</svg>"
    )


def index_entries(site: Site, settings: TopicsSettings) -> list[dict[str, Any]]:
    """One row per topic for the topics index: record, count, top papers, sparkline."""
    by_topic = papers_by_topic(site.papers)
    rows = []
    for topic in site.data.get(NAME, ()):
        papers = by_topic.get(topic["slug"], [])
        weeks = settings.sparkline_weeks
        counts = weekly_counts(papers, site, weeks) if weeks else None
        spark = None
        if counts:
            spark = sparkline(counts, f"{topic['name']}: {sum(counts)} papers in {weeks} weeks")
        rows.append({**topic, "top": papers[: settings.top_papers], "sparkline": spark})
    return rows


@hookimpl
def digest_pages(site: Site) -> list[Page]:
    """The topics index and each topic's paginated listing."""
    settings = settings_of(site)
    by_topic = papers_by_topic(site.papers)
    pages = [
        Page(
            "topics/",
            "topics.html",
            "Topics",
            {"topics": index_entries(site, settings), "weeks": settings.sparkline_weeks},
            nav="Topics",
            nav_weight=30,
            description="Every topic of the digest, with its papers.",
        )
    ]
    for topic in site.data.get(NAME, ()):
        base = topic["url"]
        papers = by_topic.get(topic["slug"], [])
        for url, chunk, number, total in paginate(papers, base, site.config.page_size):
            title = topic["name"] if number == 1 else f"{topic['name']} (page {number})"
            pages.append(
                Page(
                    url,
                    "topic.html",
                    title,
                    {
                        "topic": topic,
                        "papers": chunk,
                        "pagination": pagination(url, number, total),
                        "feed": f"{base}feed.xml" if settings.feeds else None,
                    },
                    description=f"{topic['count']} papers on {topic['name']}.",
                )
            )
    return pages


@hookimpl
def digest_build_done(site: Site, output: OutputDir) -> None:
    """Write an Atom feed (newest papers first) and a BibTeX file per topic:
    ``topics/<slug>/feed.xml`` and ``topics/<slug>/papers.bib``."""
    by_topic = papers_by_topic(site.papers)
    for topic in site.data.get(NAME, ()):
        url = topic["url"]
        title = f"{site.config.title}: {topic['name']}"
        papers = newest_first(by_topic.get(topic["slug"], []))
        output.write_text(f"{url}papers.bib", bibtex_file(site, papers, title))
        if settings_of(site).feeds:
            output.write_bytes(
                f"{url}feed.xml", atom_feed(site, papers, title, f"{url}feed.xml", url)
            )
