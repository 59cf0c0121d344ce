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
  // A document's matched fields are kept in 3 bits each of an int32 (see `query`).
  var MAX_FIELDS = 7;
  var CONTEXT = typeof Symbol === "function" ? Symbol("context") : "_context";
  var DOC = typeof Symbol === "function" ? Symbol("doc") : "_doc";
  var FIELDS = typeof Symbol === "function" ? Symbol("fields") : "_fields";
  // The shard encoding this engine reads (digest/search.py FORMAT_VERSION).
  var FORMAT = 3;
  var NUMBER_OFFSET = 32;
  // How many field vector elements an index keeps once computed (8 bytes each).
  var WEIGHTS_KEPT = 4000000;
  var SURROGATES = 0xD800;
  var LOW_SURROGATES = 0xDC00;
  var SURROGATES_SIZE = 0x800;

  function createEngine(lunr) {
    // The search-time pipeline lunr.Builder serializes by default: the stemmer only.
    var SEARCH_PIPELINE = ["stemmer"];
    var REQUIRED = lunr.Query.presence.REQUIRED;
    var PROHIBITED = lunr.Query.presence.PROHIBITED;

    // Build the lunr.Index for the files loaded so far: `first` (the first tier: format,
    // fields and every shard's part) and `rests` (the abstract shards: all, or none yet).
    function assemble(manifest, first, rests) {
      if (first.format !== FORMAT) throw new Error("unknown search index format " + first.format);
      var fields = first.fields.map(function (f) { return f.name; });
      var boosts = first.fields.map(function (f) { return f.boost || 1; });
      if (fields.length > MAX_FIELDS) throw new Error("too many search fields");
      var docs = collectDocs(first.parts);
      // In document order, so every posting lists its documents in the order lunr would.
      var parts = first.parts.concat(rests.slice().sort(function (a, b) { return docs.base[a.id] - docs.base[b.id]; }));
      var store = collectPostings(fields, boosts, docs, parts);
      var index = new lunr.Index({
        fields: fields,
        invertedIndex: invertedIndex(store),
        fieldVectors: null,
        tokenSet: null,
        pipeline: lunr.Pipeline.load(SEARCH_PIPELINE)
      });
      // The field vectors and the token set are what lunr.Index.load would have made from
      // what lunr.Builder makes; `query` needs neither (but for leading or inner wildcards
      // and fuzzy terms), so they are made when first read.
      lazy(index, "fieldVectors", function () { return fieldVectors(store); });
      lazy(index, "tokenSet", function () { return trie(store.terms); });
      index.query = function (fn) { return query(store, index, fn); };
      return {
        index: index,
        // The best `limit` answers to `fn` (a lunr.Index#query function), and their number.
        top: function (fn, limit) { return top(store, index, fn, limit); },
        docs: docs.list,
        byRef: new Map(docs.list.map(function (d) { return [d.url, d]; })),
        complete: rests.length === manifest.rest.length
      };
    }

    function lazy(object, name, make) {
      Object.defineProperty(object, name, {
        configurable: true,
        enumerable: true,
        get: function () {
          var value = make();
          Object.defineProperty(object, name, { value: value, writable: true, enumerable: true, configurable: true });
          return value;
        }
      });
    }

    // The vocabulary (sorted) as a lunr.TokenSet: a plain trie, where lunr.TokenSet.fromArray
    // would merge equal suffixes. The merging costs three times as long, and is unsound:
    // it tells nodes apart by their edges' labels followed by their children's ids, which
    // collide when labels are digits, so depending on how many token sets were made before,
    // it can merge nodes that differ and expand "*" to terms that are in no document (and
    // lunr.Index#query then throws). A trie's nodes list their edges in the order a merged
    // set's would (insertion order), so terms expand in the same order.
    function trie(terms) {
      var root = new lunr.TokenSet();
      var path = [root];
      var previous = "";
      for (var i = 0; i < terms.length; i++) {
        var term = terms[i];
        var common = 0;
        while (common < term.length && common < previous.length && term[common] === previous[common]) common++;
        path.length = common + 1;
        var node = path[common];
        for (var c = common; c < term.length; c++) {
          var next = new lunr.TokenSet();
          node.edges[term[c]] = next;
          path.push(next);
          node = next;
        }
        node.final = true;
        previous = term;
      }
      return root;
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

    // What the query needs, in flat typed arrays: the vocabulary (sorted by UTF-16 code
    // units, the order of lunr's term indexes), and per field the field lengths and the
    // postings of every term: documents `docs[offsets[t]…offsets[t+1]]`, ascending, and
    // their term frequencies `tfs[…]`. The shards list terms per document; this turns them
    // around in two passes (count, then fill), so every array is allocated once.
    function collectPostings(fields, boosts, docs, parts) {
      var n = docs.refs.length;
      var fieldNumber = Object.create(null);
      fields.forEach(function (f, i) { fieldNumber[f] = i; });
      var seen = new Set();
      parts.forEach(function (part) {
        Object.keys(part.fields).forEach(function (field) {
          if (!(field in fieldNumber)) throw new Error("search shard has an unknown field " + field);
          part.fields[field].terms.forEach(function (term) { seen.add(term); });
        });
      });
      var terms = Array.from(seen).sort();
      var numberOf = new Map();
      terms.forEach(function (term, t) { numberOf.set(term, t); });
      var T = terms.length;
      var offsets = fields.map(function () { return new Int32Array(T + 1); });
      var lengths = fields.map(function () { return new Float64Array(n); });
      var work = [];
      parts.forEach(function (part) {
        var start = docs.base[part.id];
        if (start === undefined) throw new Error("search shard " + part.id + " is not in the index");
        Object.keys(part.fields).forEach(function (field) {
          var fi = fieldNumber[field];
          var encoded = part.fields[field];
          var local = encoded.terms.map(function (term) { return numberOf.get(term); });
          var counts = offsets[fi];
          var fieldLengths = lengths[fi];
          for (var i = 0; i < encoded.docs.length; i++) {
            var gaps = encoded.docs[i];
            fieldLengths[start + i] = encoded.lengths[i];
            for (var k = 0, t = 0; k < gaps.length; k++) {
              var c = gaps.charCodeAt(k);
              if (c >= SURROGATES) c = c < LOW_SURROGATES ? astral(c, gaps.charCodeAt(++k)) : c - SURROGATES_SIZE;
              t += c - NUMBER_OFFSET;
              counts[local[t] + 1]++;
            }
          }
          work.push(fi, start, encoded, local);
        });
        if (part.snippets) {
          part.snippets.forEach(function (s, i) { docs.list[start + i].snippet = s; });
        }
      });
      var postingDocs = [];
      var postingTfs = [];
      var average = [];
      fields.forEach(function (f, fi) {
        var o = offsets[fi];
        for (var t = 0; t < T; t++) o[t + 1] += o[t];
        postingDocs.push(new Int32Array(o[T]));
        postingTfs.push(new Int32Array(o[T]));
        var sum = 0;
        for (var d = 0; d < n; d++) sum += lengths[fi][d];
        average.push(sum / n);
      });
      var cursors = offsets.map(function (o) { return o.slice(0, T); });
      for (var w = 0; w < work.length; w += 4) {
        fillPostings(work[w + 1], work[w + 2], work[w + 3], cursors[work[w]], postingDocs[work[w]], postingTfs[work[w]]);
      }
      // lunr.idf: documentsWithTerm counts a document once per field holding the term.
      var idf = new Float64Array(T);
      for (var t = 0; t < T; t++) {
        var withTerm = 0;
        for (var fi = 0; fi < fields.length; fi++) withTerm += offsets[fi][t + 1] - offsets[fi][t];
        var x = (n - withTerm + 0.5) / (withTerm + 0.5);
        idf[t] = Math.log(1 + Math.abs(x));
      }
      return {
        n: n, fields: fields, boosts: boosts, refs: docs.refs, terms: terms, numberOf: numberOf,
        offsets: offsets, docs: postingDocs, tfs: postingTfs, lengths: lengths, average: average,
        idf: idf, scratch: null, weights: fields.map(function () { return new Map(); }), weighted: 0
      };
    }

    function fillPostings(start, encoded, local, cursor, docs, tfs) {
      for (var i = 0; i < encoded.docs.length; i++) {
        var gaps = encoded.docs[i];
        var frequencies = encoded.tfs[i];
        for (var k = 0, j = 0, t = 0; k < gaps.length; k++) {
          var c = gaps.charCodeAt(k);
          if (c >= SURROGATES) c = c < LOW_SURROGATES ? astral(c, gaps.charCodeAt(++k)) : c - SURROGATES_SIZE;
          t += c - NUMBER_OFFSET;
          var at = cursor[local[t]]++;
          docs[at] = start + i;
          if (frequencies) {
            c = frequencies.charCodeAt(j++);
            if (c >= SURROGATES) c = c < LOW_SURROGATES ? astral(c, frequencies.charCodeAt(j++)) : c - SURROGATES_SIZE;
            tfs[at] = c - NUMBER_OFFSET;
          } else {
            tfs[at] = 1;
          }
        }
      }
    }

    // The shards' numbers are characters (digest/search.py encode_numbers): n + 32, past
    // the surrogates for n ≥ 55,264, so a pair of surrogates for n ≥ 63,456.
    function astral(high, low) {
      return (high - SURROGATES) * 1024 + (low - LOW_SURROGATES) + 0x10000 - SURROGATES_SIZE;
    }

    // The element of a field vector for posting `p` (of term `t` in field `fi`), computed
    // as lunr.Builder#createFieldVectors does, operation for operation (same rounding).
    function weight(store, fi, t, p) {
      var tf = store.tfs[fi][p];
      var score = store.idf[t] * ((K1 + 1) * tf) / (K1 * (1 - B + B * (store.lengths[fi][store.docs[fi][p]] / store.average[fi])) + tf);
      score *= store.boosts[fi];
      score *= 1; // document boost
      return Math.round(score * 1000) / 1000;
    }

    // lunr's inverted index: term → {_index, <field>: {<ref>: metadata}}.
    function invertedIndex(store) {
      var Posting = postingType(store);
      var out = Object.create(null);
      for (var t = 0; t < store.terms.length; t++) out[store.terms[t]] = new Posting(t);
      return out;
    }

    // A posting's field is turned into lunr's {<ref>: metadata} the first time something
    // reads it (lunr's own query, a dump): the query below reads the typed arrays instead.
    function postingType(store) {
      function Posting(index) { this._index = index; }
      store.fields.forEach(function (field, fi) {
        Object.defineProperty(Posting.prototype, field, {
          enumerable: true,
          configurable: true,
          get: function () {
            var byRef = Object.create(null);
            var docs = store.docs[fi];
            for (var p = store.offsets[fi][this._index]; p < store.offsets[fi][this._index + 1]; p++) {
              byRef[store.refs[docs[p]]] = NO_METADATA;
            }
            Object.defineProperty(this, field, { value: byRef, enumerable: true });
            return byRef;
          }
        });
      });
      return Posting;
    }

    // lunr's field vectors ("field/ref" → lunr.Vector), in the order lunr.Index.load would
    // have them from the builder's serialization. A field without terms is never scored; the
    // first field's (empty) vector is kept so that negated queries ("-vision"), which walk
    // every vector, still see each document.
    function fieldVectors(store) {
      var F = store.fields.length;
      var elements = store.fields.map(function () { return new Array(store.n); });
      for (var t = 0; t < store.terms.length; t++) {
        for (var fi = 0; fi < F; fi++) {
          var docs = store.docs[fi];
          for (var p = store.offsets[fi][t]; p < store.offsets[fi][t + 1]; p++) {
            var list = elements[fi][docs[p]] || (elements[fi][docs[p]] = []);
            list.push(t, weight(store, fi, t, p));
          }
        }
      }
      var out = {};
      for (var d = 0; d < store.n; d++) {
        for (fi = 0; fi < F; fi++) {
          if (elements[fi][d] || fi === 0) {
            out[store.fields[fi] + "/" + store.refs[d]] = new lunr.Vector(elements[fi][d] || []);
          }
        }
      }
      return out;
    }

    // Where document `d` is in the posting of term `t` in field `fi`, or -1.
    function find(store, fi, t, d) {
      var docs = store.docs[fi];
      var lo = store.offsets[fi][t];
      var hi = store.offsets[fi][t + 1] - 1;
      while (lo <= hi) {
        var mid = (lo + hi) >> 1;
        if (docs[mid] < d) lo = mid + 1;
        else if (docs[mid] > d) hi = mid - 1;
        else return mid;
      }
      return -1;
    }

    // Per-document working arrays of `evaluate`, allocated once per index and left zeroed.
    function scratch(store) {
      if (!store.scratch) {
        store.scratch = {
          order: new Int32Array(store.n),
          fields: new Uint8Array(store.n),
          matched: new Int32Array(store.n),
          dots: store.fields.map(function () { return new Float64Array(store.n); })
        };
      }
      return store.scratch;
    }

    // A document set as lunr.Query needs them: COMPLETE, EMPTY, or a Uint8Array of members.
    var COMPLETE = "complete";
    var EMPTY = "empty";

    function intersect(a, b) {
      if (a === COMPLETE) return b;
      if (b === COMPLETE) return a;
      if (a === EMPTY || b === EMPTY) return EMPTY;
      var out = new Uint8Array(a.length);
      for (var i = 0; i < a.length; i++) out[i] = a[i] & b[i];
      return out;
    }

    function unionPosting(set, store, fi, t) {
      if (set === COMPLETE) return set;
      var out = set === EMPTY ? new Uint8Array(store.n) : set;
      var docs = store.docs[fi];
      for (var p = store.offsets[fi][t]; p < store.offsets[fi][t + 1]; p++) out[docs[p]] = 1;
      return out;
    }

    function contains(set, d) {
      return set === COMPLETE || (set !== EMPTY && set[d] === 1);
    }

    // lunr.Index#query's work, done exactly as lunr.js 2.3.9 does it (the same documents,
    // scores bit for bit, order and match data: tests/search_query.js --check compares them)
    // from the typed postings instead of lunr's objects. lunr builds a MatchData object per
    // matching document and field, keys everything by "field/ref" strings and sorts every
    // match, which is most of its time and garbage on a common word; here the per-document
    // work is arithmetic on typed arrays. Returns the matching documents in the order lunr
    // finds them (its tie-break), their scores, and what their match data is made from.
    function evaluate(store, index, fn) {
      var fields = store.fields;
      var F = fields.length;
      var q = new lunr.Query(fields);
      var queryVectors = fields.map(function () { return new lunr.Vector(); });
      var required = new Array(F);
      var prohibited = new Array(F);
      var collected = Object.create(null);
      // (field, term) pairs whose documents were collected, in lunr's order: what the
      // match data of a document is rebuilt from.
      var events = [];
      var work = scratch(store);
      // For each matching document, the fields it matched in (a bit each), and in the order
      // of their first match (3 bits a field: its number + 1): the order lunr sums the
      // fields' scores in. `matched` lists the documents in the order of their first match.
      var order = work.order;
      var seen = work.fields;
      var matched = work.matched;
      var count = 0;
      fn.call(q, q);
      try {
        for (var i = 0; i < q.clauses.length; i++) {
          var clause = q.clauses[i];
          var clauseMatches = EMPTY;
          var clauseFields = clause.fields.map(function (f) { return fields.indexOf(f); });
          var words = clause.usePipeline ? index.pipeline.runString(clause.term, { fields: clause.fields }) : [clause.term];
          for (var m = 0; m < words.length; m++) {
            clause.term = words[m];
            var expanded = expand(store, index, clause);
            if (expanded.length === 0 && clause.presence === REQUIRED) {
              for (var k = 0; k < clauseFields.length; k++) required[clauseFields[k]] = EMPTY;
              break;
            }
            for (var j = 0; j < expanded.length; j++) {
              var t = store.numberOf.get(expanded[j]);
              for (k = 0; k < clauseFields.length; k++) {
                var fi = clauseFields[k];
                if (clause.presence === REQUIRED) {
                  clauseMatches = unionPosting(clauseMatches, store, fi, t);
                  if (required[fi] === undefined) required[fi] = COMPLETE;
                }
                if (clause.presence === PROHIBITED) {
                  prohibited[fi] = unionPosting(prohibited[fi] || EMPTY, store, fi, t);
                  continue;
                }
                queryVectors[fi].upsert(t, clause.boost, add);
                var key = t * F + fi;
                if (collected[key]) continue;
                collected[key] = true;
                events.push(fi, t, expanded[j]);
                var docs = store.docs[fi];
                var bit = 1 << fi;
                for (var p = store.offsets[fi][t], end = store.offsets[fi][t + 1]; p < end; p++) {
                  var d = docs[p];
                  var mask = seen[d];
                  if (mask & bit) continue;
                  if (mask === 0) matched[count++] = d;
                  seen[d] = mask | bit;
                  order[d] = order[d] * 8 + fi + 1;
                }
              }
            }
          }
          if (clause.presence === REQUIRED) {
            for (k = 0; k < clauseFields.length; k++) required[clauseFields[k]] = intersect(required[clauseFields[k]], clauseMatches);
          }
        }
        var allRequired = COMPLETE;
        var allProhibited = EMPTY;
        for (fi = 0; fi < F; fi++) {
          if (required[fi]) allRequired = intersect(allRequired, required[fi]);
          if (prohibited[fi]) allProhibited = unionInto(allProhibited, prohibited[fi]);
        }
        var context = { store: store, events: events };
        if (q.isNegated()) return negated(store, allRequired, allProhibited, context);
        var magnitudes = queryVectors.map(function (v) { return v.magnitude(); });
        dotProducts(store, queryVectors, work.dots);
        var found = { docs: new Int32Array(count), scores: new Float64Array(count),
                      fields: new Int32Array(count), length: 0, context: context };
        for (i = 0; i < count; i++) {
          d = matched[i];
          if (!contains(allRequired, d) || contains(allProhibited, d)) continue;
          found.docs[found.length] = d;
          found.scores[found.length] = score(order[d], d, work.dots, magnitudes);
          found.fields[found.length++] = order[d];
        }
        return found;
      } finally {
        clear(work, count);
      }
    }

    // Zero what `evaluate` wrote in its working arrays (for the `count` documents matched).
    function clear(work, count) {
      var dots = work.dots;
      for (var i = 0; i < count; i++) {
        var d = work.matched[i];
        var mask = work.fields[d];
        for (var fi = 0; mask; fi++, mask >>= 1) if (mask & 1) dots[fi][d] = 0;
        work.order[d] = 0;
        work.fields[d] = 0;
      }
    }

    function add(a, b) { return a + b; }

    function unionInto(a, b) {
      if (a === EMPTY) return b;
      if (b === EMPTY) return a;
      if (a === COMPLETE || b === COMPLETE) return COMPLETE;
      var out = new Uint8Array(a.length);
      for (var i = 0; i < a.length; i++) out[i] = a[i] | b[i];
      return out;
    }

    // The index terms a clause stands for, in lunr's order: lunr intersects the token set
    // of the whole vocabulary (a trie, built in a good part of the load time) with the
    // clause's and lists the result depth first. A term without wildcard or edit distance
    // can only stand for itself; a prefix ("scal*", also what a word being typed is retried
    // as) stands for the terms it starts, found by bisection and put in that order. Only
    // the rest (leading or inner wildcards, fuzzy terms) build the token set.
    function expand(store, index, clause) {
      var term = clause.term;
      var star = term.indexOf(lunr.Query.wildcard);
      if (!("editDistance" in clause)) {
        if (star < 0) return store.numberOf.has(term) ? [term] : [];
        if (star === term.length - 1) return withPrefix(store.terms, term.slice(0, -1));
      }
      return index.tokenSet.intersect(lunr.TokenSet.fromClause(clause)).toArray();
    }

    function withPrefix(terms, prefix) {
      var lo = 0;
      var hi = terms.length;
      while (lo < hi) {
        var mid = (lo + hi) >> 1;
        if (terms[mid] < prefix) lo = mid + 1;
        else hi = mid;
      }
      var out = [];
      // (The intersection's root is never final: "*" stands for every term but "".)
      if (!prefix && terms[lo] === "") lo++;
      for (; lo < terms.length && terms[lo].startsWith(prefix); lo++) out.push(terms[lo]);
      return out.sort(tokenSetOrder);
    }

    // lunr.TokenSet#toArray's order: a node's word before its children's, and the children
    // popped from a stack, so in reverse of their edges' order, which is the order they
    // were inserted in (sorted by UTF-16 code unit) except that the digits, being array
    // indexes to JavaScript, come first.
    function tokenSetOrder(a, b) {
      var length = Math.min(a.length, b.length);
      for (var i = 0; i < length; i++) {
        var ca = a.charCodeAt(i);
        var cb = b.charCodeAt(i);
        if (ca !== cb) return edgeRank(cb) - edgeRank(ca);
      }
      return a.length - b.length;
    }

    function edgeRank(code) {
      return code >= 48 && code <= 57 ? code - 48 - 10 : code;
    }

    // lunr.Vector#dot of each field's query vector with every matching document's field
    // vector: over the query's terms in ascending term index, as lunr's dot walks them.
    function dotProducts(store, queryVectors, dots) {
      for (var fi = 0; fi < queryVectors.length; fi++) {
        var elements = queryVectors[fi].elements;
        var docs = store.docs[fi];
        var fieldDots = dots[fi];
        for (var e = 0; e < elements.length; e += 2) {
          var t = elements[e];
          var value = elements[e + 1];
          var start = store.offsets[fi][t];
          var weights = weightsOf(store, fi, t);
          for (var p = start, end = store.offsets[fi][t + 1]; p < end; p++) {
            fieldDots[docs[p]] += value * weights[p - start];
          }
        }
      }
    }

    // The field vector elements of a term's posting in a field (`weight`), kept once made:
    // a query is asked again at every keystroke, and common words are in many documents.
    function weightsOf(store, fi, t) {
      var cached = store.weights[fi].get(t);
      if (cached) return cached;
      var start = store.offsets[fi][t];
      var weights = new Float64Array(store.offsets[fi][t + 1] - start);
      for (var p = 0; p < weights.length; p++) weights[p] = weight(store, fi, t, start + p);
      if (store.weighted < WEIGHTS_KEPT) {
        store.weights[fi].set(t, weights);
        store.weighted += weights.length;
      }
      return weights;
    }

    // lunr's document score: each matched field's similarity, summed in first-match order.
    function score(packed, d, dots, magnitudes) {
      var first = 0;
      for (; packed; packed >>= 3) first = first * 8 + (packed & 7);
      var fi = (first & 7) - 1;
      var total = dots[fi][d] / magnitudes[fi] || 0;
      for (first >>= 3; first; first >>= 3) {
        fi = (first & 7) - 1;
        total += dots[fi][d] / magnitudes[fi] || 0;
      }
      return total;
    }

    // A query with only prohibited clauses: lunr returns every other document, score 0.
    function negated(store, allRequired, allProhibited, context) {
      var found = { docs: new Int32Array(store.n), scores: new Float64Array(store.n),
                    fields: new Int32Array(store.n), length: 0, context: context };
      for (var d = 0; d < store.n; d++) {
        if (contains(allRequired, d) && !contains(allProhibited, d)) found.docs[found.length++] = d;
      }
      return found;
    }

    // lunr.Index#query: every match, best first (Array#sort is stable: ties keep lunr's order).
    function query(store, index, fn) {
      var found = evaluate(store, index, fn);
      var results = [];
      for (var i = 0; i < found.length; i++) results.push(result(found, i));
      return results.sort(function (a, b) { return b.score - a.score; });
    }

    // The first `limit` of `query`'s answer, and how many there are, without sorting them
    // all: a heap keeps the best `limit` seen (ties: the earlier found is better).
    function top(store, index, fn, limit) {
      var found = evaluate(store, index, fn);
      var scores = found.scores;
      function worse(a, b) { return scores[a] < scores[b] || (scores[a] === scores[b] && a > b); }
      var heap = [];
      for (var i = 0; i < found.length; i++) {
        if (heap.length < limit) {
          // sift up: the root is the worst kept
          var at = heap.length;
          heap.push(i);
          while (at > 0) {
            var parent = (at - 1) >> 1;
            if (!worse(heap[at], heap[parent])) break;
            var swap = heap[at]; heap[at] = heap[parent]; heap[parent] = swap;
            at = parent;
          }
        } else if (limit > 0 && worse(heap[0], i)) {
          heap[0] = i;
          for (at = 0; ;) {
            var child = 2 * at + 1;
            if (child >= heap.length) break;
            if (child + 1 < heap.length && worse(heap[child + 1], heap[child])) child++;
            if (!worse(heap[child], heap[at])) break;
            swap = heap[at]; heap[at] = heap[child]; heap[child] = swap;
            at = child;
          }
        }
      }
      heap.sort(function (a, b) { return worse(a, b) ? 1 : -1; });
      return { total: found.length, results: heap.map(function (i) { return result(found, i); }) };
    }

    function result(found, i) {
      return new Result(found.context.store.refs[found.docs[i]], found.scores[i], found.context, found.docs[i], found.fields[i]);
    }

    // A result of `query`: lunr's {ref, score, matchData}, the match data made on first read.
    function Result(ref, score, context, doc, packed) {
      this.ref = ref;
      this.score = score;
      this[CONTEXT] = context;
      this[DOC] = doc;
      this[FIELDS] = packed;
    }
    Object.defineProperty(Result.prototype, "matchData", {
      configurable: true,
      enumerable: true,
      get: function () {
        var data = matchData(this[CONTEXT], this[DOC], this[FIELDS]);
        Object.defineProperty(this, "matchData", { value: data, writable: true, enumerable: true, configurable: true });
        return data;
      }
    });

    // The lunr.MatchData lunr would give document `d`: one per matched field, built from the
    // collected (field, term) pairs in order, combined in the fields' first-match order.
    function matchData(context, d, packed) {
      var digits = [];
      for (; packed; packed >>= 3) digits.push((packed & 7) - 1);
      var store = context.store;
      var events = context.events;
      var combined = null;
      for (var i = digits.length - 1; i >= 0; i--) {
        var fi = digits[i];
        var field = store.fields[fi];
        var data = null;
        for (var e = 0; e < events.length; e += 3) {
          if (events[e] !== fi || find(store, fi, events[e + 1], d) < 0) continue;
          if (data) data.add(events[e + 2], field, NO_METADATA);
          else data = new lunr.MatchData(events[e + 2], field, NO_METADATA);
        }
        if (combined) combined.combine(data);
        else combined = data;
      }
      return combined || new lunr.MatchData();
    }

    var NOTHING = { total: 0, results: [] };

    // The query's words without lunr syntax, for when lunr cannot parse it.
    function plainQuery(state, q, limit) {
      var tokens = lunr.tokenizer(q.replace(SYNTAX, " ")).map(function (t) { return lunr.trimmer(t); });
      tokens = tokens.filter(function (t) { return t.toString() !== ""; });
      if (!tokens.length) return NOTHING;
      return state.top(function (query) { query.term(tokens); }, limit);
    }

    // lunr's Index#search (its best `limit` results), except that a wildcard term with fewer
    // than two letters ("*", "a*"), which would expand to a good part of the vocabulary, is
    // left out.
    function runQuery(state, q, limit) {
      var parsed = new lunr.Query(state.index.fields);
      new lunr.QueryParser(q, parsed).parse();
      var clauses = parsed.clauses.filter(function (clause) {
        // (The parser keeps wildcards in the term, as TokenSet.fromString reads them.)
        return clause.term.indexOf("*") < 0 || clause.term.replace(/\*/g, "").length >= 2;
      });
      // (lunr answers a query without clauses with every document.)
      if (!clauses.length) return NOTHING;
      return state.top(function (query) { query.clauses = clauses; }, limit);
    }

    // Search `q` (lunr query syntax). A query lunr cannot parse (a stray ":" or "~") is
    // answered for its plain words instead; a plain query that finds nothing while its last
    // word is still being typed is retried as a prefix ("diffu" → "diffu*").
    function search(state, q, limit) {
      q = (q || "").trim();
      limit = limit || 50;
      var out = { query: q, total: 0, results: [], fallback: false, prefix: false, complete: state.complete };
      if (!q) return out;
      var found;
      try {
        found = runQuery(state, q, limit);
        if (!found.total && /\w{3}$/.test(q) && !/[:~^+*\-\\]/.test(q)) {
          found = runQuery(state, q + "*", limit);
          out.prefix = found.total > 0;
        }
      } catch (e) {
        if (!(e instanceof lunr.QueryParseError)) throw e;
        found = plainQuery(state, q, limit);
        out.fallback = true;
      }
      out.total = found.total;
      out.results = found.results.map(function (r) {
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

    // The term lunr indexes for a word (lunr.tokenizer lowercases, then trimmer, stemmer);
    // remembered, as the same titles and snippets are marked again at every keystroke.
    var terms = new Map();
    function termOf(word) {
      var term = terms.get(word);
      if (term === undefined) {
        if (terms.size > 100000) terms.clear();
        term = lunr.stemmer(lunr.trimmer(new lunr.Token(word.toLowerCase()))).toString();
        terms.set(word, term);
      }
      return term;
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
  // the most complete index so far.
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
            first = null; // never queried again: let its arrays go
            onReady(full);
          })
          .catch(function () { /* the abstracts stay unsearched; titles still work */ });
        return first;
      });
    });
    return {
      ready: firstReady,
      current: function () { return full || first; }
    };
  }

  // Answer a search message from the most complete index loaded. (Answers take a few
  // milliseconds even over every abstract, so no first-tier preview is sent before them.)
  function answerWith(engine, loader, message, post) {
    var result;
    try {
      result = engine.search(loader.current(), message.q, message.limit);
    } catch (e) {
      result = { query: message.q, total: 0, results: [], error: String(e && e.message || e) };
    }
    result.id = message.id;
    result.type = "results";
    post(result);
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
