/* Helpers shared by the staff console (staff.js) and the partner directory (directory.js),
   two pages of the same app. Everything from the server is put in the page with
   textContent, never parsed as HTML, and only http(s) URLs become links. The widget keeps its
   own copies: it is one self-contained file embedded on other sites. */
window.KMR_CONSOLE = (function () {
  "use strict";

  /* The admin key is kept in this tab only, shared by both pages. */
  var KEY_STORAGE = "kmr-admin-key";

  function $(id) { return document.getElementById(id); }

  /** A new element with ``text`` as its text (never as HTML) and ``attrs`` as attributes. */
  function el(tag, text, attrs) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    return node;
  }

  function button(text, onClick, attrs) {
    var node = el("button", text, Object.assign({ type: "button" }, attrs || {}));
    node.addEventListener("click", onClick);
    return node;
  }

  /** The URL as a string when it is http(s), else null: nothing else ever becomes an href. */
  function safeHref(url) {
    try {
      var parsed = new URL(String(url));
      return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
    } catch (e) { return null; }
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function store(key, value) {
    try {
      if (value) window.sessionStorage.setItem(key, value);
      else window.sessionStorage.removeItem(key);
    } catch (e) { /* private mode: kept for this page only */ }
  }

  function stored(key) {
    try { return window.sessionStorage.getItem(key) || ""; } catch (e) { return ""; }
  }

  /* --- HTTP ------------------------------------------------------------------------- */
  function HttpError(message, status, body) {
    this.message = message;
    this.status = status;
    this.body = body;
  }

  /** Reject with an HttpError carrying the service's ``detail``, else ``fallback(status)``. */
  function failed(response, fallback) {
    return response.json().catch(function () { return null; }).then(function (body) {
      var message = body && typeof body.detail === "string" ? body.detail : fallback(response.status);
      throw new HttpError(message, response.status, body);
    });
  }

  /** fetch ``path`` and resolve with its JSON body (null when it has none). */
  function call(path, options, fallback) {
    return fetch(path, options || {}).then(function (response) {
      if (!response.ok) return failed(response, fallback);
      return response.json().catch(function () { return null; });
    });
  }

  return {
    KEY_STORAGE: KEY_STORAGE, $: $, el: el, button: button, safeHref: safeHref, clear: clear,
    store: store, stored: stored, failed: failed, call: call,
  };
})();
