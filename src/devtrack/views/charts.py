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
        text = f"{value:,.2f}" if top < 10 else f"{value:,.0f}"
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
