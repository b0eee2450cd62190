// The dashboard timeline's hover card: pointing at (or tabbing to) a marker shows its item
// from the list under the chart — for a deploy, its commit and the errors that followed it.
// Without this script the marker's own <title> says the same, and the list is on the page.
(function () {
  "use strict";

  function card() { return document.querySelector("[data-tl-card]"); }

  function show(mark) {
    var box = card();
    var src = document.getElementById(mark.getAttribute("data-tip"));
    if (!box || !src) { return; }
    box.replaceChildren.apply(box, Array.prototype.map.call(src.childNodes, function (n) { return n.cloneNode(true); }));
    box.querySelectorAll("a").forEach(function (a) { a.tabIndex = -1; });
    box.hidden = false;
    var r = mark.getBoundingClientRect();
    var w = box.offsetWidth;
    var left = Math.max(8, Math.min(window.scrollX + r.left + r.width / 2 - w / 2,
                                    window.scrollX + document.documentElement.clientWidth - w - 8));
    box.style.left = left + "px";
    box.style.top = (window.scrollY + r.bottom + 8) + "px";
    mark.setAttribute("aria-describedby", src.id);
  }

  function hide() {
    var box = card();
    if (box) { box.hidden = true; }
  }

  function markOf(target) { return target && target.closest ? target.closest(".tl .mark") : null; }

  document.addEventListener("mouseover", function (e) { var m = markOf(e.target); if (m) { show(m); } });
  document.addEventListener("mouseout", function (e) { if (markOf(e.target)) { hide(); } });
  document.addEventListener("focusin", function (e) { var m = markOf(e.target); if (m) { show(m); } else { hide(); } });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") { hide(); } });
})();
