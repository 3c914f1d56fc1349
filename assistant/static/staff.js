/* Staff console: search with filters, then (with the admin key) statistics, sync and gaps.
   All server text is shown with textContent; links only for http(s) URLs. */
(function () {
  "use strict";

  var KEY_STORAGE = "kmr-admin-key";

  function $(id) { return document.getElementById(id); }

  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }

  function safeHref(url) {
    try {
      var parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function errorText(response, body) {
    if (body && typeof body.detail === "string") return body.detail;
    return "Request failed (HTTP " + response.status + ").";
  }

  function call(path, options) {
    return fetch(path, options || {}).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        if (!response.ok) throw new Error(errorText(response, body));
        return body;
      });
    });
  }

  /* --- search ----------------------------------------------------------------------- */
  function search(event) {
    event.preventDefault();
    var params = new URLSearchParams();
    params.set("q", $("q").value.trim());
    if ($("language").value) params.set("language", $("language").value);
    if ($("page-type").value.trim()) params.set("page_type", $("page-type").value.trim());
    if ($("k").value) params.set("k", $("k").value);
    var status = $("search-status");
    status.textContent = "Searching…";
    status.classList.remove("error");
    call("/api/search?" + params.toString()).then(function (body) {
      var list = $("results");
      clear(list);
      body.results.forEach(function (hit) {
        var item = el("li");
        var heading = el("h3");
        var href = safeHref(hit.url);
        heading.appendChild(href ? el("a", hit.title || hit.url, { href: href }) : el("span", hit.title || hit.url));
        item.appendChild(heading);
        item.appendChild(el("p", [hit.language, hit.page_type || "—", hit.heading || "", "score " + Number(hit.score).toFixed(4)]
          .filter(Boolean).join(" · "), { class: "meta" }));
        item.appendChild(el("p", hit.url, { class: "meta" }));
        item.appendChild(el("pre", hit.text, { class: "preview", tabindex: "0", "aria-label": "Passage text" }));
        list.appendChild(item);
      });
      status.textContent = body.results.length + " passage(s) found.";
    }).catch(function (error) {
      status.textContent = error.message;
      status.classList.add("error");
    });
  }

  /* --- admin ------------------------------------------------------------------------ */
  function adminKey() {
    try { return window.sessionStorage.getItem(KEY_STORAGE) || ""; } catch (e) { return ""; }
  }

  function admin(path, options) {
    var opts = options || {};
    opts.headers = Object.assign({ "X-Admin-Key": adminKey() }, opts.headers || {});
    return call("/api/admin" + path, opts);
  }

  function fill(list, pairs) {
    clear(list);
    pairs.forEach(function (pair) {
      list.appendChild(el("dt", pair[0]));
      list.appendChild(el("dd", pair[1] === null || pair[1] === undefined ? "—" : pair[1]));
    });
  }

  function adminStatus(text, isError) {
    var status = $("admin-status");
    status.textContent = text;
    status.classList.toggle("error", !!isError);
  }

  function loadStats() {
    return admin("/stats").then(function (s) {
      var info = s.index || {};
      fill($("stats"), [
        ["Chunks", s.chunks],
        ["Collection", s.collection],
        ["Embedding model", s.embedding_model],
        ["Last sync", info.last_sync || "—"],
        ["Sources", (s.sources || []).join(", ")],
        ["Questions stored", s.conversations.questions],
        ["Refused", s.conversations.refused],
        ["Rated up / down", s.conversations.feedback_up + " / " + s.conversations.feedback_down],
      ]);
    });
  }

  var polling = null;
  var pollingEvery = 0;
  var wasRunning = false;

  function scheduleText(schedule) {
    if (!schedule) { return "Off (set KMR_SYNC_INTERVAL)"; }
    var text = "Every " + schedule.interval_seconds + " s, next at " + (schedule.next_run_at || "—") +
      "; " + schedule.started + " started, " + schedule.skipped + " skipped";
    if (schedule.last_skip_reason) {
      text += " (last skipped " + schedule.last_skipped_at + ": " + schedule.last_skip_reason + ")";
    }
    return text;
  }

  function showSync(job) {
    var p = job.progress || {};
    fill($("sync"), [
      ["Status", job.status],
      ["Started by", job.trigger || "—"],
      ["Schedule", scheduleText(job.schedule)],
      ["Started", job.started_at],
      ["Finished", job.finished_at],
      ["Documents seen", p.seen],
      ["New / changed / unchanged / removed", [p.new, p.changed, p.unchanged, p.removed].map(function (v) {
        return v === undefined ? "—" : v; }).join(" / ")],
      ["Chunks embedded", p.chunks_embedded],
      ["Failures", p.failed],
      ["Now reading", p.current || "—"],
      ["Error", job.error],
    ]);
    $("sync-start").disabled = job.status === "running";
    // A scheduled sync may start at any time: keep watching while a schedule is set.
    var running = job.status === "running";
    var every = running ? 2000 : (job.schedule ? 10000 : 0);
    if (every !== pollingEvery) {
      if (polling) { window.clearInterval(polling); }
      polling = every ? window.setInterval(refreshSync, every) : null;
      pollingEvery = every;
    }
    if (wasRunning && !running) { loadStats().catch(function () {}); }
    wasRunning = running;
  }

  function refreshSync() {
    return admin("/sync").then(showSync).catch(function (error) { adminStatus(error.message, true); });
  }

  function startSync() {
    admin("/sync", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
      .then(function (job) { adminStatus("Sync started."); showSync(job); })
      .catch(function (error) { adminStatus(error.message, true); });
  }

  function loadGaps() {
    var days = $("gap-days").value || "30";
    admin("/gaps?days=" + encodeURIComponent(days)).then(function (report) {
      var body = $("gaps");
      clear(body);
      if (!report.groups.length) {
        var row = el("tr");
        row.appendChild(el("td", "No refused or down-rated questions in this period.", { colspan: "6" }));
        body.appendChild(row);
      }
      report.groups.forEach(function (group) {
        var row = el("tr");
        row.appendChild(el("td", group.question));
        row.appendChild(el("td", group.count));
        row.appendChild(el("td", group.refused));
        row.appendChild(el("td", group.rated_down));
        row.appendChild(el("td", new Date(group.last_asked).toLocaleString()));
        row.appendChild(el("td", group.examples.filter(function (q) { return q !== group.question; }).join(" | ")));
        body.appendChild(row);
      });
      adminStatus("Gaps report loaded: " + report.groups.length + " group(s).");
    }).catch(function (error) { adminStatus(error.message, true); });
  }

  function unlock() {
    if (!adminKey()) { $("admin-area").hidden = true; return; }
    loadStats().then(function () {
      $("admin-area").hidden = false;
      adminStatus("Admin key accepted.");
      refreshSync();
    }).catch(function (error) {
      $("admin-area").hidden = true;
      adminStatus(error.message, true);
    });
  }

  /* What the service cannot do right now (a read-only index or database, a down LLM), from
     /ready's detail; shown as text, never as HTML. */
  function loadNotice() {
    fetch("/ready").then(function (response) { return response.json(); }).then(function (body) {
      var notice = $("service-notice");
      notice.textContent = body && typeof body.detail === "string" ? body.detail : "";
      notice.hidden = !notice.textContent;
    }).catch(function () { /* the search panel reports an unreachable service */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    loadNotice();
    $("search-form").addEventListener("submit", search);
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      try { window.sessionStorage.setItem(KEY_STORAGE, $("admin-key").value); } catch (e) { /* private mode */ }
      $("admin-key").value = "";
      unlock();
    });
    $("forget-key").addEventListener("click", function () {
      try { window.sessionStorage.removeItem(KEY_STORAGE); } catch (e) { /* nothing stored */ }
      $("admin-area").hidden = true;
      adminStatus("Key forgotten.");
    });
    $("sync-start").addEventListener("click", startSync);
    $("sync-refresh").addEventListener("click", refreshSync);
    $("gaps-load").addEventListener("click", loadGaps);
    unlock();
  });
})();
