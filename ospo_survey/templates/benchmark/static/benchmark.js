/* The benchmark page: the controls pick a profile, the table and chart show its peers beside
   all organisations, from the aggregates embedded in the page (no network), and the profile
   lives in the URL's hash ("#size=1-50&region=Europe") so that a link opens the same view. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("benchmark-data").textContent);
  var dims = data.dims;
  var selects = dims.map(function (d) { return document.getElementById("pick-" + d.name); });
  var tbody = document.querySelector("#results tbody");
  var caption = document.getElementById("results-caption");
  var status = document.getElementById("status");
  var chart = document.getElementById("chart");
  // the SVG namespace, from the chart's placeholder (the HTML parser sets it)
  var SVG = document.getElementById("chart-svg").namespaceURI;
  var SECTIONS = {
    OSPO: "OSPO",
    practices: "Practices (done frequently)",
    policies: "Formal open source policies",
    maturity: "Open source journey stage",
    challenges: "Top challenges (organisations with an OSPO)"
  };
  var threshold = String(data.minNEff);

  function key() {
    return selects.map(function (s) {
      return s.selectedIndex > 0 ? String(s.selectedIndex - 1) : "";
    }).join("|");
  }
  function pct(x) { return x.toFixed(1) + "%"; }
  function profileText() {
    var parts = [];
    dims.forEach(function (d, i) {
      if (selects[i].selectedIndex > 0) {
        parts.push(d.label + ": " + d.choices[selects[i].selectedIndex - 1]);
      }
    });
    return parts.length ? parts.join("; ") : "all organisations (no part chosen)";
  }
  function dimLabel(name) {
    for (var i = 0; i < dims.length; i++) { if (dims[i].name === name) { return dims[i].label; } }
    return name;
  }
  function reason(code) {
    if (code.indexOf("w:") === 0) {
      return dimLabel(code.slice(2)) + ": widen it (effective n under " + threshold + ")";
    }
    return {
      fixed: "fixed by the profile",
      withheld: "withheld (would reveal a hidden number)",
      none: "not asked of these peers",
      nobody: "no one with this profile answered it",
      thin: "effective n under " + threshold
    }[code] || code;
  }
  function cell(tr, text, tag, cls) {
    var c = document.createElement(tag || "td");
    c.textContent = text;
    if (cls) { c.className = cls; }
    if (tag === "th") { c.scope = "row"; }
    tr.appendChild(c);
    return c;
  }

  function renderTable(entry) {
    var rows = document.createDocumentFragment();
    var section = null;
    var shown = [];
    data.items.forEach(function (item, j) {
      if (item.section !== section) {
        section = item.section;
        var head = document.createElement("tr");
        head.className = "section";
        var th = cell(head, SECTIONS[section] || section, "th");
        th.scope = "colgroup";
        th.colSpan = 8;
        rows.appendChild(head);
      }
      var tr = document.createElement("tr");
      tr.setAttribute("data-item", String(j));
      cell(tr, item.label, "th");
      var code = entry ? entry[j] : "none";
      if (Array.isArray(code)) {
        var all = data.all[j + "|" + code[4]];
        cell(tr, pct(code[0]), "td", "num");
        cell(tr, code[1].toFixed(1) + "–" + code[2].toFixed(1), "td", "num");
        cell(tr, String(code[3]), "td", "num");
        cell(tr, all ? pct(all[0]) : "–", "td", "num");
        cell(tr, all ? all[1].toFixed(1) + "–" + all[2].toFixed(1) : "–", "td", "num");
        cell(tr, all ? String(all[3]) : "–", "td", "num");
        cell(tr, data.years[code[4]], "td", "years");
        shown.push({label: item.label, peers: code, all: all});
      } else {
        tr.className = "hidden-share";
        cell(tr, "–", "td", "num");
        cell(tr, reason(code), "td", "reason");
        cell(tr, "–", "td", "num");
        cell(tr, "", "td", "num");
        cell(tr, "", "td", "num");
        cell(tr, "", "td", "num");
        cell(tr, "");
      }
      rows.appendChild(tr);
    });
    tbody.replaceChildren(rows);
    return shown;
  }

  function renderChart(shown) {
    var rowH = 30, labelW = 0, width = 640, top = 8;
    var height = top + shown.length * rowH + 8;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", "0 0 " + width + " " + Math.max(height, 40));
    svg.setAttribute("role", "img");
    svg.setAttribute("id", "chart-svg");
    svg.setAttribute("aria-label", shown.length
      ? "Bar chart of " + shown.length + " shares, peers beside all organisations; the"
        + " numbers are in the table above"
      : "No share to chart for this profile");
    var x = function (v) { return labelW + (width - labelW - 10) * v / 100; };
    shown.forEach(function (s, i) {
      var y = top + i * rowH;
      var label = document.createElementNS(SVG, "text");
      label.setAttribute("x", "0");
      label.setAttribute("y", String(y + 9));
      label.setAttribute("class", "bar-label");
      label.textContent = s.label + " — " + pct(s.peers[0])
        + (s.all ? " vs " + pct(s.all[0]) : "");
      svg.appendChild(label);
      [[s.peers, "peers", 12], [s.all, "all", 20]].forEach(function (b) {
        if (!b[0]) { return; }
        var r = document.createElementNS(SVG, "rect");
        r.setAttribute("x", String(x(0)));
        r.setAttribute("y", String(y + b[2]));
        r.setAttribute("width", String(Math.max(0.5, x(b[0][0]) - x(0))));
        r.setAttribute("height", "6");
        r.setAttribute("class", "bar " + b[1]);
        svg.appendChild(r);
        var w = document.createElementNS(SVG, "line");
        w.setAttribute("x1", String(x(b[0][1])));
        w.setAttribute("x2", String(x(b[0][2])));
        w.setAttribute("y1", String(y + b[2] + 3));
        w.setAttribute("y2", String(y + b[2] + 3));
        w.setAttribute("class", "whisker");
        svg.appendChild(w);
      });
    });
    chart.replaceChildren(svg);
  }

  function render() {
    var k = key();
    var entry = data.profiles[k];
    caption.textContent = "Peers beside all organisations: " + profileText();
    var shown = renderTable(entry);
    renderChart(shown);
    if (!entry) {
      var part = data.absent[k];
      status.textContent = "No organisation in the pooled years matches this profile"
        + (part ? ": widen " + dimLabel(part).toLowerCase() + "." : ".");
    } else if (!shown.length) {
      status.textContent = "Too few peers to show any share: widen the profile.";
    } else {
      status.textContent = shown.length + " of " + data.items.length + " shares shown for "
        + profileText() + ".";
    }
  }

  function readHash() {
    var params = new URLSearchParams(window.location.hash.slice(1));
    dims.forEach(function (d, i) {
      var v = params.get(d.name);
      var at = v === null ? -1 : d.choices.indexOf(v);
      selects[i].selectedIndex = at + 1;
    });
  }
  function writeHash() {
    var params = new URLSearchParams();
    dims.forEach(function (d, i) {
      if (selects[i].selectedIndex > 0) { params.set(d.name, d.choices[selects[i].selectedIndex - 1]); }
    });
    var text = params.toString();
    var url = window.location.href.split("#")[0] + (text ? "#" + text : "");
    try { window.history.replaceState(null, "", url); } catch (e) { window.location.hash = text; }
  }

  selects.forEach(function (s) {
    s.addEventListener("change", function () {
      var t0 = performance.now();
      writeHash();
      render();
      window.benchmarkRenderMs = performance.now() - t0;
    });
  });
  window.addEventListener("hashchange", function () { readHash(); render(); });
  readHash();
  render();
}());
