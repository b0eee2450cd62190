// DevTrack's only script: progressive enhancement of forms that already work without it.
// Test buttons get a loading state and show the classified result in place; enable
// toggles flip without a reload. Every request sends the page's CSRF token.
(function () {
  "use strict";

  function csrf() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function post(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" }
    }).then(function (resp) {
      return resp.json().then(function (body) { return { status: resp.status, body: body }; });
    });
  }

  function resultNode(ok, kind, message) {
    var p = document.createElement("p");
    p.className = "result " + (ok ? "ok" : "bad");
    var k = document.createElement("span");
    k.className = "kind";
    k.textContent = kind;
    var m = document.createElement("span");
    m.className = "message";
    m.textContent = message;
    var t = document.createElement("time");
    t.textContent = "just now";
    p.append(k, " ", m, " ", t);
    return p;
  }

  function setDot(form, ok) {
    // The dot of this plugin's row in the list, or of the card the form sits in.
    var id = form.dataset.plugin;
    var row = id ? document.querySelector('.row[data-plugin="' + id + '"]') : form.closest(".card");
    var dot = row && row.querySelector("[data-dot]");
    if (!dot) { return; }
    var label = ok ? "passing" : "failing";
    dot.className = "dot " + label;
    dot.setAttribute("aria-label", label);
    dot.title = label;
    var tested = row.querySelector("[data-tested]");
    if (tested) { tested.textContent = label + " · just now"; }
  }

  function onTest(form, event) {
    event.preventDefault();
    var button = form.querySelector("button");
    var out = form.querySelector("[data-result]");
    if (button.disabled) { return; }
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    button.classList.add("loading");
    button.textContent = "Testing…";
    out.replaceChildren();
    post(form.dataset.api).then(function (r) {
      var b = r.body;
      if (b && b.error) {
        out.replaceChildren(resultNode(false, b.error.kind, b.error.message));
      } else {
        out.replaceChildren(resultNode(b.ok, b.kind || b.status, b.message));
        setDot(form, b.ok);
      }
    }).catch(function () {
      out.replaceChildren(resultNode(false, "network", "DevTrack did not answer."));
    }).finally(function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
      button.classList.remove("loading");
      button.textContent = button.dataset.label;
    });
  }

  function onToggle(form, event) {
    event.preventDefault();
    var button = form.querySelector("button[role=switch]");
    var field = form.querySelector('input[name="enabled"]');
    var turnOn = field.value === "1";
    button.disabled = true;
    post(form.dataset.api + (turnOn ? "/enable" : "/disable")).then(function (r) {
      if (r.body && r.body.ok) {
        button.setAttribute("aria-checked", turnOn ? "true" : "false");
        field.value = turnOn ? "0" : "1";
      }
    }).finally(function () {
      button.disabled = false;
      button.focus();
    });
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.classList.contains("js-test")) { onTest(form, event); }
    else if (form.classList.contains("js-toggle")) { onToggle(form, event); }
  });
})();
