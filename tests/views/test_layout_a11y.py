"""Issue 17's finish, in Chromium with the sandbox's data: every page at 1400 px and 390 px, light
and dark, has no sideways scroll, no text outside its box and no serious or critical axe-core
violation; every control is reachable by keyboard. Screenshots go to artifacts/screenshots/."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from devtrack.web.server import ServerThread
from devtrack.web.views_routes import ViewsRuntime

from .. import webauth
from ..web.browser import browser  # noqa: F401 (fixture)
from ..web.conftest import ARTIFACTS
from .test_browser import served  # noqa: F401 (fixture)

PAGES = ["/", "/deployments", "/errors", "/code", "/infra", "/ai-usage", "/settings/integrations",
         "/settings/integrations/vercel:personal", "/settings/ai", "/docs"]
SIZES = [(1400, 900), (390, 844)]
SCHEMES = ["light", "dark"]

#: Text that leaves its box: for each element holding text, the boxes of its text (a Range's
#: rects) must lie inside the nearest "box" around it (a card, chart, table, panel, notice,
#: the top bar or main). Text inside a scrolling container is its container's business (a
#: wide table scrolls in its own box), and hidden or off-screen-by-design text (the skip link)
#: has no say.
OVERFLOWS = """() => {
  const BOX = '.card, .chart-box, .table-box, .tl-box, .detail, .list, .empty, .progress, .login, ' +
              '.notice, .result, .guide, .topbar, .views-nav, .tl-card, main, body';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const el = node.parentElement;
    if (!el || el.closest('.skip, script, style, title, [hidden]') || !el.checkVisibility()) continue;
    let box = el.closest(BOX), scrolls = false;
    for (let a = el; a && a !== box; a = a.parentElement) {
      const s = getComputedStyle(a);
      if (s.overflowX !== 'visible' || s.overflowY !== 'visible') { scrolls = true; break; }
    }
    if (scrolls || !box) continue;
    const b = box.getBoundingClientRect();
    const range = document.createRange();
    range.selectNodeContents(node);
    for (const r of range.getClientRects()) {
      if (!r.width || !r.height) continue;
      if (r.left < b.left - 1 || r.right > b.right + 1 || r.top < b.top - 1 || r.bottom > b.bottom + 1) {
        out.push({text: node.textContent.trim().slice(0, 60), box: box.className || box.tagName,
                  text_box: [r.left, r.top, r.right, r.bottom].map(Math.round),
                  container: [b.left, b.top, b.right, b.bottom].map(Math.round)});
        break;
      }
    }
  }
  return out;
}"""

#: The controls a keyboard user must be able to reach.
FOCUSABLE = """() => [...document.querySelectorAll(
  'a[href], button:not([disabled]), input:not([type=hidden]), select, textarea, summary, [tabindex="0"]')]
  .filter(e => e.checkVisibility() && !e.closest('[hidden], .tl-card, #swagger-ui, details:not([open]) > :not(summary)'))
  .map(e => e.outerHTML.slice(0, 120))"""


def _wait_ready(pg: Any, path: str) -> None:
    if path == "/docs":
        pg.wait_for_selector("#swagger-ui .info", timeout=20_000)
    else:
        pg.wait_for_load_state("load")


def test_every_page_fits_and_passes_axe_light_and_dark_at_1400_and_390(
        browser: Any, served: tuple[ServerThread, ViewsRuntime]) -> None:  # noqa: F811
    srv, _ = served
    axe = Axe()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    problems: list[str] = []
    for width, height in SIZES:
        for scheme in SCHEMES:
            context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=scheme)
            pg = context.new_page()
            errors: list[str] = []
            pg.on("pageerror", lambda e: errors.append(str(e)))  # noqa: B023
            pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)  # noqa: B023
            try:
                webauth.login(pg, srv.url, "/")
                for path in PAGES:
                    pg.goto(srv.url + path)
                    _wait_ready(pg, path)
                    where = f"{path} at {width} px, {scheme}"
                    scroll, inner = pg.evaluate("[document.scrollingElement.scrollWidth, innerWidth]")
                    if scroll > inner:
                        problems.append(f"{where}: scrolls sideways ({scroll} > {inner})")
                    if path != "/docs":  # Swagger UI's own layout is not ours to judge
                        for o in pg.evaluate(OVERFLOWS):
                            problems.append(f"{where}: text outside its box: {o}")
                    result = axe.run(pg)
                    for v in result.response["violations"]:
                        if v["impact"] in ("serious", "critical"):
                            nodes = [n["target"] for n in v["nodes"][:3]]
                            problems.append(f"{where}: axe {v['impact']} {v['id']}: {v['help']} {nodes}")
                    name = path.strip("/").replace("/", "-").replace(":", "-") or "dashboard"
                    pg.screenshot(path=str(ARTIFACTS / f"live-{name}-{width}-{scheme}.png"), full_page=True)
            finally:
                context.close()
            problems += [f"script error at {width} px, {scheme}: {e}" for e in errors]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", ["/", "/deployments", "/infra", "/settings/integrations"])
def test_every_control_is_reachable_by_keyboard(browser: Any, served: tuple[ServerThread, ViewsRuntime],  # noqa: F811
                                                path: str) -> None:
    srv, _ = served
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    try:
        webauth.login(pg, srv.url, path)
        wanted = pg.evaluate(FOCUSABLE)
        reached: set[str] = set()
        pg.locator("body").focus()
        for _ in range(len(wanted) + 10):
            pg.keyboard.press("Tab")
            reached.add(pg.evaluate("document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ''"))
        missing = [w for w in wanted if w not in reached]
        assert not missing, missing[:10]
        # the focused control is visible: a focus ring (outline or the marker's stroke) is drawn
        ring = pg.evaluate("""() => { const e = document.querySelector('a[href]'); e.focus();
            return getComputedStyle(e).outlineStyle; }""")
        assert ring != "none"
    finally:
        context.close()
