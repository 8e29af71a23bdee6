// The atlas filter: a text query and one select per taxonomy axis. Vanilla JS, no network.
// Reads the atlas data from <script type="application/json" id="atlas-data"> (JSON escaped
// for HTML) and shows or hides the server-rendered rows; it never builds HTML from data.
(function () {
  "use strict";
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

  function apply() {
    var terms = (query && query.value ? query.value : "").toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = selects.map(function (sel) { return [sel.getAttribute("data-axis"), sel.value]; })
      .filter(function (p) { return p[1] !== ""; });
    var shown = 0;
    rows.forEach(function (row) {
      var s = byId[row.getAttribute("data-id")];
      var ok = !!s;
      if (ok) {
        ok = terms.every(function (t) { return s._text.indexOf(t) !== -1; });
      }
      if (ok) {
        ok = wanted.every(function (p) { return ((s.labels || {})[p[0]] || []).indexOf(p[1]) !== -1; });
      }
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    if (count) { count.textContent = shown + " of " + rows.length + " studies shown"; }
  }
  if (query) { query.addEventListener("input", apply); }
  selects.forEach(function (sel) { sel.addEventListener("change", apply); });
  if (reset) {
    reset.addEventListener("click", function () {
      if (query) { query.value = ""; }
      selects.forEach(function (sel) { sel.value = ""; });
      apply();
    });
  }
  apply();
})();
