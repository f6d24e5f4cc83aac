"""The throughput chart of report.html: inline SVG, no script, no external library.

One horizontal bar per throughput case (payload bytes/s), a dashed line at the line rate
(baud/10; a short dashed mark per bar when the cases ran at different rates), a tick at each
case's framing-adjusted bound, and an x axis with round tick values in KB/s or MB/s.
"""

from __future__ import annotations

import math
from html import escape

from w24_harness.report.results import ScenarioResult

LABEL_W = 270  # room for the case ids at 12 px
PLOT_W = 520
VALUE_W = 170  # the column of values right of the plot
ROW_H = 22
BAR_H = 14
TOP = 46  # legend line, then the line-rate label
BOTTOM = 44  # tick labels and axis title
COLOURS = {"down": "#1565c0", "up": "#ef6c00", "other": "#546e7a", "fail": "#c62828"}


def nice_ticks(maximum: float, count: int = 5) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 times a power of ten) up to at least `maximum`."""
    if maximum <= 0:
        return [0.0, 1.0]
    raw = maximum / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(maximum / step - 1e-9)
    return [i * step for i in range(n + 1)]


def _unit(maximum: float) -> tuple[str, float]:
    return ("MB/s", 1e6) if maximum >= 2e6 else ("KB/s", 1e3)


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 100 or value == int(value) else f"{value:.3g}"


def _colour(r: ScenarioResult) -> str:
    if not r.passed:
        return COLOURS["fail"]
    if "-down-" in r.id:
        return COLOURS["down"]
    return COLOURS["up"] if "-up-" in r.id else COLOURS["other"]


def throughput_chart(results: list[ScenarioResult]) -> str:
    """The SVG for every result with a throughput, or "" when there is none."""
    cases = sorted((r for r in results if r.throughput_bps is not None), key=lambda r: r.id)
    if not cases:
        return ""
    rates = {r.line_rate_bps for r in cases if r.line_rate_bps}
    top_value = max([r.throughput_bps or 0.0 for r in cases] + list(rates))
    unit, scale = _unit(top_value)
    ticks = nice_ticks(top_value / scale)
    span = ticks[-1] * scale

    def x(value: float) -> float:
        return LABEL_W + PLOT_W * min(value / span, 1.0)

    height = TOP + ROW_H * len(cases) + BOTTOM
    width = LABEL_W + PLOT_W + VALUE_W
    plot_bottom = TOP + ROW_H * len(cases)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="system-ui, sans-serif" font-size="12" '
        'role="img" aria-labelledby="tp-title">',
        '<title id="tp-title">Payload throughput per case against the serial line rate</title>',
    ]
    for tick in ticks:  # grid and tick labels
        tx = x(tick * scale)
        parts.append(
            f'<line x1="{tx:.1f}" y1="{TOP - 4}" x2="{tx:.1f}" y2="{plot_bottom}" '
            'stroke="#e0e0e0"/>'
        )
        parts.append(
            f'<text x="{tx:.1f}" y="{plot_bottom + 16}" text-anchor="middle">{_fmt(tick)}</text>'
        )
    parts.append(
        f'<line x1="{LABEL_W}" y1="{plot_bottom}" x2="{LABEL_W + PLOT_W}" '
        f'y2="{plot_bottom}" stroke="#333"/>'
    )
    parts.append(
        f'<text x="{LABEL_W + PLOT_W / 2:.0f}" y="{plot_bottom + 36}" '
        f'text-anchor="middle">payload throughput ({unit})</text>'
    )
    for i, r in enumerate(cases):
        y = TOP + ROW_H * i
        bps = r.throughput_bps or 0.0
        bar_y = y + (ROW_H - BAR_H) / 2
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + ROW_H / 2 + 4:.1f}" text-anchor="end">'
            f"{escape(r.id)}</text>"
        )
        parts.append(
            f'<rect x="{LABEL_W}" y="{bar_y:.1f}" width="{x(bps) - LABEL_W:.1f}" '
            f'height="{BAR_H}" fill="{_colour(r)}"><title>{escape(_tooltip(r))}</title></rect>'
        )
        if r.framing_ratio:
            bx = x(bps / r.framing_ratio)
            parts.append(
                f'<line x1="{bx:.1f}" y1="{bar_y - 2:.1f}" x2="{bx:.1f}" '
                f'y2="{bar_y + BAR_H + 2:.1f}" stroke="#000" stroke-width="2"/>'
            )
        if r.line_rate_bps and len(rates) > 1:
            lx = x(r.line_rate_bps)
            parts.append(
                f'<line x1="{lx:.1f}" y1="{y:.1f}" x2="{lx:.1f}" y2="{y + ROW_H:.1f}" '
                'stroke="#c62828" stroke-dasharray="4 3" stroke-width="2"/>'
            )
        label = f"{bps / scale:.1f} {unit}"
        if r.line_ratio is not None:
            label += f" ({r.line_ratio:.2f} of line)"
        # In a column right of the plot, clear of the bars, the bound ticks and the rate line.
        parts.append(
            f'<text x="{LABEL_W + PLOT_W + 8}" y="{y + ROW_H / 2 + 4:.1f}">{escape(label)}</text>'
        )
    legend = "bars: measured payload rate; black tick: framing-adjusted bound"
    if len(rates) == 1:
        rate = next(iter(rates))
        lx = x(rate)
        parts.append(
            f'<line x1="{lx:.1f}" y1="{TOP - 6}" x2="{lx:.1f}" y2="{plot_bottom}" '
            'stroke="#c62828" stroke-dasharray="6 4" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{lx:.1f}" y="{TOP - 10}" text-anchor="middle" fill="#c62828">'
            f"line rate {_fmt(rate / scale)} {unit}</text>"
        )
        legend += "; dashed: line rate (baud/10)"
    elif rates:
        legend += "; dashed marks: each case's line rate (baud/10)"
    else:
        legend += " (line rate unknown: unthrottled simulator)"
    parts.append(f'<text x="4" y="14" fill="#555">{escape(legend)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def _tooltip(r: ScenarioResult) -> str:
    text = f"{r.id}: {r.throughput_bps or 0:.0f} bytes/s"
    if r.line_ratio is not None:
        text += f", {r.line_ratio:.3f} of line rate"
    if r.framing_ratio is not None:
        text += f", {r.framing_ratio:.3f} of framing-adjusted bound"
    return text
