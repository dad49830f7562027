/* The site search: every page, question and chart, from search-index.js (no server, works from
   file://), loaded by a script tag the first time the box is used, so a page that is only read
   fetches nothing. Without JavaScript the form opens the list of questions. */
(function () {
  "use strict";
  var form = document.querySelector("form.site-search");
  if (!form) { return; }
  var root = form.getAttribute("data-root") || "";
  var input = form.querySelector("input[type=search]");
  var box = form.querySelector(".search-results");
  var entries = null;
  var loading = false;
  function load() {
    if (entries || loading) { return; }
    loading = true;
    var tag = document.createElement("script");
    tag.src = form.getAttribute("data-index");
    tag.onload = function () {
      entries = (window.OSPO_SEARCH || []).map(function (e) {
        return { u: e.u, t: e.t, k: e.k, x: (e.t + " " + (e.d || "")).toLowerCase() };
      });
      show();
    };
    tag.onerror = function () {
      box.textContent = "The search index is not built yet: use the list of questions.";
    };
    document.head.appendChild(tag);
  }
  var order = { question: 0, page: 1, section: 2, chart: 3 };
  function find(q) {
    var words = q.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    if (!words.length || !entries) { return []; }
    var hits = entries.filter(function (e) {
      return words.every(function (w) { return e.x.indexOf(w) >= 0; });
    });
    hits.sort(function (a, b) {
      var ta = words.every(function (w) { return a.t.toLowerCase().indexOf(w) >= 0; }) ? 0 : 1;
      var tb = words.every(function (w) { return b.t.toLowerCase().indexOf(w) >= 0; }) ? 0 : 1;
      return (ta - tb) || (order[a.k] - order[b.k]) || (a.t < b.t ? -1 : a.t > b.t ? 1 : 0);
    });
    return hits.slice(0, 20);
  }
  function show() {
    var q = input.value.trim();
    if (!entries) { load(); return; }
    box.textContent = "";
    if (q.length < 2) { return; }
    var hits = find(q);
    var note = document.createElement("p");
    note.textContent = hits.length ? hits.length + (hits.length === 20 ? "+" : "") +
      " result(s)" : "No results: try fewer words, or the list of questions.";
    box.appendChild(note);
    if (!hits.length) { return; }
    var list = document.createElement("ul");
    hits.forEach(function (e) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = root + e.u;
      a.textContent = e.t;
      li.appendChild(a);
      var kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = " (" + e.k + ")";
      li.appendChild(kind);
      list.appendChild(li);
    });
    box.appendChild(list);
  }
  input.addEventListener("focus", load);
  input.addEventListener("input", show);
  form.addEventListener("submit", function (ev) {
    var hits = find(input.value.trim());
    if (hits.length) { ev.preventDefault(); window.location.href = root + hits[0].u; }
  });
}());
