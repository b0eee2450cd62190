// Live pages: every page subscribes to /api/v1/events (server-sent events) and, when a
// connection's refresh finishes, an alert incident opens or resolves, or the snapshot database
// goes away or comes back, fetches the page again and swaps the regions marked data-live="NAME"
// whose content changed, so cards, tables, the timeline, the open-incidents banner, the
// database's banner and the Alerts page's lists update in place. One fetch at
// a time: an event during a fetch fetches again after it (an older answer never wins).
// "Refresh now" starts the refresh through the JSON API and shows each connection's progress
// until all are done. Without this script every page still works: the form posts and the
// page is served again. EventSource resumes after a drop with Last-Event-ID by itself; if the
// browser gives up (the server was away), we open a new stream from the last id we saw. The
// first stream opens from the id the page was served with, so nothing between is missed.
(function () {
  "use strict";

  // the newest event id when the server began this page: the stream replays anything after it
  var mark = document.querySelector('meta[name="devtrack-events-after"]');
  var lastId = mark && /^[0-9]+$/.test(mark.content) ? mark.content : null;
  var source = null;
  var swapTimer = null;
  var fetching = false;  // a page fetch is in flight
  var again = false;     // an event came meanwhile: fetch once more when it ends
  var running = {};   // connection id -> label, of the refresh "Refresh now" started
  var pending = 0;
  var early = null;   // finished before the API said what it started: id -> ok

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function cssId(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : value.replace(/"/g, '\\"');
  }

  // ------------------------------------------------------------------ swapping regions

  function swap() {
    swapTimer = null;
    if (!document.querySelector("[data-live]")) { return; }
    if (fetching) { again = true; return; }
    fetching = true;
    fetch(location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (resp) { return resp.ok ? resp.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        doc.querySelectorAll("[data-live]").forEach(function (fresh) {
          var here = document.querySelector('[data-live="' + cssId(fresh.dataset.live) + '"]');
          if (!here || here.innerHTML === fresh.innerHTML) { return; }
          var focused = document.activeElement;
          var key = focused && here.contains(focused) ? focusKey(focused) : null;
          here.replaceWith(document.importNode(fresh, true));
          markRunning();
          if (key) { restoreFocus(key); }
        });
        document.dispatchEvent(new CustomEvent("devtrack:updated"));
      })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        fetching = false;
        if (again) { again = false; soon(); }
      });
  }

  function focusKey(el) {
    return el.id ? "#" + cssId(el.id) : (el.getAttribute("href") ? 'a[href="' + cssId(el.getAttribute("href")) + '"]' : null);
  }

  function restoreFocus(key) {
    var el = document.querySelector(key);
    if (el) { el.focus({ preventScroll: true }); }
  }

  function soon() {
    if (swapTimer === null) { swapTimer = setTimeout(swap, 150); }
  }

  // ------------------------------------------------------------------ progress of "Refresh now"

  function progressBox() { return document.querySelector("[data-progress]"); }

  function markRunning() {
    document.querySelectorAll("[data-card]").forEach(function (card) {
      card.classList.toggle("is-refreshing", Object.prototype.hasOwnProperty.call(running, card.dataset.card));
    });
  }

  function renderProgress(done) {
    var box = progressBox();
    if (!box) { return; }
    var ids = Object.keys(running);
    if (!ids.length) { box.replaceChildren(); return; }
    var p = document.createElement("p");
    p.textContent = done
      ? "Refreshed " + ids.length + (ids.length === 1 ? " connection." : " connections.")
      : "Refreshing… " + (ids.length - pending) + " of " + ids.length + " done";
    var ul = document.createElement("ul");
    ids.forEach(function (id) {
      var li = document.createElement("li");
      li.dataset.progressItem = id;
      li.className = running[id].state;
      li.textContent = running[id].label + (running[id].state === "running" ? " …" : running[id].state === "ok" ? " ✓" : " ✗");
      ul.append(li);
    });
    box.replaceChildren(p, ul);
  }

  function finishAll() {
    var form = document.querySelector("form.js-refresh");
    var button = form && form.querySelector("button");
    if (button) {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.classList.remove("loading");
      button.textContent = button.dataset.label;
    }
    renderProgress(true);
    setTimeout(function () {
      if (pending === 0) { running = {}; markRunning(); renderProgress(false); }
    }, 2500);
  }

  function onRefresh(form, event) {
    event.preventDefault();
    var button = form.querySelector("button");
    if (button.disabled) { return; }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.classList.add("loading");
    button.textContent = "Refreshing…";
    early = {};
    fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    }).then(function (resp) { return resp.json(); }).then(function (body) {
      if (!body || !body.ok) { throw new Error("refused"); }
      running = {};
      pending = 0;
      (body.connections || []).forEach(function (c) {
        var done = early && Object.prototype.hasOwnProperty.call(early, c.id);
        running[c.id] = { label: c.label, state: done ? (early[c.id] ? "ok" : "bad") : "running" };
        if (!done) { pending += 1; }
      });
      early = null;
      markRunning();
      renderProgress(false);
      if (!pending) { finishAll(); }
    }).catch(function () { form.submit(); });  // the plain form still works
  }

  function onFinished(data) {
    var item = running[data.connection];
    if (early) { early[data.connection] = data.ok; }
    if (item && item.state === "running") {
      item.state = data.ok ? "ok" : "bad";
      pending -= 1;
      renderProgress(false);
      if (pending === 0) { finishAll(); }
    }
    markRunning();
  }

  // ------------------------------------------------------------------ the stream

  function connect() {
    if (!window.EventSource || location.pathname.indexOf("/login") === 0) { return; }
    var url = "/api/v1/events" + (lastId !== null ? "?after=" + encodeURIComponent(lastId) : "");
    source = new EventSource(url);
    function seen(e) {
      if (e.lastEventId) { lastId = e.lastEventId; }
      document.dispatchEvent(new CustomEvent("devtrack:event", { detail: { id: e.lastEventId, kind: e.type } }));
    }
    source.addEventListener("refresh.started", function (e) {
      seen(e);
      var data = JSON.parse(e.data);
      var card = document.querySelector('[data-card="' + cssId(data.connection) + '"]');
      if (card) { card.classList.add("is-refreshing"); }
    });
    source.addEventListener("refresh.finished", function (e) {
      seen(e);
      onFinished(JSON.parse(e.data));
      soon();
    });
    ["snapshot.stored", "alert.opened", "alert.resolved", "store.unavailable", "store.available"].forEach(function (kind) {
      source.addEventListener(kind, function (e) { seen(e); soon(); });
    });
    source.onerror = function () {
      if (source.readyState !== EventSource.CLOSED) { return; }  // the browser retries by itself
      source = null;  // it gave up (the server was away, or refused us): try again while we may
      fetch("/api/v1/session", { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (resp) { setTimeout(connect, resp.ok ? 3000 : 60000); })
        .catch(function () { setTimeout(connect, 10000); });
    };
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList && form.classList.contains("js-refresh")) { onRefresh(form, event); }
  });
  window.addEventListener("pagehide", function () { if (source) { source.close(); source = null; } });
  window.addEventListener("pageshow", function () { if (!source) { connect(); } });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { if (!source) { connect(); } });
  } else if (!source) { connect(); }
})();
