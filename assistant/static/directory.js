// The partner directory page: loads /api/admin/directory with the staff console's admin key.
// Everything from the index is untrusted text: it is set with textContent, never as HTML, and
// only http(s) links are made clickable (the helpers in console.js).
(function () {
  "use strict";
  var C = window.KMR_CONSOLE;
  var $ = C.$, el = C.el;
  var records = [];

  function cell(row, text) {
    var td = el("td", text || "");
    row.appendChild(td);
    return td;
  }

  function link(parent, url, text) {
    var href = C.safeHref(url);
    if (href) {
      parent.appendChild(el("a", text, { href: href, rel: "noopener noreferrer" }));
    } else {
      parent.appendChild(document.createTextNode(text + " (" + url + ")"));
    }
  }

  function render() {
    var needle = $("filter").value.trim().toLowerCase();
    var body = $("records").tBodies[0];
    C.clear(body);
    var shown = 0;
    records.forEach(function (o) {
      var hay = [o.name, o.description].concat(o.sectors, o.buildings).join(" ").toLowerCase();
      if (needle && hay.indexOf(needle) < 0) { return; }
      shown += 1;
      var row = el("tr");
      var name = el("th", null, { scope: "row" });
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
      var list = el("ul");
      o.found_on.forEach(function (f) {
        var li = el("li");
        link(li, f.url, f.url);
        li.appendChild(document.createTextNode(" — " + f.where));
        list.appendChild(li);
      });
      cell(row, "").appendChild(list);
      body.appendChild(row);
    });
    $("status").textContent = shown + " of " + records.length + " organisations shown.";
  }

  function load(event) {
    if (event) { event.preventDefault(); }
    var key = $("admin-key").value || C.stored(C.KEY_STORAGE);
    if (!key) { $("status").textContent = "Enter the admin key."; $("admin-key").focus(); return; }
    $("status").textContent = "Loading…";
    var headers = { "X-Admin-Key": key, "Accept": "application/json" };
    C.call("/api/admin/directory", { headers: headers }, function (status) {
      return "HTTP " + status;
    }).then(function (data) {
      C.store(C.KEY_STORAGE, key);
      records = data.organisations || [];
      render();
    }).catch(function (err) {
      // Without an admin key set on the service, its admin routes do not exist.
      var why = err.status === 404 ? "the admin routes are off" : err.message;
      $("status").textContent = "Could not load the directory: " + why;
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    $("key-form").addEventListener("submit", load);
    $("filter").addEventListener("input", function () { if (records.length) { render(); } });
    if (C.stored(C.KEY_STORAGE)) { load(); }
  });
})();
