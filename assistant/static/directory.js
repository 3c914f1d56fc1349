// The partner directory page: loads /api/admin/directory with the staff console's admin key.
// Everything from the index is untrusted text: it is set with textContent, never as HTML, and
// only http(s) links are made clickable.
(function () {
  "use strict";
  var KEY_STORAGE = "kmr-admin-key"; // shared with the staff console
  var records = [];

  function $(id) { return document.getElementById(id); }

  function storedKey() {
    try { return window.sessionStorage.getItem(KEY_STORAGE) || ""; } catch (e) { return ""; }
  }

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text || "";
    row.appendChild(td);
    return td;
  }

  function link(parent, url, text) {
    if (/^https?:\/\//i.test(url)) {
      var a = document.createElement("a");
      a.href = url;
      a.rel = "noopener noreferrer";
      a.textContent = text;
      parent.appendChild(a);
    } else {
      parent.appendChild(document.createTextNode(text + " (" + url + ")"));
    }
  }

  function render() {
    var needle = $("filter").value.trim().toLowerCase();
    var body = $("records").tBodies[0];
    body.textContent = "";
    var shown = 0;
    records.forEach(function (o) {
      var hay = [o.name, o.description].concat(o.sectors, o.buildings).join(" ").toLowerCase();
      if (needle && hay.indexOf(needle) < 0) { return; }
      shown += 1;
      var row = document.createElement("tr");
      var name = document.createElement("th");
      name.scope = "row";
      link(name, o.url, o.name);
      row.appendChild(name);
      cell(row, o.description);
      cell(row, o.sectors.join("; "));
      cell(row, o.buildings.join("; "));
      cell(row, o.since);
      var langs = cell(row, "");
      Object.keys(o.languages).forEach(function (lang, i) {
        if (i) { langs.appendChild(document.createTextNode(" · ")); }
        link(langs, o.languages[lang], lang || "?");
      });
      var found = cell(row, "");
      var list = document.createElement("ul");
      o.found_on.forEach(function (f) {
        var li = document.createElement("li");
        link(li, f.url, f.url);
        li.appendChild(document.createTextNode(" — " + f.where));
        list.appendChild(li);
      });
      found.appendChild(list);
      body.appendChild(row);
    });
    $("status").textContent = shown + " of " + records.length + " organisations shown.";
  }

  function load(event) {
    if (event) { event.preventDefault(); }
    var key = $("admin-key").value || storedKey();
    if (!key) { $("status").textContent = "Enter the admin key."; $("admin-key").focus(); return; }
    $("status").textContent = "Loading…";
    fetch("/api/admin/directory", { headers: { "X-Admin-Key": key, "Accept": "application/json" } })
      .then(function (r) {
        if (r.status === 401 || r.status === 404) { throw new Error("wrong admin key, or admin routes are off"); }
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (data) {
        try { window.sessionStorage.setItem(KEY_STORAGE, key); } catch (e) { /* private mode */ }
        records = data.organisations || [];
        render();
      })
      .catch(function (err) { $("status").textContent = "Could not load the directory: " + err.message; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("key-form").addEventListener("submit", load);
    $("filter").addEventListener("input", function () { if (records.length) { render(); } });
    if (storedKey()) { load(); }
  });
})();
