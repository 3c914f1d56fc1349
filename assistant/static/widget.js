/*
 * The site's assistant: a chat launcher any page can embed with one tag.
 *
 *   <script src="https://HOST/widget.js" defer
 *           data-api="https://HOST" data-lang="it" data-title="Assistente" data-color="#c8102e"
 *           data-greeting="..." data-starters="Question one|Question two"
 *           data-position="bottom-left" data-powered-by="off"></script>
 *
 * A web component with a shadow root: the host page's CSS cannot reach inside and ours
 * cannot leak out. Everything from the server (answers, curated answers, source titles) and
 * from the site owner (greeting, starters) is put in the page as text (textContent), never
 * parsed as HTML; only http(s) URLs become links. The service fills in the site's names where
 * the texts below name them (KMR_SITE_SHORT_NAME, escaped as a string; see routes/pages.py);
 * data-title still wins over the default title.
 *
 * Privacy: no cookies, no localStorage. The open conversation (its messages, their ids, the
 * conversation id) is kept in this tab's sessionStorage under "kmr-chat:v1:<api origin>", gone
 * when the tab closes or when the visitor chooses "forget this conversation". Nothing leaves
 * the page but the visitor's questions, ratings, and an enquiry they choose to send.
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
      open: "Ask the {{site_short_name}} assistant",
      close: "Close the chat",
      title: "{{site_short_name}} assistant",
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
      tools: "Conversation",
      askDistrict: "Ask the district",
      offer: "The district's staff can answer this by e-mail.",
      forget: "Forget this conversation",
      forgotten: "The conversation was deleted from this page and from the service.",
      forgetFailed: "The conversation could not be deleted. Please try again.",
      starters: "Suggested questions",
      powered: "Answers come from the district's own pages.",
      curatedFrom: "Answer from the district, {date}",
      didYouMean: "Did you mean (an answer from the district):",
      links: "Links",
      handoffTitle: "Ask the district",
      handoffIntro: "Send this conversation to the district's staff; they will reply by e-mail.",
      email: "Your e-mail address",
      message: "Your message (optional)",
      messageNeeded: "Your message",
      consent: "I agree that the district stores this conversation, this page's address and my e-mail address to answer me.",
      sendEnquiry: "Send to the district",
      cancel: "Back to the chat",
      sending: "Sending…",
      enquirySent: "Your enquiry has been sent to the district: they will reply to the address you gave.",
      enquiryKept: "Your enquiry is kept; the mail server is not answering now and we will retry.",
      invalidEmail: "Please check your e-mail address.",
      needConsent: "Please tick the box to agree, or go back to the chat.",
      needMessage: "Please write your message.",
      enquiryBusy: "Too many enquiries from this connection. Please try again later.",
      enquiryUnavailable: "Enquiries cannot be sent from this site at the moment.",
      enquiryFailed: "Your enquiry could not be sent. Please try again.",
    },
    it: {
      open: "Chiedi all'assistente del {{site_short_name}}",
      close: "Chiudi la chat",
      title: "Assistente {{site_short_name}}",
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
      tools: "Conversazione",
      askDistrict: "Chiedi al distretto",
      offer: "Il personale del distretto può risponderti per e-mail.",
      forget: "Dimentica questa conversazione",
      forgotten: "La conversazione è stata cancellata da questa pagina e dal servizio.",
      forgetFailed: "Non è stato possibile cancellare la conversazione. Riprova.",
      starters: "Domande suggerite",
      powered: "Le risposte vengono dalle pagine del distretto.",
      curatedFrom: "Risposta del distretto, {date}",
      didYouMean: "Intendevi (una risposta del distretto):",
      links: "Link",
      handoffTitle: "Chiedi al distretto",
      handoffIntro: "Invia questa conversazione al personale del distretto: ti risponderà per e-mail.",
      email: "Il tuo indirizzo e-mail",
      message: "Il tuo messaggio (facoltativo)",
      messageNeeded: "Il tuo messaggio",
      consent: "Acconsento che il distretto conservi questa conversazione, l'indirizzo di questa pagina e il mio indirizzo e-mail per rispondermi.",
      sendEnquiry: "Invia al distretto",
      cancel: "Torna alla chat",
      sending: "Invio in corso…",
      enquirySent: "La tua richiesta è stata inviata al distretto: ti risponderanno all'indirizzo che hai indicato.",
      enquiryKept: "La tua richiesta è stata salvata; il server di posta ora non risponde e riproveremo.",
      invalidEmail: "Controlla il tuo indirizzo e-mail.",
      needConsent: "Spunta la casella per acconsentire, oppure torna alla chat.",
      needMessage: "Scrivi il tuo messaggio.",
      enquiryBusy: "Troppe richieste da questa connessione. Riprova più tardi.",
      enquiryUnavailable: "Al momento non è possibile inviare richieste da questo sito.",
      enquiryFailed: "Non è stato possibile inviare la richiesta. Riprova.",
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
    ":host([data-position='bottom-left']) { right: auto; left: 20px; }",
    ":host([data-position='bottom-left']) .panel { right: auto; left: 20px; }",
    ".tools { display: flex; flex-wrap: wrap; gap: 6px; padding: 6px 10px; background: #fff;",
    "  border-bottom: 1px solid #e5e5ea; }",
    ".tools button, .offer button, .starter, .handoff button { all: unset; cursor: pointer;",
    "  padding: 4px 9px; border: 1px solid #8e8e93; border-radius: 6px; font-size: 13px;",
    "  background: #fff; color: #1d1d1f; }",
    ".starters { display: flex; flex-direction: column; align-items: flex-start; gap: 6px; margin: 0;",
    "  padding: 0; list-style: none; }",
    ".starters-title { margin: 4px 0 0; font-size: 13px; font-weight: 600; color: #3a3a3c; }",
    ".starter { white-space: normal; background: #fff; color: #10182b; border-color: #1a5fb4; }",
    ".offer { margin: 8px 0 0; font-size: 13px; white-space: normal; }",
    ".offer button { margin-left: 4px; }",
    ".suggested-title { margin: 8px 0 4px; font-size: 13px; font-weight: 600; white-space: normal; }",
    ".suggested { display: flex; flex-direction: column; align-items: flex-start; gap: 6px; margin: 0;",
    "  padding: 0; list-style: none; }",
    ".suggested button { all: unset; cursor: pointer; padding: 4px 9px; border: 1px solid #1a5fb4;",
    "  border-radius: 6px; font-size: 13px; background: #fff; color: #10182b; white-space: normal; }",
    ".curated { margin: 0 0 6px; font-size: 12px; font-weight: 650; color: #5c0a17;",
    "  text-transform: none; white-space: normal; }",
    ".links-title { margin: 8px 0 0; font-size: 13px; font-weight: 600; white-space: normal; }",
    ".links { margin: 4px 0 0; padding-left: 18px; font-size: 13px; white-space: normal; }",
    ".powered { margin: 0; padding: 4px 10px 8px; font-size: 12px; color: #48484a; background: #fff; }",
    ".status-line { margin: 0; padding: 4px 12px; font-size: 13px; color: #1d1d1f; background: #fff; }",
    ".status-line:empty { display: none; }",
    ".handoff { flex: 1; overflow-y: auto; padding: 12px; background: #fff; display: block; }",
    ".handoff h3 { margin: 0 0 6px; font-size: 15px; }",
    ".handoff p { margin: 0 0 10px; }",
    ".handoff .field { display: block; margin: 0 0 10px; }",
    ".handoff .field > label { display: block; font-weight: 600; font-size: 13px; margin-bottom: 3px; }",
    ".handoff input[type=email], .handoff textarea { width: 100%; padding: 7px 9px; font: inherit;",
    "  color: inherit; border: 1px solid #8e8e93; border-radius: 6px; background: #fff; }",
    ".handoff textarea { min-height: 70px; resize: vertical; }",
    ".handoff .consent { display: flex; gap: 8px; align-items: flex-start; font-size: 13px; margin: 0 0 10px; }",
    ".handoff .consent input { margin-top: 3px; }",
    ".handoff .actions { display: flex; gap: 8px; flex-wrap: wrap; }",
    ".handoff button.primary { background: var(--kmr-accent); color: var(--kmr-accent-text);",
    "  border-color: transparent; font-weight: 600; }",
    ".handoff .result { margin: 10px 0 0; }",
    ".handoff .result.error { color: #8a1020; }",
    ".handoff button[disabled] { opacity: .55; cursor: default; }",
    "input:focus-visible { outline: 3px solid #1a5fb4; outline-offset: 2px; }",
    "@media (max-width: 520px) {",
    "  :host { right: 12px; bottom: 12px; }",
    "  :host([data-position='bottom-left']) { left: 12px; right: auto; }",
    "  :host([data-position='bottom-left']) .panel { left: 0; }",
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
    this.greeting = opts.greeting || this.t.intro;
    this.starters = parseStarters(opts.starters);
    this.showPowered = !/^(off|false|no|0)$/i.test(String(opts.poweredBy || "").trim());
    this.storageKey = "kmr-chat:v1:" + this.api;
    if (opts.position === "bottom-left") this.setAttribute("data-position", "bottom-left");
    var color = validColor(opts.color);
    if (color) this.style.setProperty("--kmr-accent", color);
    this._build();
    this._restore();
    this._showStarters();
  };

  /** "Question one | Question two" (or a JSON array of strings): at most 4, each one line. */
  function parseStarters(raw) {
    if (!raw) return [];
    var items;
    try {
      items = /^\s*\[/.test(raw) ? JSON.parse(raw) : String(raw).split("|");
    } catch (e) {
      items = String(raw).split("|");
    }
    if (!Array.isArray(items)) return [];
    return items
      .map(function (item) { return String(item).replace(/\s+/g, " ").trim().slice(0, 200); })
      .filter(Boolean)
      .slice(0, 4);
  }

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
                                 "aria-labelledby": "kmr-title", lang: this.lang });
    this.panel.hidden = true;
    var head = el("div", { class: "head" });
    head.appendChild(el("h2", { id: "kmr-title" }, this.heading));
    this.resetButton = el("button", { type: "button", class: "reset" }, t.reset);
    this.closeButton = el("button", { type: "button", class: "x", "aria-label": t.close }, "✕");
    head.appendChild(this.resetButton);
    head.appendChild(this.closeButton);

    // Always reachable: ask a person, or delete what this conversation left on the service.
    var tools = el("div", { class: "tools", role: "group", "aria-label": t.tools });
    this.handoffButton = el("button", { type: "button", class: "ask-district" }, t.askDistrict);
    this.forgetButton = el("button", { type: "button", class: "forget" }, t.forget);
    tools.appendChild(this.handoffButton);
    tools.appendChild(this.forgetButton);
    this.statusLine = el("p", { class: "status-line", role: "status" });

    this.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
                           "aria-label": this.heading, tabindex: "0" });
    this.intro = el("p", { class: "intro" }, this.greeting);
    this.log.appendChild(this.intro);

    this.form = el("form", { "aria-label": this.heading });
    var inputId = "kmr-question";
    this.form.appendChild(el("label", { class: "sr", for: inputId }, t.label));
    this.input = el("textarea", { id: inputId, rows: "1", placeholder: t.placeholder, maxlength: "1000",
                                  autocomplete: "off" });
    this.sendButton = el("button", { type: "submit", class: "send" }, t.send);
    this.form.appendChild(this.input);
    this.form.appendChild(this.sendButton);

    this.handoff = this._buildHandoff();

    this.panel.appendChild(head);
    this.panel.appendChild(tools);
    this.panel.appendChild(this.statusLine);
    this.panel.appendChild(this.log);
    this.panel.appendChild(this.handoff);
    this.panel.appendChild(this.form);
    if (this.showPowered) this.panel.appendChild(el("p", { class: "powered" }, t.powered));
    root.appendChild(this.panel);
    root.appendChild(this.launcher);

    var self = this;
    this.launcher.addEventListener("click", function () { self.toggle(); });
    this.closeButton.addEventListener("click", function () { self.toggle(false); });
    this.resetButton.addEventListener("click", function () { self.reset(); });
    this.handoffButton.addEventListener("click", function () { self.openHandoff(); });
    this.forgetButton.addEventListener("click", function () { self.forget(); });
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
      if (event.key !== "Escape") return;
      if (!self.handoff.hidden) self.closeHandoff();
      else self.toggle(false);
    });
  };

  /* --- "ask the district": the visitor's own action sends the conversation ------------- */
  KmrChat.prototype._buildHandoff = function () {
    var t = this.t;
    var self = this;
    var box = el("form", { class: "handoff", "aria-labelledby": "kmr-handoff-title", novalidate: "" });
    box.hidden = true;
    box.appendChild(el("h3", { id: "kmr-handoff-title" }, t.handoffTitle));
    box.appendChild(el("p", null, t.handoffIntro));

    var emailField = el("div", { class: "field" });
    emailField.appendChild(el("label", { for: "kmr-email" }, t.email));
    this.emailInput = el("input", { id: "kmr-email", type: "email", required: "", maxlength: "320",
                                    autocomplete: "email", inputmode: "email" });
    emailField.appendChild(this.emailInput);
    box.appendChild(emailField);

    var messageField = el("div", { class: "field" });
    this.messageLabel = el("label", { for: "kmr-message" }, t.message);
    messageField.appendChild(this.messageLabel);
    this.messageInput = el("textarea", { id: "kmr-message", maxlength: "2000", rows: "3" });
    messageField.appendChild(this.messageInput);
    box.appendChild(messageField);

    var consent = el("div", { class: "consent" });
    this.consentInput = el("input", { id: "kmr-consent", type: "checkbox", required: "" });
    consent.appendChild(this.consentInput);
    consent.appendChild(el("label", { for: "kmr-consent" }, t.consent));
    box.appendChild(consent);

    var actions = el("div", { class: "actions" });
    this.enquiryButton = el("button", { type: "submit", class: "primary" }, t.sendEnquiry);
    this.backButton = el("button", { type: "button", class: "back" }, t.cancel);
    actions.appendChild(this.enquiryButton);
    actions.appendChild(this.backButton);
    box.appendChild(actions);
    this.handoffResult = el("p", { class: "result", role: "status" });
    box.appendChild(this.handoffResult);

    box.addEventListener("submit", function (event) {
      event.preventDefault();
      self.sendEnquiry();
    });
    this.backButton.addEventListener("click", function () { self.closeHandoff(); });
    return box;
  };

  KmrChat.prototype.openHandoff = function () {
    if (this.panel.hidden) this.toggle(true);
    var hasQuestion = this._state().messages.some(function (m) { return m.role === "user" && m.text; });
    // Without a conversation to send, the message is what the district will read.
    this.messageLabel.textContent = hasQuestion ? this.t.message : this.t.messageNeeded;
    this.handoffResult.textContent = "";
    this.handoffResult.classList.remove("error");
    this.enquiryButton.disabled = false;
    this.log.hidden = true;
    this.form.hidden = true;
    this.handoff.hidden = false;
    this.emailInput.focus();
  };

  KmrChat.prototype.closeHandoff = function () {
    this.handoff.hidden = true;
    this.log.hidden = false;
    this.form.hidden = false;
    this.input.focus();
  };

  KmrChat.prototype._handoffSays = function (text, isError) {
    this.handoffResult.textContent = text;
    this.handoffResult.classList.toggle("error", !!isError);
  };

  KmrChat.prototype.sendEnquiry = function () {
    var t = this.t;
    var self = this;
    var messages = this._state().messages.filter(function (m) { return m.text && !m.error; });
    var message = this.messageInput.value.trim();
    if (!this.emailInput.value.trim() || !this.emailInput.checkValidity()) {
      this._handoffSays(t.invalidEmail, true);
      this.emailInput.focus();
      return;
    }
    if (!messages.some(function (m) { return m.role === "user"; }) && !message) {
      this._handoffSays(t.needMessage, true);
      this.messageInput.focus();
      return;
    }
    if (!this.consentInput.checked) {
      this._handoffSays(t.needConsent, true);
      this.consentInput.focus();
      return;
    }
    var transcript = messages.slice(-40).map(function (m) {
      return { role: m.role, content: String(m.text).slice(0, MAX_TURN_CHARS) };
    });
    var body = {
      email: this.emailInput.value.trim(),
      consent: true,
      language: this.lang,
      page_url: safeHref(window.location.origin + window.location.pathname),
      message: message,
      transcript: transcript,
      message_ids: this._messageIds().slice(-40),
    };
    this.enquiryButton.disabled = true;
    this._handoffSays(t.sending, false);
    fetch(this.api + "/api/enquiries", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        data = data || {};
        if (response.ok && data.delivery === "failed") {
          self._handoffSays(t.enquiryKept, false);
        } else if (response.ok) {
          self._handoffSays(t.enquirySent, false);
          self.messageInput.value = "";
          self.consentInput.checked = false;
          return;
        } else if (response.status === 422) {
          self.enquiryButton.disabled = false;
          self._handoffSays(t.invalidEmail, true);
          self.emailInput.focus();
        } else if (response.status === 429) {
          self.enquiryButton.disabled = false;
          self._handoffSays(t.enquiryBusy, true);
        } else if (response.status === 503) {
          self.enquiryButton.disabled = false;
          // Nothing was kept (a kept enquiry is a 202); the service's detail says whom to call.
          var detail = typeof data.detail === "string" ? data.detail : "";
          self._handoffSays(detail.indexOf(t.enquiryUnavailable) === 0
            ? detail : t.enquiryUnavailable + (detail ? " " + detail : ""), true);
        } else {
          self.enquiryButton.disabled = false;
          self._handoffSays(t.enquiryFailed, true);
        }
      });
    }).catch(function () {
      self.enquiryButton.disabled = false;
      self._handoffSays(t.enquiryFailed, true);
    });
  };

  /* --- "forget this conversation": deleted on the service, then here ------------------- */
  KmrChat.prototype._messageIds = function () {
    return this._state().messages
      .map(function (m) { return m.messageId; })
      .filter(function (id) { return typeof id === "string" && /^[0-9a-f]{32}$/.test(id); });
  };

  KmrChat.prototype.forget = function () {
    var self = this;
    var ids = this._messageIds();
    var conversationId = this._state().conversationId;
    if (this.controller) this.controller.abort();
    var body = { message_ids: ids };
    if (conversationId) body.conversation_id = conversationId;
    var done = function () {
      self._clear();
      self.statusLine.textContent = self.t.forgotten;
    };
    if (!ids.length && !conversationId) {
      done();
      return;
    }
    this.forgetButton.disabled = true;
    fetch(this.api + "/api/conversation", {
      method: "DELETE",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      if (!response.ok) throw new Error(String(response.status));
      done();
    }).catch(function () {
      self.statusLine.textContent = self.t.forgetFailed;
    }).then(function () {
      self.forgetButton.disabled = false;
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
    if (!this.state) this.state = { open: false, messages: [], conversationId: null };
    return this.state;
  };

  KmrChat.prototype._restore = function () {
    var saved = null;
    try {
      saved = JSON.parse(window.sessionStorage.getItem(this.storageKey) || "null");
    } catch (e) { saved = null; }
    if (!saved || !Array.isArray(saved.messages)) return;
    var self = this;
    var conversationId = typeof saved.conversationId === "string" &&
      /^[0-9a-f]{32}$/.test(saved.conversationId) ? saved.conversationId : null;
    this.state = { open: !!saved.open, messages: [], conversationId: conversationId };
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

  /** Empty the view and what this tab stored; the panel stays open. */
  KmrChat.prototype._clear = function () {
    if (this.controller) this.controller.abort();
    this.state = { open: !this.panel.hidden, messages: [], conversationId: null };
    while (this.log.lastChild && this.log.lastChild !== this.intro) this.log.removeChild(this.log.lastChild);
    this._save();
    this._showStarters();
    this.input.value = "";
    if (!this.handoff.hidden) this.closeHandoff();
    this.input.focus();
  };

  KmrChat.prototype.reset = function () {
    this.statusLine.textContent = "";
    this._clear();
  };

  KmrChat.prototype._showStarters = function () {
    if (this.startersBox && this.startersBox.parentNode) this.startersBox.parentNode.removeChild(this.startersBox);
    this.startersBox = null;
    if (!this.starters.length || this._state().messages.length) return;
    var self = this;
    var box = el("div", { class: "starters-box" });
    box.appendChild(el("p", { class: "starters-title", id: "kmr-starters" }, this.t.starters));
    var list = el("ul", { class: "starters", "aria-labelledby": "kmr-starters" });
    this.starters.forEach(function (question) {
      var item = el("li");
      var button = el("button", { type: "button", class: "starter" }, question);
      button.addEventListener("click", function () { self.ask(question); });
      item.appendChild(button);
      list.appendChild(item);
    });
    box.appendChild(list);
    this.log.appendChild(box);
    this.startersBox = box;
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

  /** A date "YYYY-MM-DD..." in the widget's language; the raw text if it is not a date. */
  KmrChat.prototype._date = function (value) {
    var text = String(value || "");
    var match = /^(\d{4})-(\d{2})-(\d{2})/.exec(text);
    if (!match) return text;
    try {
      var date = new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
      return date.toLocaleDateString(this.lang === "it" ? "it-IT" : "en-GB",
        { year: "numeric", month: "long", day: "numeric", timeZone: "UTC" });
    } catch (e) {
      return match[0];
    }
  };

  /** Answer text with [n] markers turned into links to the cited sources (DOM APIs only). */
  KmrChat.prototype._fill = function (message) {
    var body = message.body;
    var self = this;
    while (body.firstChild) body.removeChild(body.firstChild);
    if (message.error) {
      body.appendChild(el("span", { class: "error", role: "alert" }, message.text));
      return;
    }
    if (message.pending && !message.text) {
      body.appendChild(el("span", null, this.t.thinking));
      return;
    }
    var curated = message.curated && typeof message.curated === "object" ? message.curated : null;
    if (curated) {
      body.appendChild(el("p", { class: "curated" },
        this.t.curatedFrom.replace("{date}", this._date(curated.updated_at))));
    }
    var sources = message.sources || [];
    var text = String(message.text || "");
    var pattern = /\[(\d{1,2})\]/g;
    var last = 0;
    var match;
    while (!curated && (match = pattern.exec(text)) !== null) {
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

    if (curated && curated.note) body.appendChild(el("p", { class: "notice" }, curated.note));
    else if (message.notice) body.appendChild(el("p", { class: "notice" }, message.notice));
    var links = curated && Array.isArray(curated.links) ? curated.links : [];
    if (links.length && !message.pending) {
      body.appendChild(el("p", { class: "links-title" }, this.t.links));
      var linkList = el("ul", { class: "links" });
      links.forEach(function (item) {
        var url = item ? safeHref(item.url) : null;
        if (!url) return;
        var li = el("li");
        li.appendChild(el("a", { href: url, target: "_blank", rel: "noopener noreferrer" },
          String(item.title || url)));
        linkList.appendChild(li);
      });
      body.appendChild(linkList);
    }
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
    var offered = Array.isArray(message.suggestions) ? message.suggestions : [];
    if (message.role === "assistant" && offered.length && !curated && !message.pending) {
      // Staff answers that may be what was meant: given only when the visitor picks one.
      var titleId = "kmr-sugg-" + Math.random().toString(36).slice(2, 10);
      body.appendChild(el("p", { class: "suggested-title", id: titleId }, this.t.didYouMean));
      var offers = el("ul", { class: "suggested", "aria-labelledby": titleId });
      offered.forEach(function (item) {
        var id = item ? Number(item.answer_id) : NaN;
        var question = item ? String(item.question || "").slice(0, 300) : "";
        if (!(id > 0) || !question) return;
        var li = el("li");
        var pick = el("button", { type: "button", class: "suggestion" }, question);
        pick.addEventListener("click", function () { self.ask(question, id); });
        li.appendChild(pick);
        offers.appendChild(li);
      });
      body.appendChild(offers);
    }
    if (message.role === "assistant" && message.abstained && !message.pending) {
      // The assistant declined: offer a person (nothing is sent until the visitor does it).
      var offer = el("p", { class: "offer" }, this.t.offer + " ");
      var ask = el("button", { type: "button", class: "offer-handoff" }, this.t.askDistrict);
      ask.addEventListener("click", function () { self.openHandoff(); });
      offer.appendChild(ask);
      body.appendChild(offer);
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
  /** Ask a question; ``curatedId``: the staff answer the visitor picked from the offers. */
  KmrChat.prototype.ask = function (raw, curatedId) {
    var question = String(raw || "").trim();
    if (!question || this.busy) return;
    var self = this;
    var t = this.t;
    var history = this._history();
    var state = this._state();
    this.statusLine.textContent = "";
    if (this.startersBox && this.startersBox.parentNode) this.startersBox.parentNode.removeChild(this.startersBox);
    this.startersBox = null;
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

    var request = { question: question, history: history, page_url: pageUrl };
    if (state.conversationId) request.conversation_id = state.conversationId;
    if (curatedId) request.curated_id = curatedId;
    fetch(this.api + "/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(request),
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
          reply.curated = data.backend === "curated" && data.curated && typeof data.curated === "object"
            ? data.curated : null;
          reply.suggestions = Array.isArray(data.suggestions) ? data.suggestions.slice(0, 5) : [];
          if (typeof data.conversation_id === "string" && /^[0-9a-f]{32}$/.test(data.conversation_id)) {
            state.conversationId = data.conversation_id;
          }
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

  /* What is saved: the conversation's text and ids only, never the DOM nodes. */
  KmrChat.prototype._save = function () {
    var state = this._state();
    var clean = {
      open: state.open,
      conversationId: state.conversationId || null,
      messages: state.messages.map(function (m) {
        return { role: m.role, text: m.text, sources: m.sources, messageId: m.messageId, notice: m.notice,
                 rating: m.rating, error: m.error, abstained: m.abstained, curated: m.curated || null,
                 suggestions: m.suggestions || [] };
      }),
    };
    try {
      window.sessionStorage.setItem(this.storageKey, JSON.stringify(clean));
    } catch (e) { /* storage full or disabled: the chat still works for this page */ }
  };

  window.customElements.define(TAG, KmrChat);

  function mount() {
    if (document.querySelector(TAG)) return;
    var widget = document.createElement(TAG);
    var data = SCRIPT ? SCRIPT.dataset : {};
    widget._options = {
      api: data.api, lang: data.lang, title: data.title, color: data.color || data.colour,
      greeting: data.greeting, starters: data.starters, position: data.position,
      poweredBy: data.poweredBy,
    };
    document.body.appendChild(widget);
  }

  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);
})();
