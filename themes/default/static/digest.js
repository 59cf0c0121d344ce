// Reader conveniences, kept in this browser's localStorage (no account, nothing sent):
// papers new since the last visit are marked, papers can be saved to a reading list, and
// citations copied. The site works without this file; its buttons stay hidden then.
(function () {
  "use strict";
  // The site root, absolute ("../.." from a nested page becomes https://host/digest/).
  var root = new URL((document.body.getAttribute("data-root") || ".").replace(/\/?$/, "/"),
    location.href);
  // One site per namespace, so two digests on one host keep separate lists.
  var ns = "digest:" + root.pathname + ":";
  var SEEN_LIMIT = 5000;

  function load(store, name, fallback) {
    try {
      var value = store.getItem(ns + name);
      return value === null ? fallback : JSON.parse(value);
    } catch (e) {
      return fallback;  // storage disabled or corrupt: behave as on a first visit
    }
  }
  function save(store, name, value) {
    try { store.setItem(ns + name, JSON.stringify(value)); } catch (e) { /* full or disabled */ }
  }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }
  function keyOf(node) {
    var holder = node.closest("[data-key]");
    return holder ? holder.getAttribute("data-key") : null;
  }

  // New since the last visit: the keys seen in earlier sessions are kept; within one
  // session the marks stay put however often the reader reloads.
  function markNew() {
    var cards = document.querySelectorAll("article.card[data-key]");
    if (!cards.length) return;
    var previous = load(sessionStorage, "previous", undefined);
    if (previous === undefined) {
      previous = load(localStorage, "seen", null);
      save(sessionStorage, "previous", previous);
    }
    var before = previous ? new Set(previous) : null;
    var seen = load(localStorage, "seen", []) || [];
    var known = new Set(seen);
    var fresh = 0;
    cards.forEach(function (card) {
      var key = card.getAttribute("data-key");
      if (before && !before.has(key)) {
        fresh += 1;
        card.classList.add("is-new");
        var meta = card.querySelector(".meta");
        if (meta) meta.insertBefore(el("span", "badge new", "New"), meta.firstChild);
      }
      if (!known.has(key)) { known.add(key); seen.push(key); }
    });
    save(localStorage, "seen", seen.slice(-SEEN_LIMIT));
    var intro = document.querySelector(".intro");
    if (intro && fresh) {
      intro.appendChild(el("p", "new-note", fresh + (fresh === 1 ? " paper is" : " papers are") +
        " new since your last visit, marked “New”."));
    }
  }

  function savedKeys() { return load(localStorage, "saved", []) || []; }

  function setPressed(button, on) {
    button.setAttribute("aria-pressed", on ? "true" : "false");
    button.textContent = on ? "Saved" : "Save";
  }

  function saveButtons() {
    var saved = new Set(savedKeys());
    document.querySelectorAll("button.save").forEach(function (button) {
      var key = keyOf(button);
      if (!key) return;
      setPressed(button, saved.has(key));
      button.hidden = false;
      button.addEventListener("click", function () {
        var keys = savedKeys().filter(function (k) { return k !== key; });
        var on = button.getAttribute("aria-pressed") !== "true";
        if (on) keys.unshift(key);
        save(localStorage, "saved", keys);
        setPressed(button, on);
      });
    });
  }

  function copyButtons() {
    if (!navigator.clipboard) return;
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      var source = document.getElementById(button.getAttribute("data-copy"));
      var status = button.parentNode.querySelector(".copy-status");
      if (!source) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(source.textContent).then(function () {
          if (status) status.textContent = "Copied.";
        }, function () {
          if (status) status.textContent = "Could not copy: select the text and copy it.";
        });
      });
    });
  }

  function download(name, text) {
    var link = el("a");
    link.href = URL.createObjectURL(new Blob([text], { type: "application/x-bibtex" }));
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  function readingList(box) {
    var status = document.getElementById("reading-status");
    var list = box.querySelector("ol.reading");
    var actions = box.querySelector(".reading-actions");
    fetch(box.getAttribute("data-src")).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (papers) {
      function render() {
        var keys = savedKeys();
        list.textContent = "";
        actions.hidden = !keys.length;
        status.textContent = keys.length
          ? keys.length + (keys.length === 1 ? " saved paper." : " saved papers.")
          : "Nothing saved yet: use the Save button on a paper.";
        keys.forEach(function (key) {
          var paper = papers[key];
          var item = el("li");
          if (paper) {
            var link = el("a", null, paper.t);
            link.href = new URL(paper.u, root).href;
            item.appendChild(link);
            var meta = [paper.d, paper.a].filter(Boolean).join(" · ");
            if (meta) item.appendChild(el("span", "count", " " + meta));
          } else {
            item.appendChild(el("span", null, "A saved paper that is no longer in this digest."));
          }
          var remove = el("button", "remove", "Remove");
          remove.type = "button";
          remove.addEventListener("click", function () {
            save(localStorage, "saved", savedKeys().filter(function (k) { return k !== key; }));
            render();
          });
          item.appendChild(document.createTextNode(" "));
          item.appendChild(remove);
          list.appendChild(item);
        });
      }
      render();
      document.getElementById("clear-list").addEventListener("click", function () {
        if (window.confirm("Remove every paper from your reading list?")) {
          save(localStorage, "saved", []);
          render();
        }
      });
      document.getElementById("export-bib").addEventListener("click", function () {
        fetch(box.getAttribute("data-bib")).then(function (r) { return r.text(); }).then(function (bib) {
          var wanted = new Set(savedKeys().map(function (k) { return papers[k] && papers[k].c; }));
          var entries = bib.split(/\n(?=@)/).filter(function (entry) {
            var m = /^@\w+\{([^,]+),/.exec(entry);
            return m && wanted.has(m[1]);
          });
          download("reading-list.bib", entries.join("\n").trim() + "\n");
        });
      });
    }).catch(function () {
      status.textContent = "The reading list could not be loaded.";
    });
  }

  markNew();
  saveButtons();
  copyButtons();
  var box = document.getElementById("reading-list");
  if (box) readingList(box);
})();
