// The search engine: turns the build's compact index shards into a lunr.js index and answers
// queries. One file, three hosts: a Web Worker (the search page's normal case), the page
// itself (browsers without workers) and Node (the test suite and the benchmark).
(function (global) {
  "use strict";

  // What lunr.Builder uses by default (lunr 2.3.9), kept here because the field vectors are
  // computed here rather than by the builder.
  var K1 = 1.2;
  var B = 0.75;
  // Metadata of a term in a document: none is indexed (no positions), so one shared empty
  // object serves every posting; lunr only ever reads its keys.
  var NO_METADATA = Object.freeze(Object.create(null));
  var SYNTAX = /[:~^+*\\]/g;
  // The shard encoding this engine reads (digest/search.py FORMAT_VERSION).
  var FORMAT = 2;

  function createEngine(lunr) {
    // The search-time pipeline lunr.Builder serializes by default: the stemmer only.
    var SEARCH_PIPELINE = ["stemmer"];

    // Build the lunr.Index for the files loaded so far: `first` (the first tier: format,
    // fields and every shard's part) and `rests` (the abstract shards: all, or none yet).
    function assemble(manifest, first, rests) {
      if (first.format !== FORMAT) throw new Error("unknown search index format " + first.format);
      var firsts = first.parts;
      var fields = first.fields.map(function (f) { return f.name; });
      var boosts = first.fields.map(function (f) { return f.boost || 1; });
      var docs = collectDocs(firsts);
      var postings = collectPostings(fields, docs, firsts, rests);
      // Default sort compares UTF-16 code units: the order lunr.TokenSet.Builder requires.
      var terms = Array.from(postings.terms).sort();
      var built = invert(fields, boosts, docs, postings, terms);
      var serialized = {
        version: lunr.version,
        fields: fields,
        fieldVectors: serializeVectors(fields, docs.refs, built.vectors),
        invertedIndex: built.invertedIndex,
        pipeline: SEARCH_PIPELINE
      };
      return {
        index: lunr.Index.load(serialized),
        docs: docs.list,
        byRef: new Map(docs.list.map(function (d) { return [d.url, d]; })),
        complete: rests.length === manifest.rest.length
      };
    }

    // Every document of the first tier, numbered in order; `base[part.id]` is the number of
    // a part's first document.
    function collectDocs(firsts) {
      var refs = [];
      var list = [];
      var base = Object.create(null);
      firsts.forEach(function (part) {
        base[part.id] = refs.length;
        part.refs.forEach(function (ref, i) {
          var d = part.docs[i];
          refs.push(ref);
          list.push({ url: ref, title: d[0], date: d[1], topics: d[2], snippet: "" });
        });
      });
      return { refs: refs, list: list, base: base };
    }

    // Field lengths and term counts per document, and for each field a map term →
    // [document, tf, …] in document order (the shards list terms per document; lunr wants
    // documents per term). Two passes, so that every list is allocated at its final size.
    function collectPostings(fields, docs, firsts, rests) {
      var n = docs.refs.length;
      var lengths = Object.create(null);
      var counts = Object.create(null);
      var slotsByField = Object.create(null);
      var terms = new Set();
      fields.forEach(function (f) {
        lengths[f] = new Float64Array(n);
        counts[f] = new Int32Array(n);
        slotsByField[f] = new Map();
      });
      // In document order, so every posting lists its documents in the order lunr would.
      var parts = firsts.concat(rests.slice().sort(function (a, b) { return docs.base[a.id] - docs.base[b.id]; }));
      var work = [];
      parts.forEach(function (part) {
        var start = docs.base[part.id];
        if (start === undefined) throw new Error("search shard " + part.id + " is not in the index");
        Object.keys(part.fields).forEach(function (field) {
          var encoded = part.fields[field];
          var fieldSlots = slotsByField[field];
          if (!fieldSlots) throw new Error("search shard has an unknown field " + field);
          var slots = encoded.terms.map(function (term) {
            var slot = fieldSlots.get(term);
            if (!slot) {
              fieldSlots.set(term, (slot = { size: 0, fill: 0, list: null }));
              terms.add(term);
            }
            return slot;
          });
          var fieldLengths = lengths[field];
          var fieldCounts = counts[field];
          for (var i = 0; i < encoded.docs.length; i++) {
            var gaps = encoded.docs[i];
            fieldLengths[start + i] = encoded.lengths[i];
            fieldCounts[start + i] = gaps.length;
            for (var k = 0, t = 0; k < gaps.length; k++) {
              t += gaps[k];
              slots[t].size += 2;
            }
          }
          work.push(start, encoded, slots);
        });
        if (part.snippets) {
          part.snippets.forEach(function (s, i) { docs.list[start + i].snippet = s; });
        }
      });
      var postings = Object.create(null);
      fields.forEach(function (f) {
        var lists = (postings[f] = new Map());
        slotsByField[f].forEach(function (slot, term) {
          slot.list = new Array(slot.size);
          lists.set(term, slot.list);
        });
      });
      for (var w = 0; w < work.length; w += 3) fillPostings(work[w], work[w + 1], work[w + 2]);
      return { lengths: lengths, counts: counts, postings: postings, terms: terms };
    }

    function fillPostings(start, encoded, slots) {
      for (var i = 0; i < encoded.docs.length; i++) {
        var gaps = encoded.docs[i];
        var tfs = encoded.tfs[i];
        for (var k = 0, t = 0; k < gaps.length; k++) {
          t += gaps[k];
          var slot = slots[t];
          slot.list[slot.fill++] = start + i;
          slot.list[slot.fill++] = tfs ? tfs[k] : 1;
        }
      }
    }

    // lunr's inverted index (term → {_index, field → {ref → metadata}}) and the BM25 field
    // vectors, computed as lunr.Builder#createFieldVectors computes them.
    function invert(fields, boosts, docs, postings, terms) {
      var n = docs.refs.length;
      var average = [];
      var vectors = [];
      var getPostings = fields.map(function (f) {
        var sum = 0;
        var fieldLengths = postings.lengths[f];
        for (var i = 0; i < n; i++) sum += fieldLengths[i];
        average.push(sum / n);
        vectors.push(new Array(n));
        return postings.postings[f].get.bind(postings.postings[f]);
      });
      var Posting = postingType(fields, getPostings, docs.refs, terms);
      var cursors = fields.map(function () { return new Int32Array(n); });
      var invertedIndex = new Array(terms.length);
      for (var ti = 0; ti < terms.length; ti++) {
        var term = terms[ti];
        var fi, list, k;
        var withTerm = 0;
        for (fi = 0; fi < fields.length; fi++) {
          list = getPostings[fi](term);
          if (list) withTerm += list.length / 2;
        }
        // lunr.idf: documentsWithTerm counts a document once per field holding the term.
        var x = (n - withTerm + 0.5) / (withTerm + 0.5);
        var idf = Math.log(1 + Math.abs(x));
        for (fi = 0; fi < fields.length; fi++) {
          list = getPostings[fi](term);
          if (!list) continue;
          var fieldLengths = postings.lengths[fields[fi]];
          var avg = average[fi];
          var boost = boosts[fi];
          var fieldVectors = vectors[fi];
          var fieldCounts = postings.counts[fields[fi]];
          var cursor = cursors[fi];
          for (k = 0; k < list.length; k += 2) {
            var d = list[k];
            var tf = list[k + 1];
            // lunr.Builder#createFieldVectors, operation for operation (same rounding).
            var score = idf * ((K1 + 1) * tf) / (K1 * (1 - B + B * (fieldLengths[d] / avg)) + tf);
            score *= boost;
            score *= 1; // document boost
            var elements = fieldVectors[d] || (fieldVectors[d] = new Array(2 * fieldCounts[d]));
            var at = cursor[d];
            elements[at] = ti;
            elements[at + 1] = Math.round(score * 1000) / 1000;
            cursor[d] = at + 2;
          }
        }
        invertedIndex[ti] = [term, new Posting(ti)];
      }
      return { invertedIndex: invertedIndex, vectors: vectors };
    }

    // lunr's posting of a term: {_index, <field>: {<ref>: metadata}}. Each field's documents
    // are turned into that object the first time lunr reads it: most terms are never
    // queried, and building every one would be most of the loading time.
    function postingType(fields, getPostings, refs, terms) {
      function Posting(index) { this._index = index; }
      fields.forEach(function (field, fi) {
        Object.defineProperty(Posting.prototype, field, {
          enumerable: true,
          configurable: true,
          get: function () {
            var list = getPostings[fi](terms[this._index]);
            var byRef = NO_METADATA;
            if (list) {
              byRef = Object.create(null);
              for (var k = 0; k < list.length; k += 2) byRef[refs[list[k]]] = NO_METADATA;
            }
            Object.defineProperty(this, field, { value: byRef, enumerable: true });
            return byRef;
          }
        });
      });
      return Posting;
    }

    // lunr's serialized fieldVectors: ["field/ref", elements] in the builder's order.
    function serializeVectors(fields, refs, vectors) {
      var out = [];
      for (var d = 0; d < refs.length; d++) {
        for (var fi = 0; fi < fields.length; fi++) {
          var elements = vectors[fi][d];
          // A field without terms is never scored; the first field's (empty) vector is kept so
          // that negated queries ("-vision"), which walk every vector, still see each document.
          if (elements || fi === 0) out.push([fields[fi] + "/" + refs[d], elements || []]);
        }
      }
      return out;
    }

    // The query's words without lunr syntax, for when lunr cannot parse it.
    function plainQuery(index, q) {
      var tokens = lunr.tokenizer(q.replace(SYNTAX, " ")).map(function (t) { return lunr.trimmer(t); });
      tokens = tokens.filter(function (t) { return t.toString() !== ""; });
      if (!tokens.length) return [];
      return index.query(function (query) { query.term(tokens); });
    }

    // lunr's Index#search, except that a wildcard term with fewer than two letters ("*",
    // "a*"), which would expand to a good part of the vocabulary, is left out.
    function runQuery(index, q) {
      var parsed = new lunr.Query(index.fields);
      new lunr.QueryParser(q, parsed).parse();
      var clauses = parsed.clauses.filter(function (clause) {
        // (The parser keeps wildcards in the term, as TokenSet.fromString reads them.)
        return clause.term.indexOf("*") < 0 || clause.term.replace(/\*/g, "").length >= 2;
      });
      // (lunr answers a query without clauses with every document.)
      if (!clauses.length) return [];
      return index.query(function (query) { query.clauses = clauses; });
    }

    // Search `q` (lunr query syntax). A query lunr cannot parse (a stray ":" or "~") is
    // answered for its plain words instead; a plain query that finds nothing while its last
    // word is still being typed is retried as a prefix ("diffu" → "diffu*").
    function search(state, q, limit) {
      q = (q || "").trim();
      var out = { query: q, total: 0, results: [], fallback: false, prefix: false, complete: state.complete };
      if (!q) return out;
      var results;
      try {
        results = runQuery(state.index, q);
        if (!results.length && /\w{3}$/.test(q) && !/[:~^+*\-\\]/.test(q)) {
          results = runQuery(state.index, q + "*");
          out.prefix = results.length > 0;
        }
      } catch (e) {
        if (!(e instanceof lunr.QueryParseError)) throw e;
        results = plainQuery(state.index, q);
        out.fallback = true;
      }
      out.total = results.length;
      out.results = results.slice(0, limit || 50).map(function (r) {
        var d = state.byRef.get(r.ref);
        var terms = Object.keys(r.matchData.metadata);
        return {
          url: r.ref,
          score: Math.round(r.score * 1000) / 1000,
          title: d.title,
          date: d.date,
          topics: d.topics,
          snippet: d.snippet,
          terms: terms,
          marks: { title: marks(d.title, terms), snippet: marks(d.snippet, terms) }
        };
      });
      return out;
    }

    // The term lunr indexes for a word (lunr.tokenizer lowercases, then trimmer, stemmer).
    function termOf(word) {
      return lunr.stemmer(lunr.trimmer(new lunr.Token(word.toLowerCase()))).toString();
    }

    // Where the words of `text` that lunr indexes as one of `terms` are: [start, end, …]
    // offsets of each word without the punctuation lunr trims off.
    function marks(text, terms) {
      var out = [];
      if (!text || !terms.length) return out;
      var wanted = new Set(terms);
      var re = /[^\s\-]+/g;
      var m;
      while ((m = re.exec(text))) {
        var word = m[0];
        if (!wanted.has(termOf(word))) continue;
        var lower = word.toLowerCase();
        if (lower.length !== word.length) {
          out.push(m.index, m.index + word.length);
          continue;
        }
        var lead = /^\W*/.exec(lower)[0].length;
        var core = lower.slice(lead).replace(/\W+$/, "");
        out.push(m.index + lead, m.index + lead + (core.length || word.length - lead));
      }
      return out;
    }

    return { assemble: assemble, search: search, termOf: termOf };
  }

  // Fetches the manifest, the first tier, then (in the background) the rest. `current()` is
  // the most complete index so far; `first()` the first tier's, kept for quick previews.
  // `fetchJSON(url)` returns a promise of parsed JSON.
  function createLoader(engine, fetchJSON, manifestUrl, rootUrl, onReady) {
    var first = null;
    var full = null;
    var firstReady = fetchJSON(manifestUrl).then(function (manifest) {
      return fetchJSON(rootUrl + manifest.first).then(function (tier) {
        first = engine.assemble(manifest, tier, []);
        onReady(first);
        if (!manifest.rest.length) return first;
        Promise.all(manifest.rest.map(function (path) { return fetchJSON(rootUrl + path); }))
          .then(function (rests) {
            full = engine.assemble(manifest, tier, rests);
            onReady(full);
          })
          .catch(function () { /* the abstracts stay unsearched; titles still work */ });
        return first;
      });
    });
    return {
      ready: firstReady,
      current: function () { return full || first; },
      first: function () { return first; }
    };
  }

  // Answer a search message from the best index loaded; when that is the full index, first
  // post a preview from the first tier (cheap) since a common word can take the full index
  // a while. The page shows the preview only if the full answer is late.
  function answerWith(engine, loader, message, post) {
    var state = loader.current();
    var first = loader.first();
    function reply(index, partial) {
      var result;
      try {
        result = engine.search(index, message.q, message.limit);
      } catch (e) {
        result = { query: message.q, total: 0, results: [], error: String(e && e.message || e) };
      }
      result.id = message.id;
      result.type = "results";
      result.partial = partial;
      post(result);
    }
    if (state !== first) reply(first, true);
    reply(state, false);
  }

  var api = { createEngine: createEngine, createLoader: createLoader, answerWith: answerWith };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
    return;
  }
  var isWorker = typeof WorkerGlobalScope !== "undefined" && global instanceof WorkerGlobalScope;
  if (!isWorker) {
    global.DigestSearch = api;
    return;
  }

  // The worker's side of the page protocol: "init" {manifest, root, lunr} once, then
  // "search" {id, q, limit}; answers "ready" {complete} and "results" {id, ...}.
  var engine = null;
  var loader = null;
  var pending = null;

  function fetchJSON(url) {
    return fetch(url).then(function (r) {
      if (!r.ok) throw new Error(url + ": HTTP " + r.status);
      return r.json();
    });
  }

  function answer(message) {
    if (!loader || !loader.current()) {
      pending = message;
      return;
    }
    answerWith(engine, loader, message, function (result) { global.postMessage(result); });
  }

  global.onmessage = function (event) {
    var message = event.data;
    if (message.type === "init" && !loader) {
      global.importScripts(message.lunr);
      engine = createEngine(global.lunr);
      loader = createLoader(engine, fetchJSON, message.manifest, message.root, function (state) {
        global.postMessage({ type: "ready", complete: state.complete, documents: state.docs.length });
        if (pending) {
          var next = pending;
          pending = null;
          answer(next);
        }
      });
      loader.ready.catch(function (e) {
        global.postMessage({ type: "error", message: String(e && e.message || e) });
      });
    } else if (message.type === "search") {
      answer(message);
    }
  };
})(typeof self !== "undefined" ? self : this);
