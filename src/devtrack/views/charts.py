"""Inline SVG bar charts generated server-side: no script, no inline style, so the strict CSP
holds. Colours come from CSS classes (``series-<name>``) in the views stylesheet."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 960, 230, 62, 36, 14


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 2.5, 5, 10):
        magnitude = 10 ** (len(str(int(value))) - 1) if value >= 1 else 0.1
        candidate = step * magnitude
        if candidate >= value:
            return float(candidate)
    return float(value)


def svg(chart: dict[str, Any]) -> str:
    """One chart dict from :mod:`.build` (``labels`` and ``series``) as an SVG string; series are
    stacked in order. Every bar carries a ``<title>`` so values are readable on hover and by
    screen readers."""
    labels: list[str] = chart["labels"]
    series: dict[str, list[float]] = chart["series"]
    totals = [sum(values[i] for values in series.values()) for i in range(len(labels))]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - 6, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(1, len(labels))
    bar_w = max(2.0, slot * 0.7)
    unit = chart.get("unit", "")
    title = escape(chart.get("title", ""))
    out = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}" '
           f'data-chart="{escape(chart.get("id", ""))}" xmlns="http://www.w3.org/2000/svg">']
    for frac in (0, 0.5, 1):
        y = PAD_TOP + plot_h * (1 - frac)
        out.append(f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - 6}" y1="{y:.1f}" y2="{y:.1f}"/>')
        value = top * frac
        counts = all(float(v).is_integer() for values in series.values() for v in values)
        whole = counts and value.is_integer()  # counts get whole-number ticks ("2", not "2.00")
        text = f"{value:,.0f}" if whole or top >= 10 else f"{value:,.2f}"
        out.append(f'<text class="axis" x="{PAD_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
    for i, label in enumerate(labels):
        x = PAD_LEFT + i * slot + (slot - bar_w) / 2
        base = PAD_TOP + plot_h
        for name, values in series.items():
            v = values[i]
            if not v:
                continue
            h = plot_h * v / top
            base -= h
            out.append(f'<rect class="series-{escape(name)}" x="{x:.1f}" y="{base:.1f}" width="{bar_w:.1f}" '
                       f'height="{h:.1f}"><title>{escape(label)}: {v:g} {escape(name)} {escape(unit)}</title></rect>')
        if len(labels) <= 16 and (i % 2 == 0 or len(labels) <= 8):
            out.append(f'<text class="axis" x="{x + bar_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
                       f'{escape(label[5:])}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------- the timeline

TL_WIDTH, TL_LANE, TL_TOP, TL_AXIS, TL_PAD = 960, 34, 6, 26, 12
#: Marker shape per item kind (all drawn around the item's point).
_SHAPES = {"deploy": "circle", "error": "diamond", "ci": "square", "incident": "triangle"}


def _when(iso: str) -> str:
    return iso[5:16].replace("T", " ")


def tip(item: dict[str, Any]) -> str:
    """What hovering a marker says (its ``<title>``; the dashboard's hover card shows the same)."""
    lines = [f"{_when(item['time'])} · {item['connection_label']}", item["title"]]
    if item["kind"] == "deploy":
        if item.get("commit"):
            lines.append(f"commit {item['commit']}" + (f" on {item['branch']}" if item.get("branch") else ""))
        followed = item.get("followed_by") or []
        if followed:
            lines.append(f"new errors after it ({item.get('followed_total', len(followed))}):")
            lines += [f"  {_when(e['time'])} {e['title']}" for e in followed]
        else:
            lines.append("no new errors after it")
    return "\n".join(lines)


def _marker(kind: str, x: float, y: float) -> str:
    shape = _SHAPES.get(kind, "circle")
    if shape == "circle":
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="6"/>'
    if shape == "square":
        return f'<rect x="{x - 5:.1f}" y="{y - 5:.1f}" width="10" height="10" rx="1"/>'
    if shape == "diamond":
        return f'<path d="M{x:.1f} {y - 7:.1f}L{x + 7:.1f} {y:.1f}L{x:.1f} {y + 7:.1f}L{x - 7:.1f} {y:.1f}Z"/>'
    return f'<path d="M{x:.1f} {y - 7:.1f}L{x + 7:.1f} {y + 6:.1f}L{x - 7:.1f} {y + 6:.1f}Z"/>'


def timeline_svg(tl: dict[str, Any]) -> str:
    """The timeline (:mod:`.timeline`) as SVG: a lane per row, its name above it, markers at
    their time, an hour axis below. Each marker is focusable, labelled by its hover text and
    carries ``data-tip`` (the id of its hover card); the page lists the same items as text."""
    from datetime import datetime, timedelta

    since, until = datetime.fromisoformat(tl["since"]), datetime.fromisoformat(tl["until"])
    span = max(1.0, (until - since).total_seconds())
    lanes = tl["lanes"]
    row = {lane["id"]: n for n, lane in enumerate(lanes)}
    height = TL_TOP + TL_LANE * len(lanes) + TL_AXIS
    plot = TL_WIDTH - 2 * TL_PAD

    def x_of(iso: str) -> float:
        return TL_PAD + plot * (datetime.fromisoformat(iso) - since).total_seconds() / span

    out = [f'<svg class="tl" viewBox="0 0 {TL_WIDTH} {height}" role="group" '
           f'aria-label="Timeline of the last {tl["hours"]:g} hours" xmlns="http://www.w3.org/2000/svg">']
    for n, lane in enumerate(lanes):
        y = TL_TOP + n * TL_LANE
        out.append(f'<rect class="lane lane-{n % 2}" x="0" y="{y}" width="{TL_WIDTH}" height="{TL_LANE}"/>')
        out.append(f'<text class="lane-label" x="{TL_PAD}" y="{y + 11}">{escape(lane["label"])}</text>')
        if lane["id"] == "incident" and not tl.get("incidents_source"):
            out.append(f'<text class="lane-note" x="{TL_WIDTH - TL_PAD}" y="{y + 11}" text-anchor="end">'
                       'no alerts source yet</text>')
    axis_y = TL_TOP + TL_LANE * len(lanes)
    step = 12 if tl["hours"] > 48 else 6 if tl["hours"] > 24 else 3
    tick = since.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    while tick.hour % step:
        tick += timedelta(hours=1)
    while tick <= until:
        x = x_of(tick.isoformat())
        out.append(f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{TL_TOP}" y2="{axis_y + 4}"/>')
        label = tick.strftime("%m-%d") if tick.hour == 0 else tick.strftime("%H:%M")
        out.append(f'<text class="axis" x="{x:.1f}" y="{axis_y + 18}" text-anchor="middle">{label}</text>')
        tick += timedelta(hours=step)
    for n, item in enumerate(tl["items"]):
        if item["lane"] not in row:
            continue
        x, y = x_of(item["time"]), TL_TOP + row[item["lane"]] * TL_LANE + 23
        text = tip(item)
        out.append(f'<g class="mark kind-{escape(item["kind"])} lvl-{escape(item["level"])}" tabindex="0" '
                   f'role="img" aria-label="{escape(text)}" data-tip="tip-{n}" data-kind="{escape(item["kind"])}">'
                   f'<title>{escape(text)}</title>{_marker(item["kind"], x, y)}</g>')
    out.append("</svg>")
    return "".join(out)
