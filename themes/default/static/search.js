// Client-side search over the prebuilt lunr index. Loaded only on the search page.
(function () {
  "use strict";
  var script = document.getElementById("search-script");
  var input = document.getElementById("q");
  var status = document.getElementById("search-status");
  var list = document.getElementById("search-results");
  var root = script.getAttribute("data-root");
  var loading = null;
  var index = null;
  var docs = null;

  function load() {
    if (!loading) {
      loading = fetch(script.getAttribute("data-manifest"))
        .then(function (r) { return r.json(); })
        .then(function (manifest) {
          return Promise.all([
            fetch(root + manifest.index).then(function (r) { return r.json(); }),
            fetch(root + manifest.documents).then(function (r) { return r.json(); })
          ]);
        })
        .then(function (parts) {
          index = lunr.Index.load(parts[0]);
          docs = {};
          parts[1].forEach(function (d) { docs[d.id] = d; });
        });
    }
    return loading;
  }

  function plainQuery(q) {
    return q.replace(/[:~^+\-*]/g, " ").trim();
  }

  function run(q) {
    try {
      return index.search(q);
    } catch (e) {
      // A lunr syntax error (a stray ":" or "~") falls back to the plain terms.
      var plain = plainQuery(q);
      return plain ? index.search(plain) : [];
    }
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function render(q, results) {
    list.textContent = "";
    if (!q) { status.textContent = ""; return; }
    status.textContent = results.length ? results.length + " results" : "No results for “" + q + "”.";
    results.slice(0, 50).forEach(function (r) {
      var d = docs[r.ref];
      var li = el("li");
      var a = el("a", null, d.title);
      a.href = root + d.url;
      li.appendChild(a);
      var meta = [d.date, d.authors].filter(Boolean).join(" · ");
      if (meta) li.appendChild(el("div", "meta", meta));
      if (d.snippet) li.appendChild(el("p", "snippet", d.snippet));
      list.appendChild(li);
    });
  }

  var timer = null;
  function onInput() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      var url = new URL(window.location.href);
      if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
      load().then(function () { render(q, q ? run(q) : []); });
    }, 120);
  }

  input.addEventListener("input", onInput);
  var initial = new URL(window.location.href).searchParams.get("q");
  if (initial) { input.value = initial; onInput(); }
})();
