// Keyboard shortcuts for the screening page: i include, e exclude (then a criterion
// number, or 0 / Enter for none), m maybe, n note, Esc cancel. No dependencies.
(function () {
  "use strict";
  var form = document.getElementById("vote-form");
  if (!form) { return; }
  var criteria = document.getElementById("criteria");
  var hint = document.getElementById("criteria-hint");
  var note = document.getElementById("note");
  var choosing = false;
  var sent = false;

  function button(label) {
    return form.querySelector('button[name="label"][value="' + label + '"]');
  }
  function submit(label) {
    if (sent) { return; }
    sent = true;
    var b = button(label);
    form.querySelectorAll("button").forEach(function (x) { x.disabled = false; });
    if (form.requestSubmit) { form.requestSubmit(b); } else { b.click(); }
    form.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
  }
  function setChoosing(on) {
    choosing = on;
    if (criteria) { criteria.classList.toggle("choosing", on); }
    if (hint) { hint.textContent = on ? "press a number (0 or Enter: none, Esc: cancel)" : "press e, then a number"; }
  }
  function radios() {
    return criteria ? criteria.querySelectorAll('input[type="radio"][name="criterion"]') : [];
  }
  form.addEventListener("submit", function () { sent = true; });

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var t = ev.target;
    var typing = t && (t.tagName === "TEXTAREA" || t.tagName === "INPUT" || t.tagName === "SELECT");
    if (typing) {
      if (ev.key === "Escape") { t.blur(); ev.preventDefault(); }
      return;
    }
    var key = ev.key;
    if (choosing) {
      if (key === "Escape") { setChoosing(false); ev.preventDefault(); return; }
      if (key === "0" || key === "Enter") {
        radios().forEach(function (r) { r.checked = false; });
        ev.preventDefault(); submit("exclude"); return;
      }
      if (/^[1-9]$/.test(key)) {
        var r = criteria.querySelector('input[data-key="' + key + '"]');
        if (r) { r.checked = true; ev.preventDefault(); submit("exclude"); }
        return;
      }
      return;
    }
    if (key === "i") { ev.preventDefault(); submit("include"); }
    else if (key === "m") { ev.preventDefault(); submit("maybe"); }
    else if (key === "n") { ev.preventDefault(); if (note) { note.focus(); } }
    else if (key === "e") {
      ev.preventDefault();
      var chosen = Array.prototype.some.call(radios(), function (r) { return r.checked; });
      if (chosen || radios().length === 0) { submit("exclude"); } else { setChoosing(true); }
    }
  });
})();
