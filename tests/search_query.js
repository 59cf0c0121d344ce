#!/usr/bin/env node
// Query a built site's search index with lunr.js, as the search page does.
//
//   node tests/search_query.js [--first-only] <site>/search/manifest.json <query> [<query> …]
//       prints {"complete": bool, "answers": [<search result>, …]} (one answer per query)
//   node tests/search_query.js --dump [--first-only] <manifest>
//       prints the assembled index in lunr's serialized form (lunr.Index#toJSON)
//   node tests/search_query.js --bench <runs> <manifest> <query> [<query> …]
//       prints load and query timings in milliseconds (each query's first run, and the
//       median of the next ones), and the time the token set takes to build
//   node tests/search_query.js --check [--first-only] <manifest> <query> [<query> …]
//       answers each query with the engine's query and with lunr.js's own
//       lunr.Index#query on the same index; prints {"checked": N, "differences": [...]}
//       (refs, scores and match data must be identical)
//   node tests/search_query.js --reference <docs.json>
//       builds an index with lunr.js's own Builder from {"fields": [{name, boost}],
//       "docs": [{ref, <field>: text}]} and prints it serialized: the oracle for --dump
//   node tests/search_query.js --lunr-index <serialized.json> <query> [<query> …]
//       queries any serialized lunr index (e.g. one lunr.py wrote) with lunr.js
//
// Files named in the manifest are read relative to the site root (the manifest's parent
// folder's parent). Uses the theme's own engine (search-worker.js) and node_modules' lunr.
"use strict";
const fs = require("fs");
const path = require("path");

const REPO = path.resolve(__dirname, "..");
const lunr = require(path.join(REPO, "node_modules", "lunr", "lunr.js"));
const { createEngine } = require(path.join(REPO, "themes", "default", "static", "search-worker.js"));

function usage() {
  process.stderr.write("usage: search_query.js [--dump|--bench N] [--first-only] <manifest.json> [query …]\n");
  process.exit(2);
}

const args = process.argv.slice(2);
let mode = "query";
let runs = 0;
let firstOnly = false;
while (args.length && args[0].startsWith("--")) {
  const flag = args.shift();
  if (flag === "--dump") mode = "dump";
  else if (flag === "--bench") { mode = "bench"; runs = Number(args.shift()); }
  else if (flag === "--first-only") firstOnly = true;
  else if (flag === "--reference") mode = "reference";
  else if (flag === "--check") mode = "check";
  else if (flag === "--lunr-index") mode = "lunr-index";
  else usage();
}
if (!args.length) usage();

if (mode === "reference") {
  const spec = JSON.parse(fs.readFileSync(args[0], "utf8"));
  const index = lunr(function () {
    this.ref("ref");
    spec.fields.forEach((f) => this.field(f.name, { boost: f.boost }));
    spec.docs.forEach((d) => this.add(d));
  });
  process.stdout.write(JSON.stringify(index));
} else if (mode === "lunr-index") {
  const index = lunr.Index.load(JSON.parse(fs.readFileSync(args.shift(), "utf8")));
  const answers = args.map((q) => index.search(q).map((r) => ({ ref: r.ref, score: r.score })));
  process.stdout.write(JSON.stringify({ answers: answers }));
} else {
  main();
}

function main() {
  const manifestPath = path.resolve(args.shift());
  const root = path.dirname(path.dirname(manifestPath));
  const read = (rel) => fs.readFileSync(path.join(root, rel), "utf8");

  const engine = createEngine(lunr);
  const manifestText = fs.readFileSync(manifestPath, "utf8");
  const firstText = read(JSON.parse(manifestText).first);
  const restTexts = firstOnly ? [] : JSON.parse(manifestText).rest.map(read);

  function load(withRest) {
    const manifest = JSON.parse(manifestText);
    const first = JSON.parse(firstText);
    const rests = withRest ? restTexts.map((t) => JSON.parse(t)) : [];
    return engine.assemble(manifest, first, rests);
  }

  function median(values) {
    const sorted = values.slice().sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  }

  function time(fn) {
    const start = process.hrtime.bigint();
    const value = fn();
    return [Number(process.hrtime.bigint() - start) / 1e6, value];
  }

  // Milliseconds of CPU (user + system) `fn` took; with `time`, tells a busy machine apart.
  function cpuTime(fn) {
    const start = process.cpuUsage();
    const value = fn();
    const used = process.cpuUsage(start);
    return [(used.user + used.system) / 1000, value];
  }

  if (mode === "dump") {
    const index = load(!firstOnly).index;
    // Postings are built when lunr first reads them: read them all, as a query would.
    for (const term in index.invertedIndex) {
      for (const field of index.fields) void index.invertedIndex[term][field];
    }
    process.stdout.write(JSON.stringify(index));
  } else if (mode === "check") {
    const index = load(!firstOnly).index;
    const differences = [];
    let checked = 0;
    for (const q of args) {
      const parse = (query) => new lunr.QueryParser(q, query).parse();
      let theirs, ours;
      try {
        theirs = lunr.Index.prototype.query.call(index, parse);
      } catch (e) {
        if (!(e instanceof lunr.QueryParseError)) throw e;
        continue;
      }
      ours = index.query(parse);
      const view = (results) => results.map((r) => [r.ref, r.score, JSON.stringify(r.matchData.metadata)]);
      const [a, b] = [view(theirs), view(ours)];
      checked += 1;
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        const at = a.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(b[i]));
        differences.push({ query: q, lunr: a.length, ours: b.length, first: at, theirs: a[at], mine: b[at] });
      }
    }
    process.stdout.write(JSON.stringify({ checked: checked, differences: differences }));
  } else if (mode === "query") {
    const state = load(!firstOnly);
    const answers = args.map((q) => engine.search(state, q, 1000));
    process.stdout.write(JSON.stringify({ complete: state.complete, answers: answers }));
  } else {
    // The first load in a process is what a fresh worker pays (no JIT warm-up): "cold".
    const loads = { first: [], full: [] };
    const cpu = { first: [], full: [] };
    let first = null;
    let full = null;
    for (let i = 0; i < runs; i++) {
      let ms, cpuMs;
      [cpuMs, [ms, first]] = cpuTime(() => time(() => load(false)));
      loads.first.push(ms);
      cpu.first.push(cpuMs);
      if (!firstOnly) {
        [cpuMs, [ms, full]] = cpuTime(() => time(() => load(true)));
        loads.full.push(ms);
        cpu.full.push(cpuMs);
      }
    }
    const queryTimes = (state) => {
      const per = [];
      for (const q of args) {
        // The first run of a query computes its terms' field vector elements, which later
        // runs (a page re-runs queries while typing, and when the abstracts arrive) reuse.
        const firstMs = time(() => engine.search(state, q, 20))[0];
        const times = [];
        for (let i = 0; i < Math.max(runs, 5); i++) times.push(time(() => engine.search(state, q, 20))[0]);
        per.push({ query: q, median_ms: median(times), first_ms: firstMs, results: engine.search(state, q, 20).total });
      }
      return per;
    };
    const report = {
      load_first_cold_ms: loads.first[0],
      load_first_cold_cpu_ms: cpu.first[0],
      load_first_warm_ms: median(loads.first.slice(1).length ? loads.first.slice(1) : loads.first),
      queries_first: queryTimes(first),
    };
    if (!firstOnly) {
      // Built on first use, by the first query with a leading or inner wildcard or a fuzzy term.
      report.token_set_ms = time(() => full.index.tokenSet)[0];
      report.load_full_cold_ms = loads.full[0];
      report.load_full_cold_cpu_ms = cpu.full[0];
      report.load_full_warm_ms = median(loads.full.slice(1).length ? loads.full.slice(1) : loads.full);
      report.queries_full = queryTimes(full);
    }
    process.stdout.write(JSON.stringify(report));
  }
}
