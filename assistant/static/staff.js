/* Staff console: search with filters, then (with the admin key) statistics, sync, curated
   answers, enquiries, what visitors ask and the gaps report; in English or Italian.
   All server text is shown with textContent; links only for http(s) URLs. */
(function () {
  "use strict";

  var C = window.KMR_CONSOLE;
  var $ = C.$, el = C.el, button = C.button, safeHref = C.safeHref, clear = C.clear;
  var store = C.store, stored = C.stored;
  var KEY_STORAGE = C.KEY_STORAGE;
  var NAME_STORAGE = "kmr-staff-name";
  var LANG_STORAGE = "kmr-staff-lang";
  var TEXT = window.KMR_STAFF_I18N;
  var lang = "en";
  /* The site's name, written into the page by the service (its site profile). */
  var SITE = (document.querySelector('meta[name="kmr-site"]') || {}).content || "";

  /** The UI string ``key`` in the current language, with {name} placeholders (and {site})
      filled. */
  function t(key, params) {
    var text = (TEXT[lang] && TEXT[lang][key]) || TEXT.en[key] || key;
    var values = Object.assign({ site: SITE }, params || {});
    Object.keys(values).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(values[name]));
    });
    return text;
  }

  function when(value) {
    if (!value) return "—";
    var text = String(value);
    // Naive ISO times from the service are UTC.
    var date = new Date(/[zZ]|[+-]\d\d:\d\d$/.test(text) || text.length <= 10 ? text : text + "Z");
    if (isNaN(date.getTime())) return text;
    return text.length <= 10
      ? date.toLocaleDateString(lang, { timeZone: "UTC" })
      : date.toLocaleString(lang);
  }

  /* --- status lines: kept as (key, params) so a language switch can say them again ---- */
  var statuses = {};

  function say(id, key, params, isError) {
    statuses[id] = { key: key, params: params || {}, error: !!isError };
    showStatus(id);
  }

  function sayRaw(id, text, isError) {
    statuses[id] = { raw: String(text), error: !!isError };
    showStatus(id);
  }

  function showStatus(id) {
    var status = $(id);
    var s = statuses[id];
    if (!status || !s) return;
    status.textContent = s.raw !== undefined ? s.raw : t(s.key, s.params);
    status.classList.toggle("error", s.error);
  }

  /* --- HTTP ----------------------------------------------------------------------- */
  function httpFailed(status) { return t("http_failed", { status: status }); }

  function call(path, options) { return C.call(path, options, httpFailed); }

  function adminKey() { return stored(KEY_STORAGE); }
  function staffName() {
    var input = $("staff-name");
    return (input && input.value.trim()) || stored(NAME_STORAGE);
  }

  function adminHeaders(extra) {
    var headers = { "X-Admin-Key": adminKey() };
    if (staffName()) headers["X-Staff-Name"] = encodeURIComponent(staffName());
    return Object.assign(headers, extra || {});
  }

  function admin(path, options) {
    var opts = options || {};
    opts.headers = adminHeaders(opts.headers);
    return call("/api/admin" + path, opts);
  }

  function adminJson(method, path, body) {
    return admin(path, {
      method: method,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body === undefined ? {} : body),
    });
  }

  /** Fetch a file with the admin headers and hand it to the browser as a download. */
  function download(path, fallbackName, statusId) {
    fetch("/api/admin" + path, { headers: adminHeaders() }).then(function (response) {
      if (!response.ok) return C.failed(response, httpFailed);
      var disposition = response.headers.get("Content-Disposition") || "";
      var match = /filename="?([^";]+)"?/.exec(disposition);
      var name = match ? match[1] : fallbackName;
      return response.blob().then(function (blob) {
        var url = URL.createObjectURL(blob);
        var link = el("a", null, { href: url, download: name });
        document.body.appendChild(link);
        link.click();
        document.body.removeChild(link);
        window.setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
        say(statusId, "downloaded", { name: name });
      });
    }).catch(function (error) { sayRaw(statusId, error.message, true); });
  }

  function needName(statusId) {
    if (staffName()) return false;
    say(statusId, "need_name", {}, true);
    $("staff-name").focus();
    return true;
  }

  /* --- language ------------------------------------------------------------------- */
  function applyLanguage(next) {
    lang = TEXT[next] ? next : "en";
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach(function (node) {
      node.textContent = t(node.getAttribute("data-i18n"));
    });
    document.querySelectorAll("[data-i18n-aria]").forEach(function (node) {
      node.setAttribute("aria-label", t(node.getAttribute("data-i18n-aria")));
    });
    document.querySelectorAll("[data-set-lang]").forEach(function (node) {
      node.setAttribute("aria-pressed", String(node.getAttribute("data-set-lang") === lang));
    });
    Object.keys(statuses).forEach(showStatus);
    Object.keys(views).forEach(function (name) { if (views[name].data) views[name].render(); });
    if (editing.open) editorTitle();
  }

  function initialLanguage() {
    var chosen = stored(LANG_STORAGE);
    if (TEXT[chosen]) return chosen;
    var wanted = (navigator.languages && navigator.languages[0]) || navigator.language || "en";
    return String(wanted).toLowerCase().indexOf("it") === 0 ? "it" : "en";
  }

  /* Each view keeps its last data, so a language switch renders it again. */
  var views = {
    results: { data: null, render: renderResults },
    stats: { data: null, render: renderStats },
    sync: { data: null, render: renderSync },
    curated: { data: null, render: renderCurated },
    history: { data: null, render: renderHistory },
    enquiries: { data: null, render: renderEnquiries },
    questions: { data: null, render: renderQuestions },
    gaps: { data: null, render: renderGaps },
  };

  /* --- keyboard focus across re-renders ------------------------------------------------ */
  /** Run ``draw`` (which rebuilds ``container``) without losing the keyboard's place: a
      focused control inside comes back as the rebuilt control with the same data-key, else
      focus goes to the section's heading ``fallbackId`` (never to the page's start). */
  function keepFocus(container, fallbackId, draw) {
    var active = document.activeElement;
    var inside = !!(active && active !== container && container.contains(active));
    var key = inside ? active.getAttribute("data-key") : null;
    draw();
    if (!inside || container.contains(active)) return;
    var again = key ? container.querySelector('[data-key="' + key + '"]') : null;
    var target = again || $(fallbackId);
    if (target) target.focus();
  }

  /* --- search ----------------------------------------------------------------------- */
  function search(event) {
    event.preventDefault();
    var params = new URLSearchParams();
    params.set("q", $("q").value.trim());
    if ($("language").value) params.set("language", $("language").value);
    if ($("page-type").value.trim()) params.set("page_type", $("page-type").value.trim());
    if ($("k").value) params.set("k", $("k").value);
    say("search-status", "searching");
    var query = $("q").value.trim();
    call("/api/search?" + params.toString()).then(function (body) {
      views.results.data = { query: query, results: body.results };
      renderResults();
      say("search-status", "found", { n: body.results.length });
    }).catch(function (error) { sayRaw("search-status", error.message, true); });
  }

  function renderResults() {
    var data = views.results.data;
    var list = $("results");
    keepFocus(list, "search-title", function () { drawResults(list, data); });
  }

  function drawResults(list, data) {
    clear(list);
    data.results.forEach(function (hit, index) {
      var item = el("li");
      var heading = el("h3");
      var href = safeHref(hit.url);
      heading.appendChild(href ? el("a", hit.title || hit.url, { href: href }) : el("span", hit.title || hit.url));
      item.appendChild(heading);
      item.appendChild(el("p", [hit.language, hit.page_type || "—", hit.heading || "", t("score") + " " + Number(hit.score).toFixed(4)]
        .filter(Boolean).join(" · "), { class: "meta" }));
      item.appendChild(el("p", hit.url, { class: "meta" }));
      item.appendChild(el("pre", hit.text, { class: "preview", tabindex: "0", "aria-label": t("passage_text") }));
      item.appendChild(button(t("write_curated"), function () {
        var draft = { questions: [data.query] };
        if (href) draft.links = [{ title: String(hit.title || hit.url).slice(0, 200), url: href }];
        writeCurated(draft, "search-status");
      }, { class: "secondary small-button", "data-key": "result-" + index }));
      list.appendChild(item);
    });
  }

  /* --- admin: statistics and sync ---------------------------------------------------- */
  function fill(list, pairs) {
    clear(list);
    pairs.forEach(function (pair) {
      list.appendChild(el("dt", pair[0]));
      list.appendChild(el("dd", pair[1] === null || pair[1] === undefined ? "—" : pair[1]));
    });
  }

  function loadStats() {
    return admin("/stats").then(function (s) {
      views.stats.data = s;
      renderStats();
    });
  }

  function renderStats() {
    var s = views.stats.data;
    var info = s.index || {};
    fill($("stats"), [
      [t("st_chunks"), s.chunks],
      [t("st_collection"), s.collection],
      [t("st_model"), s.embedding_model],
      [t("st_last_sync"), info.last_sync || "—"],
      [t("st_sources"), (s.sources || []).join(", ")],
      [t("st_questions"), s.conversations.questions],
      [t("st_refused"), s.conversations.refused],
      [t("st_rated"), s.conversations.feedback_up + " / " + s.conversations.feedback_down],
    ]);
  }

  var polling = null;
  var pollingEvery = 0;
  var wasRunning = false;

  function scheduleText(schedule) {
    if (!schedule) return t("sync_off");
    var text = t("sync_every", {
      s: schedule.interval_seconds, next: schedule.next_run_at || "—",
      started: schedule.started, skipped: schedule.skipped,
    });
    if (schedule.last_skip_reason) {
      text += " " + t("sync_last_skip", { at: schedule.last_skipped_at, why: schedule.last_skip_reason });
    }
    return text;
  }

  function showSync(job) {
    views.sync.data = job;
    renderSync();
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

  function renderSync() {
    var job = views.sync.data;
    var p = job.progress || {};
    fill($("sync"), [
      [t("sy_status"), job.status],
      [t("sy_trigger"), job.trigger || "—"],
      [t("sy_schedule"), scheduleText(job.schedule)],
      [t("sy_started"), job.started_at],
      [t("sy_finished"), job.finished_at],
      [t("sy_seen"), p.seen],
      [t("sy_counts"), [p.new, p.changed, p.unchanged, p.removed].map(function (v) {
        return v === undefined ? "—" : v; }).join(" / ")],
      [t("sy_chunks"), p.chunks_embedded],
      [t("sy_failed"), p.failed],
      [t("sy_current"), p.current || "—"],
      [t("sy_error"), job.error],
    ]);
    $("sync-start").disabled = job.status === "running";
  }

  function refreshSync() {
    return admin("/sync").then(showSync).catch(function (error) { sayRaw("admin-status", error.message, true); });
  }

  function startSync() {
    admin("/sync", { method: "POST", headers: { "Content-Type": "application/json" }, body: "{}" })
      .then(function (job) { say("admin-status", "sync_started"); showSync(job); })
      .catch(function (error) { sayRaw("admin-status", error.message, true); });
  }

  /* --- curated answers --------------------------------------------------------------- */
  var editing = { open: false, id: null, version: null, conflict: null, opener: null };

  function loadCurated() {
    return loadCuratedQuietly().then(function () {
      say("curated-status", "curated_loaded", { n: views.curated.data.length });
    }).catch(function (error) { sayRaw("curated-status", error.message, true); });
  }

  function curatedState(answer) {
    if (!answer.enabled) return t("state_disabled");
    if (answer.expires_on && answer.expires_on < new Date().toISOString().slice(0, 10)) return t("state_expired");
    return answer.expires_on ? t("state_until", { date: when(answer.expires_on) }) : t("state_active");
  }

  function renderCurated() {
    var body = $("curated-list");
    keepFocus(body, "curated-title", function () { drawCurated(body); });
  }

  function drawCurated(body) {
    clear(body);
    var answers = views.curated.data || [];
    if (!answers.length) {
      var empty = el("tr");
      empty.appendChild(el("td", t("curated_none"), { colspan: "5" }));
      body.appendChild(empty);
    }
    answers.forEach(function (answer) {
      var row = el("tr", null, { "data-id": String(answer.id) });
      var questions = el("td");
      var list = el("ul", null, { class: "plain" });
      answer.questions.forEach(function (q) { list.appendChild(el("li", q)); });
      questions.appendChild(list);
      row.appendChild(questions);
      var text = el("td");
      if (answer.answer_it) text.appendChild(el("p", "IT: " + answer.answer_it, { class: "answer-text", lang: "it" }));
      if (answer.answer_en) text.appendChild(el("p", "EN: " + answer.answer_en, { class: "answer-text", lang: "en" }));
      row.appendChild(text);
      row.appendChild(el("td", curatedState(answer) + " · v" + answer.version));
      row.appendChild(el("td", t("changed_by", { who: answer.updated_by, at: when(answer.updated_at) })));
      var actions = el("td", null, { class: "actions" });
      actions.appendChild(button(t("edit"), function () { editCurated(answer); },
        { class: "secondary", "data-key": "edit-" + answer.id }));
      actions.appendChild(button(answer.enabled ? t("disable") : t("enable"), function () {
        setEnabled(answer, !answer.enabled);
      }, { class: "secondary", "data-key": "toggle-" + answer.id }));
      actions.appendChild(button(t("history"), function () { loadHistory(answer); },
        { class: "secondary", "data-key": "history-" + answer.id }));
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  function editorTitle() {
    $("curated-form-title").textContent = editing.id === null
      ? t("editor_new")
      : t("editor_edit", { id: editing.id, version: editing.version });
    if (editing.conflict) renderConflict();
  }

  /* Where focus goes back when the editor closes: the control that opened it (or, when a
     re-render replaced it, the control with the same data-key), else "New curated answer". */
  function opener() {
    var active = document.activeElement;
    if (editing.open && editing.opener) return editing.opener;
    if (!active || active === document.body || $("curated-form").contains(active)) return null;
    return { node: active, key: active.getAttribute("data-key") };
  }

  function openEditor(answer, id, version) {
    editing = { open: true, id: id, version: version, conflict: null, opener: opener() };
    $("cur-questions").value = (answer.questions || []).join("\n");
    $("cur-answer-it").value = answer.answer_it || "";
    $("cur-answer-en").value = answer.answer_en || "";
    $("cur-links").value = (answer.links || []).map(function (link) {
      return link.title + " | " + link.url;
    }).join("\n");
    $("cur-expires").value = answer.expires_on || "";
    $("cur-enabled").checked = answer.enabled !== false;
    $("curated-conflict").hidden = true;
    $("curated-form").hidden = false;
    editorTitle();
    $("cur-questions").focus();
  }

  function editCurated(answer) { openEditor(answer, answer.id, answer.version); }

  /** Open the editor on a new answer prefilled with ``draft`` (from search, gaps, enquiries). */
  function writeCurated(draft, statusId) {
    if ($("admin-area").hidden) {
      say(statusId, "need_key", {}, true);
      $("admin-key").focus();
      return;
    }
    openEditor(draft, null, null);
    $("curated-form").scrollIntoView({ block: "start" });
    say("curated-status", "draft_opened");
  }

  function closeEditor() {
    var back = editing.opener;
    editing = { open: false, id: null, version: null, conflict: null, opener: null };
    $("curated-form").hidden = true;
    var target = back && back.node.isConnected ? back.node : null;
    if (!target && back && back.key) target = document.querySelector('[data-key="' + back.key + '"]');
    (target || $("curated-new")).focus();
  }

  function lines(text) {
    return String(text).split("\n").map(function (line) { return line.trim(); }).filter(Boolean);
  }

  function editorValue() {
    var links = lines($("cur-links").value).map(function (line) {
      var cut = line.lastIndexOf("|");
      var title = cut === -1 ? line : line.slice(0, cut).trim();
      var url = cut === -1 ? line : line.slice(cut + 1).trim();
      return { title: title || url, url: url };
    });
    return {
      questions: lines($("cur-questions").value),
      answer_it: $("cur-answer-it").value.trim() || null,
      answer_en: $("cur-answer-en").value.trim() || null,
      links: links,
      expires_on: $("cur-expires").value || null,
      enabled: $("cur-enabled").checked,
    };
  }

  function validationText(error) {
    var body = error.body;
    if (body && Array.isArray(body.detail)) {
      return body.detail.map(function (d) {
        return (Array.isArray(d.loc) ? d.loc.slice(1).join(".") + ": " : "") + d.msg;
      }).join("; ");
    }
    return error.message;
  }

  function saveCurated(event) {
    event.preventDefault();
    if (needName("curated-status")) return;
    var value = editorValue();
    var request = editing.id === null
      ? adminJson("POST", "/curated", value)
      : adminJson("PUT", "/curated/" + editing.id, Object.assign(value, { version: editing.version }));
    request.then(function (saved) {
      var created = editing.id === null;
      closeEditor();
      return loadCuratedQuietly().then(function () {
        say("curated-status", created ? "curated_created" : "curated_saved", { id: saved.id, version: saved.version });
      });
    }).catch(function (error) {
      if (error.status === 409 && error.body && error.body.current) {
        editing.conflict = error.body.current;
        // Saving again replaces their version with the text still in the form.
        editing.version = error.body.current.version;
        editorTitle();
        say("curated-status", "conflict_status", {}, true);
        return;
      }
      sayRaw("curated-status", validationText(error), true);
    });
  }

  function loadCuratedQuietly() {
    return admin("/curated").then(function (body) {
      views.curated.data = body.answers || [];
      renderCurated();
    });
  }

  function renderConflict() {
    var current = editing.conflict;
    var box = $("curated-conflict");
    clear(box);
    box.appendChild(el("p", t("conflict_intro", {
      version: current.version, who: current.updated_by, at: when(current.updated_at),
    }), { class: "strong" }));
    var dl = el("dl", null, { class: "stats" });
    [["cur_questions", (current.questions || []).join("\n")], ["cur_answer_it", current.answer_it],
     ["cur_answer_en", current.answer_en]].forEach(function (pair) {
      dl.appendChild(el("dt", t(pair[0])));
      dl.appendChild(el("dd", pair[1] || "—", { class: "pre" }));
    });
    box.appendChild(dl);
    box.appendChild(el("p", t("conflict_choice")));
    box.appendChild(button(t("conflict_load"), function () {
      openEditor(current, current.id, current.version);
    }, { class: "secondary" }));
    box.hidden = false;
  }

  function setEnabled(answer, enabled) {
    if (needName("curated-status")) return;
    adminJson("POST", "/curated/" + answer.id + (enabled ? "/enable" : "/disable"), { version: answer.version })
      .then(function (saved) {
        return loadCuratedQuietly().then(function () {
          say("curated-status", enabled ? "curated_enabled" : "curated_disabled", { id: saved.id });
        });
      }).catch(function (error) {
        if (error.status === 409) {
          say("curated-status", "conflict_reload", {}, true);
          return loadCuratedQuietly();
        }
        sayRaw("curated-status", error.message, true);
      });
  }

  var historyOpener = null;

  function loadHistory(answer) {
    historyOpener = "history-" + answer.id;
    admin("/curated/" + answer.id + "/history").then(function (body) {
      views.history.data = { id: answer.id, entries: body.history || [] };
      renderHistory();
      $("curated-history").hidden = false;
      $("curated-history-title").focus();
    }).catch(function (error) { sayRaw("curated-status", error.message, true); });
  }

  function closeHistory() {
    $("curated-history").hidden = true;
    var back = historyOpener && document.querySelector('[data-key="' + historyOpener + '"]');
    (back || $("curated-title")).focus();
  }

  function renderHistory() {
    var data = views.history.data;
    $("curated-history-title").textContent = t("history_title", { id: data.id });
    var list = $("curated-history-list");
    clear(list);
    data.entries.forEach(function (entry) {
      var item = el("li");
      item.appendChild(el("p", t("history_entry", {
        version: entry.version, action: t("action_" + entry.action), who: entry.actor, at: when(entry.at),
      }), { class: "strong" }));
      var snap = entry.snapshot || {};
      if (snap.answer_it) item.appendChild(el("p", "IT: " + snap.answer_it, { class: "answer-text", lang: "it" }));
      if (snap.answer_en) item.appendChild(el("p", "EN: " + snap.answer_en, { class: "answer-text", lang: "en" }));
      list.appendChild(item);
    });
  }

  /* --- enquiries -------------------------------------------------------------------- */
  function loadEnquiries() {
    return loadEnquiriesQuietly().then(function () {
      say("enquiries-status", "enquiries_loaded", { n: views.enquiries.data.length });
    }).catch(function (error) { sayRaw("enquiries-status", error.message, true); });
  }

  function renderEnquiries() {
    var box = $("enquiries");
    keepFocus(box, "enquiries-title", function () { drawEnquiries(box); });
  }

  function drawEnquiries(box) {
    clear(box);
    var items = views.enquiries.data || [];
    if (!items.length) box.appendChild(el("p", t("enquiries_none")));
    items.forEach(function (enquiry) { box.appendChild(enquiryCard(enquiry)); });
  }

  function enquiryCard(enquiry) {
    var card = el("article", null, { class: "enquiry", "aria-labelledby": "enq-" + enquiry.id, "data-id": enquiry.id });
    card.appendChild(el("h4", when(enquiry.created_at) + " · " + enquiry.email, { id: "enq-" + enquiry.id }));
    var delivery = t("delivery_" + enquiry.delivery, { n: enquiry.attempts });
    card.appendChild(el("p", [t("status_" + enquiry.status), delivery, enquiry.language].join(" · "), { class: "meta" }));
    var page = safeHref(enquiry.page_url);
    if (page) {
      var p = el("p", t("from_page") + " ", { class: "meta" });
      p.appendChild(el("a", page, { href: page }));
      card.appendChild(p);
    }
    if (enquiry.delivery === "failed" && enquiry.last_error) {
      card.appendChild(el("p", t("last_error", { error: enquiry.last_error }), { class: "error" }));
    }
    if (enquiry.message) {
      card.appendChild(el("p", t("visitor_message"), { class: "strong" }));
      card.appendChild(el("p", enquiry.message, { class: "answer-text" }));
    }
    var transcript = enquiry.transcript || [];
    if (transcript.length) {
      var details = el("details", null, { class: "transcript" });
      details.appendChild(el("summary", t("transcript", { n: transcript.length }), { "data-key": "transcript-" + enquiry.id }));
      var turns = el("ol");
      transcript.forEach(function (turn) {
        turns.appendChild(el("li", (turn.role === "user" ? t("who_visitor") : t("who_assistant")) + ": " + turn.content,
          { class: "answer-text" }));
      });
      details.appendChild(turns);
      card.appendChild(details);
    }
    if (enquiry.status === "answered") {
      card.appendChild(el("p", t("answered_by", { who: enquiry.answered_by || "—", at: when(enquiry.answered_at) }), { class: "meta" }));
    }
    var field = el("div", null, { class: "field" });
    var replyId = "reply-" + enquiry.id;
    field.appendChild(el("label", t("reply_label"), { for: replyId }));
    var reply = el("textarea", null, { id: replyId, rows: "3", maxlength: "8000", "data-key": "reply-" + enquiry.id });
    reply.value = enquiry.reply || "";
    field.appendChild(reply);
    card.appendChild(field);

    var status = el("p", null, { class: "status", role: "status", id: "enq-status-" + enquiry.id });
    var row = el("div", null, { class: "row" });
    row.appendChild(button(enquiry.status === "answered" ? t("save_reply") : t("mark_answered"), function () {
      if (needName("enquiries-status")) return;
      adminJson("POST", "/enquiries/" + enquiry.id + "/answered", { reply: reply.value.trim() || null })
        .then(loadEnquiriesQuietly)
        .then(function () { say("enquiries-status", "enquiry_answered"); })
        .catch(function (error) { status.textContent = error.message; });
    }, { "data-key": "answered-" + enquiry.id }));
    row.appendChild(button(t("make_draft"), function () {
      admin("/enquiries/" + enquiry.id + "/curated-draft").then(function (draft) {
        var key = enquiry.language === "it" ? "answer_it" : "answer_en";
        if (reply.value.trim()) draft[key] = reply.value.trim();
        draft.enabled = false;  // a draft: staff review it, then give it to visitors
        writeCurated(draft, "enquiries-status");
      }).catch(function (error) { status.textContent = error.message; });
    }, { class: "secondary", "data-key": "draft-" + enquiry.id }));
    if (enquiry.delivery !== "sent") {
      row.appendChild(button(t("retry_send"), function () {
        admin("/enquiries/" + enquiry.id + "/retry", { method: "POST" }).then(function (result) {
          return loadEnquiriesQuietly().then(function () {
            say("enquiries-status", result.delivery === "sent" ? "retry_sent" : "retry_failed", {},
              result.delivery !== "sent");
          });
        }).catch(function (error) { status.textContent = error.message; });
      }, { class: "secondary", "data-key": "retry-" + enquiry.id }));
    }
    var armed = false;
    var remove = button(t("delete"), function () {
      // Two presses: deleting removes the visitor's address and conversation for good.
      if (!armed) {
        armed = true;
        remove.textContent = t("delete_confirm");
        return;
      }
      admin("/enquiries/" + enquiry.id, { method: "DELETE" }).then(loadEnquiriesQuietly).then(function () {
        say("enquiries-status", "enquiry_deleted");
      }).catch(function (error) { status.textContent = error.message; });
    }, { class: "danger", "data-key": "delete-" + enquiry.id });
    row.appendChild(remove);
    card.appendChild(row);
    card.appendChild(status);
    return card;
  }

  function loadEnquiriesQuietly() {
    var status = $("enquiry-filter").value;
    return admin("/enquiries" + (status ? "?status=" + encodeURIComponent(status) : "")).then(function (body) {
      views.enquiries.data = body.enquiries || [];
      renderEnquiries();
    });
  }

  /* --- what visitors ask -------------------------------------------------------------- */
  function questionsQuery(format) {
    var params = new URLSearchParams();
    params.set("days", $("q-days").value || "30");
    if ($("q-language").value) params.set("language", $("q-language").value);
    params.set("limit", $("q-limit").value || "50");
    if (format) params.set("format", format);
    return "/questions?" + params.toString();
  }

  function loadQuestions() {
    say("questions-status", "computing");
    admin(questionsQuery()).then(function (body) {
      views.questions.data = body.groups || [];
      renderQuestions();
      say("questions-status", "questions_loaded", { n: views.questions.data.length });
    }).catch(function (error) { sayRaw("questions-status", error.message, true); });
  }

  function renderQuestions() {
    var body = $("questions");
    keepFocus(body, "questions-title", function () { drawQuestions(body); });
  }

  function drawQuestions(body) {
    clear(body);
    var groups = views.questions.data;
    if (!groups.length) {
      var empty = el("tr");
      empty.appendChild(el("td", t("questions_none"), { colspan: "9" }));
      body.appendChild(empty);
    }
    groups.forEach(function (group, index) {
      var row = el("tr");
      row.appendChild(el("td", group.question));
      row.appendChild(el("td", group.count));
      row.appendChild(el("td", Math.round(Number(group.answer_rate) * 100) + "%"));
      row.appendChild(el("td", group.feedback_up + " / " + group.feedback_down));
      row.appendChild(el("td", Object.keys(group.languages || {}).map(function (k) {
        return k + ": " + group.languages[k]; }).join(", ")));
      var pages = el("td");
      var list = el("ul", null, { class: "plain" });
      (group.pages || []).forEach(function (page) {
        var item = el("li");
        var href = safeHref(page.url);
        item.appendChild(href ? el("a", page.url, { href: href }) : el("span", page.url));
        item.appendChild(document.createTextNode(" (" + page.count + ")"));
        list.appendChild(item);
      });
      pages.appendChild(list);
      row.appendChild(pages);
      row.appendChild(el("td", (group.examples || []).filter(function (q) { return q !== group.question; }).join(" | ")));
      row.appendChild(el("td", when(group.last_asked)));
      var actions = el("td");
      actions.appendChild(button(t("write_curated"), function () {
        writeCurated({ questions: wordings(group.question, group.examples) }, "questions-status");
      }, { class: "secondary", "data-key": "question-" + index }));
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  function wordings(question, examples) {
    var all = [question].concat(examples || []);
    return all.filter(function (q, i) { return q && all.indexOf(q) === i; }).slice(0, 20);
  }

  /* --- gaps ----------------------------------------------------------------------------- */
  function loadGaps() {
    var days = $("gap-days").value || "30";
    admin("/gaps?days=" + encodeURIComponent(days)).then(function (report) {
      views.gaps.data = report.groups;
      renderGaps();
      say("admin-status", "gaps_loaded", { n: report.groups.length });
    }).catch(function (error) { sayRaw("admin-status", error.message, true); });
  }

  function renderGaps() {
    var body = $("gaps");
    keepFocus(body, "gaps-title", function () { drawGaps(body); });
  }

  function drawGaps(body) {
    clear(body);
    var groups = views.gaps.data;
    if (!groups.length) {
      var row = el("tr");
      row.appendChild(el("td", t("gaps_none"), { colspan: "7" }));
      body.appendChild(row);
    }
    groups.forEach(function (group, index) {
      var row = el("tr");
      row.appendChild(el("td", group.question));
      row.appendChild(el("td", group.count));
      row.appendChild(el("td", group.refused));
      row.appendChild(el("td", group.rated_down));
      row.appendChild(el("td", when(group.last_asked)));
      row.appendChild(el("td", group.examples.filter(function (q) { return q !== group.question; }).join(" | ")));
      var actions = el("td");
      actions.appendChild(button(t("write_curated"), function () {
        writeCurated({ questions: wordings(group.question, group.examples) }, "admin-status");
      }, { class: "secondary", "data-key": "gap-" + index }));
      row.appendChild(actions);
      body.appendChild(row);
    });
  }

  /* --- the key ------------------------------------------------------------------------- */
  function unlock() {
    if (!adminKey()) { $("admin-area").hidden = true; return; }
    loadStats().then(function () {
      $("admin-area").hidden = false;
      say("admin-status", "key_accepted");
      refreshSync();
      loadCurated();
    }).catch(function (error) {
      $("admin-area").hidden = true;
      sayRaw("admin-status", error.message, true);
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
    applyLanguage(initialLanguage());
    $("staff-name").value = stored(NAME_STORAGE);
    $("staff-name").addEventListener("change", function () { store(NAME_STORAGE, $("staff-name").value.trim()); });
    document.querySelectorAll("[data-set-lang]").forEach(function (node) {
      node.addEventListener("click", function () {
        store(LANG_STORAGE, node.getAttribute("data-set-lang"));
        applyLanguage(node.getAttribute("data-set-lang"));
      });
    });
    $("search-form").addEventListener("submit", search);
    $("key-form").addEventListener("submit", function (event) {
      event.preventDefault();
      if ($("admin-key").value) store(KEY_STORAGE, $("admin-key").value);
      store(NAME_STORAGE, $("staff-name").value.trim());
      $("admin-key").value = "";
      unlock();
    });
    $("forget-key").addEventListener("click", function () {
      store(KEY_STORAGE, "");
      store(NAME_STORAGE, "");
      $("staff-name").value = "";
      $("admin-area").hidden = true;
      say("admin-status", "key_forgotten");
    });
    $("sync-start").addEventListener("click", startSync);
    $("sync-refresh").addEventListener("click", refreshSync);
    $("curated-new").addEventListener("click", function () { openEditor({ questions: [] }, null, null); });
    $("curated-load").addEventListener("click", loadCurated);
    $("curated-csv").addEventListener("click", function () { download("/curated/export?format=csv", "curated.csv", "curated-status"); });
    $("curated-json").addEventListener("click", function () { download("/curated/export?format=json", "curated.json", "curated-status"); });
    $("curated-form").addEventListener("submit", saveCurated);
    $("curated-cancel").addEventListener("click", closeEditor);
    // Escape leaves the editor (as Cancel) and the history, focus back where they were opened.
    $("curated-form").addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); closeEditor(); }
    });
    $("curated-history-close").addEventListener("click", closeHistory);
    $("curated-history").addEventListener("keydown", function (event) {
      if (event.key === "Escape") { event.preventDefault(); closeHistory(); }
    });
    $("enquiries-load").addEventListener("click", loadEnquiries);
    $("questions-load").addEventListener("click", loadQuestions);
    $("questions-csv").addEventListener("click", function () { download(questionsQuery("csv"), "questions.csv", "questions-status"); });
    $("gaps-load").addEventListener("click", loadGaps);
    unlock();
  });
})();
