// The search page: searches as you type, keeps the query in the URL, marks matched words.
// The index is loaded and queried in a Web Worker (search-worker.js) so typing never waits
// for it; without worker support the same engine runs in the page. Text from the index is
// untrusted: it reaches the page only through textContent.
(function () {
  "use strict";
  var box = document.getElementById("search");
  var form = document.getElementById("search-form");
  var input = document.getElementById("q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  if (!box || !form || !input || !status || !list) return;

  var DEBOUNCE_MS = 120;
  var LIMIT = 50;
  var SEPARATOR = /[\s\-]+/;
  function absolute(rel) { return new URL(rel, document.baseURI).href; }
  var rootUrl = absolute(box.getAttribute("data-root") || "./");
  var config = {
    manifest: absolute(box.getAttribute("data-manifest")),
    root: rootUrl,
    lunr: absolute(box.getAttribute("data-lunr")),
    worker: absolute(box.getAttribute("data-worker"))
  };

  // ---- the engine: in a worker, or in the page when workers are unavailable ----

  var backend = null;
  var complete = false;
  var loaded = false;
  var failed = false;
  var lastId = 0;

  function onMessage(message) {
    if (message.type === "ready") {
      loaded = true;
      complete = message.complete;
      // The abstracts arrived: answer the current query again, now over everything.
      if (input.value.trim()) search(input.value, false);
    } else if (message.type === "results") {
      if (message.id === lastId) render(message);
    } else if (message.type === "error") {
      failed = true;
      setStatus("Search is unavailable: the index could not be loaded.");
    }
  }

  function startWorker() {
    var worker = new Worker(config.worker);
    worker.onmessage = function (event) { onMessage(event.data); };
    worker.onerror = function (event) {
      // A worker that cannot start (blocked, unsupported) falls back to the page.
      if (event && event.preventDefault) event.preventDefault();
      worker.terminate();
      if (!loaded) backend = startInPage();
    };
    worker.postMessage({ type: "init", manifest: config.manifest, root: config.root, lunr: config.lunr });
    return function (message) { worker.postMessage(message); };
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function startInPage() {
    var queued = null;
    var engine = null;
    var loader = null;
    function fetchJSON(url) {
      return fetch(url).then(function (r) {
        if (!r.ok) throw new Error(url + ": HTTP " + r.status);
        return r.json();
      });
    }
    function answer(message) {
      if (!loader || !loader.current()) { queued = message; return; }
      window.DigestSearch.answerWith(engine, loader, message, onMessage);
    }
    loadScript(config.lunr)
      .then(function () { return loadScript(config.worker); })
      .then(function () {
        engine = window.DigestSearch.createEngine(window.lunr);
        loader = window.DigestSearch.createLoader(engine, fetchJSON, config.manifest, config.root,
          function (state) {
            onMessage({ type: "ready", complete: state.complete });
            if (queued) { var next = queued; queued = null; answer(next); }
          });
        return loader.ready;
      })
      .catch(function () { onMessage({ type: "error" }); });
    return answer;
  }

  function ensureBackend() {
    if (backend) return;
    try {
      backend = typeof Worker === "function" ? startWorker() : startInPage();
    } catch (e) {
      backend = startInPage();
    }
  }

  // ---- rendering ----

  function setStatus(text) { status.textContent = text; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // Append `text` to `parent`, wrapping in <mark> the [start, end, …] ranges the engine found
  // for the words the result matched.
  function appendMarked(parent, text, ranges) {
    var pos = 0;
    for (var i = 0; ranges && i + 1 < ranges.length; i += 2) {
      if (ranges[i] < pos || ranges[i + 1] > text.length) continue;
      parent.appendChild(document.createTextNode(text.slice(pos, ranges[i])));
      parent.appendChild(el("mark", null, text.slice(ranges[i], ranges[i + 1])));
      pos = ranges[i + 1];
    }
    parent.appendChild(document.createTextNode(text.slice(pos)));
  }

  function safeHref(url) {
    // Result URLs are site paths the build made (papers/<slug>/); anything else is dropped.
    return /^[A-Za-z0-9._~\/-]+$/.test(url) && url.charAt(0) !== "/" ? rootUrl + url : null;
  }

  var active = -1;

  function render(answer) {
    list.textContent = "";
    active = -1;
    input.removeAttribute("aria-activedescendant");
    var q = answer.query;
    if (!q) { setStatus(""); return; }
    if (answer.error) { setStatus("The search failed for “" + q + "”: " + answer.error); return; }
    var note = answer.complete ? "" : " in titles, authors and topics (abstracts to come)";
    if (!answer.total) {
      setStatus("No results for “" + q + "”" + note + ". Check the spelling, use fewer words, " +
        "or try a prefix such as scal*.");
      return;
    }
    var summary = answer.total === 1 ? "1 result" : answer.total + " results";
    if (answer.fallback) summary += " for the plain words of “" + q + "” (the query syntax was not understood)";
    else if (answer.prefix) summary += " for words starting with “" + q.split(SEPARATOR).pop() + "”";
    else summary += " for “" + q + "”";
    if (answer.total > answer.results.length) summary += ", showing the first " + answer.results.length;
    setStatus(summary + note + ".");
    answer.results.forEach(function (r, i) {
      var li = el("li");
      li.id = "result-" + i;
      var href = safeHref(r.url);
      var title = el(href ? "a" : "span", "result-title");
      if (href) title.href = href;
      appendMarked(title, r.title, r.marks && r.marks.title);
      li.appendChild(title);
      var meta = [r.date].concat(r.topics || []).filter(Boolean).join(" · ");
      if (meta) li.appendChild(el("div", "meta", meta));
      if (r.snippet) {
        var snippet = el("p", "snippet");
        appendMarked(snippet, r.snippet, r.marks && r.marks.snippet);
        li.appendChild(snippet);
      }
      list.appendChild(li);
    });
  }

  // The result ↓/↑ picked: marked with aria-current (aria-selected is not allowed on list
  // items); the stylesheet outlines it.
  function select(index) {
    var items = list.children;
    if (!items.length) return;
    var previous = items[active];
    if (previous) previous.removeAttribute("aria-current");
    active = Math.max(-1, Math.min(index, items.length - 1));
    if (active < 0) { input.removeAttribute("aria-activedescendant"); return; }
    var item = items[active];
    item.setAttribute("aria-current", "true");
    input.setAttribute("aria-activedescendant", item.id);
    if (item.scrollIntoView) item.scrollIntoView({ block: "nearest" });
  }

  // ---- the query: typing, the URL and history ----

  // Typing after a committed search (page load, Enter, back/forward) starts a new history
  // entry; further typing replaces it, so Back returns to the previous search, not a letter.
  var committed = true;
  var timer = null;

  function urlFor(q) {
    var url = new URL(window.location.href);
    if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
    return url.href;
  }

  function remember(q) {
    var href = urlFor(q);
    if (href === window.location.href) return;
    if (committed) history.pushState({ q: q }, "", href);
    else history.replaceState({ q: q }, "", href);
    committed = false;
  }

  function search(raw, updateUrl) {
    var q = raw.trim();
    if (updateUrl) remember(q);
    if (!q) { render({ query: "", total: 0, results: [] }); return; }
    ensureBackend();
    if (failed) return;
    if (!loaded) setStatus("Loading the search index…");
    lastId += 1;
    backend({ type: "search", id: lastId, q: q, limit: LIMIT });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(input.value, true); }, DEBOUNCE_MS);
  });
  input.addEventListener("focus", ensureBackend);
  input.addEventListener("keydown", function (event) {
    if (event.key === "ArrowDown") { event.preventDefault(); select(active + 1); }
    else if (event.key === "ArrowUp") { event.preventDefault(); select(active - 1); }
    else if (event.key === "Escape" && active >= 0) { event.preventDefault(); select(-1); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearTimeout(timer);
    var item = active >= 0 ? list.children[active] : null;
    var link = item && item.querySelector("a");
    if (link) { window.location.href = link.href; return; }
    search(input.value, true);
    committed = true;
  });
  window.addEventListener("popstate", function () {
    clearTimeout(timer);
    var q = new URL(window.location.href).searchParams.get("q") || "";
    input.value = q;
    committed = true;
    search(q, false);
  });

  box.hidden = false;
  var initial = new URL(window.location.href).searchParams.get("q");
  if (initial) {
    input.value = initial;
    search(initial, false);
  }
})();
