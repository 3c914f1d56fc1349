/*
 * Kilometro Rosso assistant: a chat launcher any page can embed with one tag.
 *
 *   <script src="https://HOST/widget.js" defer
 *           data-api="https://HOST" data-lang="it" data-title="Assistente" data-color="#c8102e"></script>
 *
 * A web component with a shadow root: the host page's CSS cannot reach inside and ours
 * cannot leak out. Everything from the server (answers, source titles, snippets) is put in
 * the page as text (textContent), never parsed as HTML; only http(s) URLs become links.
 */
(function () {
  "use strict";

  var TAG = "kmr-chat";
  if (window.customElements && window.customElements.get(TAG)) return;

  var SCRIPT = document.currentScript;
  var MAX_HISTORY = 10;
  var MAX_TURN_CHARS = 2000;

  var TEXT = {
    en: {
      open: "Ask the Kilometro Rosso assistant",
      close: "Close the chat",
      title: "Kilometro Rosso assistant",
      intro: "Ask about the district: companies, labs, events, getting here.",
      label: "Your question",
      placeholder: "Type your question…",
      send: "Send",
      reset: "New conversation",
      you: "You",
      bot: "Assistant",
      sources: "Sources",
      thinking: "Looking it up…",
      helpful: "Helpful answer",
      unhelpful: "Unhelpful answer",
      thanks: "Thanks for your feedback.",
      feedbackFailed: "Feedback could not be sent.",
      error: "Sorry, something went wrong. Please try again.",
      busy: "Too many questions in a short time. Please wait a minute.",
      down: "The assistant is temporarily unavailable. Please try again shortly.",
      tooLong: "That question is too long. Please shorten it.",
      citation: "Source",
    },
    it: {
      open: "Chiedi all'assistente del Kilometro Rosso",
      close: "Chiudi la chat",
      title: "Assistente Kilometro Rosso",
      intro: "Chiedi del distretto: aziende, laboratori, eventi, come arrivare.",
      label: "La tua domanda",
      placeholder: "Scrivi la tua domanda…",
      send: "Invia",
      reset: "Nuova conversazione",
      you: "Tu",
      bot: "Assistente",
      sources: "Fonti",
      thinking: "Sto cercando…",
      helpful: "Risposta utile",
      unhelpful: "Risposta non utile",
      thanks: "Grazie per il tuo riscontro.",
      feedbackFailed: "Non è stato possibile inviare il riscontro.",
      error: "Qualcosa è andato storto. Riprova.",
      busy: "Troppe domande in poco tempo. Attendi un minuto.",
      down: "L'assistente è momentaneamente non disponibile. Riprova tra poco.",
      tooLong: "La domanda è troppo lunga. Accorciala, per favore.",
      citation: "Fonte",
    },
  };

  var CSS = [
    ":host { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;",
    "  font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #1d1d1f;",
    "  --kmr-accent: #b3122b; --kmr-accent-text: #ffffff; }",
    "*, *::before, *::after { box-sizing: border-box; }",
    "[hidden] { display: none !important; }",
    ".launcher { all: unset; box-sizing: border-box; display: flex; align-items: center; gap: 8px;",
    "  padding: 12px 18px; border-radius: 999px; cursor: pointer; background: var(--kmr-accent);",
    "  color: var(--kmr-accent-text); font-weight: 600; box-shadow: 0 4px 14px rgba(0,0,0,.25); }",
    ".launcher:focus-visible, button:focus-visible, textarea:focus-visible, a:focus-visible {",
    "  outline: 3px solid #1a5fb4; outline-offset: 2px; }",
    ".panel { position: fixed; right: 20px; bottom: 84px; width: 380px; max-width: calc(100vw - 40px);",
    "  height: 560px; max-height: calc(100vh - 110px); display: flex; flex-direction: column;",
    "  background: #fff; border-radius: 14px; box-shadow: 0 10px 40px rgba(0,0,0,.3); overflow: hidden; }",
    ".head { display: flex; align-items: center; gap: 8px; padding: 10px 12px;",
    "  background: var(--kmr-accent); color: var(--kmr-accent-text); }",
    ".head h2 { flex: 1; margin: 0; font-size: 16px; font-weight: 650; }",
    ".head button { all: unset; cursor: pointer; padding: 6px 8px; border-radius: 6px; font-size: 13px;",
    "  color: var(--kmr-accent-text); border: 1px solid rgba(255,255,255,.7); }",
    ".head button.x { font-size: 18px; line-height: 1; border-color: transparent; }",
    ".log { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px;",
    "  background: #f6f6f7; }",
    ".intro { margin: 0; color: #3a3a3c; }",
    ".msg { max-width: 92%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap;",
    "  overflow-wrap: anywhere; }",
    ".msg.user { align-self: flex-end; background: #e4e9f5; color: #10182b; }",
    ".msg.bot { align-self: flex-start; background: #fff; border: 1px solid #d8d8dc; }",
    ".who { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }",
    ".msg a { color: #0b4fa8; }",
    ".cite { font-size: 12px; vertical-align: super; text-decoration: none; font-weight: 600; }",
    ".notice { margin: 6px 0 0; font-size: 13px; color: #6b4500; }",
    ".sources { margin: 8px 0 0; padding: 8px 0 0 18px; border-top: 1px solid #e5e5ea; font-size: 13px;",
    "  white-space: normal; }",
    ".sources-title { margin: 8px 0 0; font-size: 13px; font-weight: 600; white-space: normal; }",
    ".rate { display: flex; gap: 6px; align-items: center; margin-top: 8px; white-space: normal; }",
    ".rate button { all: unset; cursor: pointer; padding: 3px 8px; border: 1px solid #c7c7cc;",
    "  border-radius: 6px; font-size: 15px; background: #fff; }",
    ".rate button[aria-pressed='true'] { background: #e4e9f5; border-color: #1a5fb4; }",
    ".rate .status { font-size: 12px; color: #3a3a3c; }",
    ".error { color: #8a1020; }",
    "form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e5e5ea; background: #fff; }",
    "label.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }",
    "textarea { flex: 1; resize: none; min-height: 42px; max-height: 120px; padding: 9px 10px;",
    "  font: inherit; color: inherit; border: 1px solid #8e8e93; border-radius: 8px; background: #fff; }",
    ".send { all: unset; cursor: pointer; padding: 0 14px; border-radius: 8px; font-weight: 600;",
    "  background: var(--kmr-accent); color: var(--kmr-accent-text); }",
    ".send[disabled] { opacity: .55; cursor: default; }",
    "@media (max-width: 520px) {",
    "  :host { right: 12px; bottom: 12px; }",
    "  .panel { right: 0; bottom: 0; width: 100vw; max-width: 100vw; height: 100%; max-height: 100%;",
    "    border-radius: 0; position: fixed; top: 0; left: 0; }",
    "}",
  ].join("\n");

  /* --- small helpers ----------------------------------------------------------------- */
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (name) {
        node.setAttribute(name, attrs[name]);
      });
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  /** The URL as a string when it is http(s), else null: nothing else ever becomes an href. */
  function safeHref(url) {
    try {
      var parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) {
      return null;
    }
  }

  function pickLanguage(explicit) {
    var lang = (explicit || document.documentElement.lang || navigator.language || "en").toLowerCase();
    return lang.indexOf("it") === 0 ? "it" : "en";
  }

  function scriptOrigin() {
    try {
      return new URL(SCRIPT.src, window.location.href).origin;
    } catch (e) {
      return window.location.origin;
    }
  }

  function validColor(value) {
    return typeof value === "string" && /^(#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}|rgb\([0-9 ,.%]+\))$/.test(value)
      ? value
      : null;
  }

  /** Parse a text/event-stream body incrementally: feed(chunk) -> [{event, data}]. */
  function SSEParser() {
    var buffer = "";
    this.feed = function (chunk) {
      buffer += chunk.replace(/\r\n?/g, "\n");
      var events = [];
      var cut;
      while ((cut = buffer.indexOf("\n\n")) !== -1) {
        var block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        var name = "message";
        var data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("event:") === 0) name = line.slice(6).trim();
          else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
        });
        if (data.length) events.push({ event: name, data: data.join("\n") });
      }
      return events;
    };
  }

  /* --- the element ------------------------------------------------------------------- */
  function KmrChat() {
    return Reflect.construct(HTMLElement, [], KmrChat);
  }
  KmrChat.prototype = Object.create(HTMLElement.prototype);
  KmrChat.prototype.constructor = KmrChat;
  Object.setPrototypeOf(KmrChat, HTMLElement);

  KmrChat.prototype.connectedCallback = function () {
    if (this._ready) return;
    this._ready = true;
    var opts = this._options || {};
    this.api = (opts.api || scriptOrigin()).replace(/\/+$/, "");
    this.lang = pickLanguage(opts.lang);
    this.t = TEXT[this.lang];
    this.heading = opts.title || this.t.title;
    this.storageKey = "kmr-chat:v1:" + this.api;
    var color = validColor(opts.color);
    if (color) this.style.setProperty("--kmr-accent", color);
    this._build();
    this._restore();
  };

  KmrChat.prototype._build = function () {
    var t = this.t;
    var root = this.attachShadow({ mode: "open" });
    if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      root.adoptedStyleSheets = [sheet];
    } else {
      root.appendChild(el("style", null, CSS));
    }

    var panelId = "kmr-panel";
    this.launcher = el("button", {
      class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": panelId,
    });
    this.launcher.appendChild(el("span", { "aria-hidden": "true" }, "💬"));
    this.launcher.appendChild(el("span", null, t.open));

    this.panel = el("section", { class: "panel", id: panelId, role: "dialog", "aria-modal": "false",
                                 "aria-labelledby": "kmr-title" });
    this.panel.hidden = true;
    var head = el("div", { class: "head" });
    head.appendChild(el("h2", { id: "kmr-title" }, this.heading));
    this.resetButton = el("button", { type: "button", class: "reset" }, t.reset);
    this.closeButton = el("button", { type: "button", class: "x", "aria-label": t.close }, "✕");
    head.appendChild(this.resetButton);
    head.appendChild(this.closeButton);

    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                           "aria-label": this.heading, tabindex: "0" });
    this.intro = el("p", { class: "intro" }, t.intro);
    this.log.appendChild(this.intro);

    this.form = el("form", { "aria-label": this.heading });
    var inputId = "kmr-question";
    this.form.appendChild(el("label", { class: "sr", for: inputId }, t.label));
    this.input = el("textarea", { id: inputId, rows: "1", placeholder: t.placeholder, maxlength: "1000",
                                  autocomplete: "off" });
    this.sendButton = el("button", { type: "submit", class: "send" }, t.send);
    this.form.appendChild(this.input);
    this.form.appendChild(this.sendButton);

    this.panel.appendChild(head);
    this.panel.appendChild(this.log);
    this.panel.appendChild(this.form);
    root.appendChild(this.panel);
    root.appendChild(this.launcher);

    var self = this;
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.toggle(false); });
    this.resetButton.addEventListener("click", function () { self.reset(); });
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.ask(self.input.value);
    });
    this.input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        self.ask(self.input.value);
      }
    });
    this.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") self.toggle(false);
    });
  };

  KmrChat.prototype.toggle = function (open) {
    var show = open === undefined ? this.panel.hidden : open;
    this.panel.hidden = !show;
    this.launcher.setAttribute("aria-expanded", show ? "true" : "false");
    this._state().open = show;
    this._save();
    if (show) this.input.focus();
    else this.launcher.focus();
  };

  /* --- conversation state, kept across pages of this tab ------------------------------ */
  KmrChat.prototype._state = function () {
    if (!this.state) this.state = { open: false, messages: [] };
    return this.state;
  };

  KmrChat.prototype._save = function () {
    try {
      window.sessionStorage.setItem(this.storageKey, JSON.stringify(this._state()));
    } catch (e) { /* storage full or disabled: the chat still works for this page */ }
  };

  KmrChat.prototype._restore = function () {
    var saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "null");
    } catch (e) { saved = null; }
    if (!saved || !Array.isArray(saved.messages)) return;
    var self = this;
    this.state = { open: !!saved.open, messages: [] };
    saved.messages.forEach(function (message) {
      if (!message || (message.role !== "user" && message.role !== "assistant")) return;
      // An answer cut short by leaving the page: nothing worth showing again.
      if (message.role === "assistant" && !message.text) return;
      self.state.messages.push(message);
      self._render(message);
    });
    if (saved.open) {
      this.panel.hidden = false;
      this.launcher.setAttribute("aria-expanded", "true");
    }
  };

  KmrChat.prototype.reset = function () {
    if (this.controller) this.controller.abort();
    this.state = { open: true, messages: [] };
    while (this.log.lastChild && this.log.lastChild !== this.intro) this.log.removeChild(this.log.lastChild);
    this._save();
    this.input.value = "";
    this.input.focus();
  };

  KmrChat.prototype._history = function () {
    return this._state().messages
      .filter(function (m) { return m.text && !m.error; })
      .slice(-MAX_HISTORY)
      .map(function (m) { return { role: m.role, content: String(m.text).slice(0, MAX_TURN_CHARS) }; });
  };

  /* --- rendering: text only ----------------------------------------------------------- */
  KmrChat.prototype._render = function (message) {
    var node = el("div", { class: "msg " + (message.role === "user" ? "user" : "bot") });
    node.appendChild(el("span", { class: "who" }, (message.role === "user" ? this.t.you : this.t.bot) + ": "));
    var body = el("div", { class: "body" });
    node.appendChild(body);
    message.node = node;
    message.body = body;
    this.log.appendChild(node);
    this._fill(message);
    return node;
  };

  /** Answer text with [n] markers turned into links to the cited sources (DOM APIs only). */
  KmrChat.prototype._fill = function (message) {
    var body = message.body;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (message.error) {
      body.appendChild(el("span", { class: "error", role: "alert" }, message.text));
      return;
    }
    if (message.pending && !message.text) {
      body.appendChild(el("span", null, this.t.thinking));
      return;
    }
    var sources = message.sources || [];
    var text = String(message.text || "");
    var pattern = /\[(\d{1,2})\]/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var source = null;
      for (var i = 0; i < sources.length; i++) {
        if (sources[i] && Number(sources[i].n) === Number(match[1])) source = sources[i];
      }
      var href = source ? safeHref(source.url) : null;
      if (!href) continue;
      body.appendChild(document.createTextNode(text.slice(last, match.index)));
      var link = el("a", { class: "cite", href: href, target: "_blank", rel: "noopener noreferrer",
                           title: String(source.title || "") }, "[" + match[1] + "]");
      link.setAttribute("aria-label", this.t.citation + " " + match[1] + ": " + String(source.title || href));
      body.appendChild(link);
      last = pattern.lastIndex;
    }
    body.appendChild(document.createTextNode(text.slice(last)));

    if (message.notice) body.appendChild(el("p", { class: "notice" }, message.notice));
    if (message.role === "assistant" && sources.length && !message.pending) {
      body.appendChild(el("p", { class: "sources-title" }, this.t.sources));
      var list = el("ol", { class: "sources" });
      sources.forEach(function (src) {
        var item = el("li", { value: String(Number(src.n) || 0) });
        var url = safeHref(src.url);
        var label = String(src.title || src.url || "");
        if (url) {
          item.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, label));
        } else {
          item.appendChild(el("span", null, label));
        }
        list.appendChild(item);
      });
      body.appendChild(list);
    }
    if (message.role === "assistant" && message.messageId && !message.pending) {
      this._ratingControls(message, body);
    }
  };

  KmrChat.prototype._ratingControls = function (message, body) {
    var self = this;
    var row = el("div", { class: "rate", role: "group", "aria-label": this.t.helpful + " / " + this.t.unhelpful });
    var up = el("button", { type: "button", "aria-label": this.t.helpful, "aria-pressed": String(message.rating === "up") }, "👍");
    var down = el("button", { type: "button", "aria-label": this.t.unhelpful, "aria-pressed": String(message.rating === "down") }, "👎");
    var status = el("span", { class: "status", role: "status" }, message.rating ? this.t.thanks : "");
    up.addEventListener("click", function () { self.rate(message, "up", up, down, status); });
    down.addEventListener("click", function () { self.rate(message, "down", up, down, status); });
    row.appendChild(up);
    row.appendChild(down);
    row.appendChild(status);
    body.appendChild(row);
  };

  KmrChat.prototype.rate = function (message, rating, up, down, status) {
    var self = this;
    fetch(this.api + "/api/feedback", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ message_id: message.messageId, rating: rating }),
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      message.rating = rating;
      up.setAttribute("aria-pressed", String(rating === "up"));
      down.setAttribute("aria-pressed", String(rating === "down"));
      status.textContent = self.t.thanks;
      self._save();
    }).catch(function () {
      status.textContent = self.t.feedbackFailed;
    });
  };

  KmrChat.prototype._scroll = function () {
    this.log.scrollTop = this.log.scrollHeight;
  };

  /* --- asking: POST, then read the Server-Sent Events as they come --------------------- */
  KmrChat.prototype.ask = function (raw) {
    var question = String(raw || "").trim();
    if (!question || this.busy) return;
    var self = this;
    var t = this.t;
    var history = this._history();
    var state = this._state();
    var user = { role: "user", text: question };
    state.messages.push(user);
    this._render(user);
    var reply = { role: "assistant", text: "", sources: [], pending: true };
    state.messages.push(reply);
    this._render(reply);
    this._scroll();
    this.input.value = "";
    this._setBusy(true);
    this._save();

    var pageUrl = safeHref(window.location.origin + window.location.pathname);
    var controller = window.AbortController ? new AbortController() : null;
    this.controller = controller;

    function fail(text) {
      reply.pending = false;
      reply.error = true;
      reply.text = text;
      self._fill(reply);
    }

    fetch(this.api + "/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify({ question: question, history: history, page_url: pageUrl }),
      signal: controller ? controller.signal : undefined,
    }).then(function (response) {
      if (!response.ok || !response.body) {
        var byStatus = { 429: t.busy, 503: t.down, 413: t.tooLong, 422: t.tooLong };
        fail(byStatus[response.status] || t.error);
        return null;
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var parser = new SSEParser();
      function handle(event) {
        var data;
        try { data = JSON.parse(event.data); } catch (e) { return; }
        if (event.event === "sources") {
          reply.sources = Array.isArray(data.sources) ? data.sources : [];
        } else if (event.event === "delta") {
          reply.text += String(data.text || "");
          self._fill(reply);
        } else if (event.event === "done") {
          reply.pending = false;
          reply.text = String(data.answer || "");
          reply.sources = Array.isArray(data.sources) ? data.sources : reply.sources;
          reply.messageId = String(data.message_id || "");
          reply.notice = data.notice ? String(data.notice) : null;
          reply.abstained = !!data.abstained;
          self._fill(reply);
        } else if (event.event === "error") {
          fail(data.message ? String(data.message) : t.error);
        }
        self._scroll();
      }
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) {
            if (reply.pending) fail(t.error);
            return null;
          }
          parser.feed(decoder.decode(chunk.value, { stream: true })).forEach(handle);
          return pump();
        });
      }
      return pump();
    }).catch(function (error) {
      if (error && error.name === "AbortError") return;
      fail(t.error);
    }).then(function () {
      if (self.controller === controller) self.controller = null;
      self._setBusy(false);
      self._save();
      self._scroll();
    });
  };

  KmrChat.prototype._setBusy = function (busy) {
    this.busy = busy;
    this.sendButton.disabled = busy;
    this.log.setAttribute("aria-busy", busy ? "true" : "false");
  };

  /* Keep the DOM nodes out of what is saved. */
  var serialise = KmrChat.prototype._save;
  KmrChat.prototype._save = function () {
    var state = this._state();
    var clean = {
      open: state.open,
      messages: state.messages.map(function (m) {
        return { role: m.role, text: m.text, sources: m.sources, messageId: m.messageId, notice: m.notice,
                 rating: m.rating, error: m.error, abstained: m.abstained };
      }),
    };
    var original = this.state;
    this.state = clean;
    try { serialise.call(this); } finally { this.state = original; }
  };

  window.customElements.define(TAG, KmrChat);

  function mount() {
    if (document.querySelector(TAG)) return;
    var widget = document.createElement(TAG);
    var data = SCRIPT ? SCRIPT.dataset : {};
    widget._options = {
      api: data.api, lang: data.lang, title: data.title, color: data.color || data.colour,
    };
    document.body.appendChild(widget);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
