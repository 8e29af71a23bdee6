// The report's only script: the atlas filter and pager, and the "show all rows" buttons.
// Vanilla JS, no network, an external file (so the report can be served under a strict
// Content-Security-Policy without 'unsafe-inline'). It reads the atlas data from
// <script type="application/json" id="atlas-data"> (JSON escaped for HTML) and shows or
// hides the server-rendered rows; it never builds HTML from data (textContent only).
// Without JavaScript every row stays visible.
(function () {
  "use strict";
  // 25 rows a page; 10 on a phone, where each study is a tall card
  var narrow = !!(window.matchMedia && window.matchMedia("(max-width: 640px)").matches);
  var PAGE = narrow ? 10 : 25;
  var axes = document.getElementById("atlas-axes");
  if (axes && !narrow) { axes.open = true; }  // on a phone the axis filters start folded
  var dataEl = document.getElementById("atlas-data");
  var table = document.getElementById("atlas-table");
  if (!dataEl || !table) { return; }
  var data = JSON.parse(dataEl.textContent || "{}");
  var studies = data.studies || [];
  var byId = {};
  studies.forEach(function (s) {
    s._text = [s.title, s.venue, s.year, s.authors].concat(
      Object.keys(s.labels || {}).map(function (a) { return (s.labels[a] || []).join(" "); })
    ).join(" ").toLowerCase();
    byId[String(s.id)] = s;
  });
  var rows = Array.prototype.slice.call(table.querySelectorAll("tbody tr[data-id]"));
  var query = document.getElementById("atlas-query");
  var selects = Array.prototype.slice.call(document.querySelectorAll("select[data-axis]"));
  var count = document.getElementById("atlas-count");
  var reset = document.getElementById("atlas-reset");
  var pager = document.getElementById("atlas-pager");
  var prev = document.getElementById("atlas-prev");
  var next = document.getElementById("atlas-next");
  var pageLabel = document.getElementById("atlas-page");
  var page = 0;
  var matching = rows;

  function filter() {
    var terms = (query && query.value ? query.value : "").toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = selects.map(function (sel) { return [sel.getAttribute("data-axis"), sel.value]; })
      .filter(function (p) { return p[1] !== ""; });
    matching = rows.filter(function (row) {
      var s = byId[row.getAttribute("data-id")];
      var ok = !!s && terms.every(function (t) { return s._text.indexOf(t) !== -1; }) &&
        wanted.every(function (p) { return ((s.labels || {})[p[0]] || []).indexOf(p[1]) !== -1; });
      row.setAttribute("data-match", ok ? "1" : "0");
      return ok;
    });
    page = 0;
    show();
  }

  function show() {
    var pages = Math.max(1, Math.ceil(matching.length / PAGE));
    if (page >= pages) { page = pages - 1; }
    var lo = page * PAGE;
    var hi = Math.min(matching.length, lo + PAGE);
    rows.forEach(function (row) { row.hidden = true; });
    matching.slice(lo, hi).forEach(function (row) { row.hidden = false; });
    if (count) {
      count.textContent = matching.length + " of " + rows.length + " studies match" +
        (matching.length > PAGE ? "; showing " + (lo + 1) + "–" + hi : "");
    }
    if (pager) { pager.hidden = matching.length <= PAGE; }
    if (pageLabel) { pageLabel.textContent = "page " + (page + 1) + " of " + pages; }
    if (prev) { prev.disabled = page === 0; }
    if (next) { next.disabled = page >= pages - 1; }
  }

  if (query) { query.addEventListener("input", filter); }
  selects.forEach(function (sel) { sel.addEventListener("change", filter); });
  if (reset) {
    reset.addEventListener("click", function () {
      if (query) { query.value = ""; }
      selects.forEach(function (sel) { sel.value = ""; });
      filter();
    });
  }
  if (prev) { prev.addEventListener("click", function () { page -= 1; show(); }); }
  if (next) { next.addEventListener("click", function () { page += 1; show(); }); }
  filter();
})();
