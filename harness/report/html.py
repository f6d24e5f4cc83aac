"""report.html: the expected-vs-actual matrix a person reads at a glance, under the device
identity, the baseline comparison (with --w24-baseline) and the throughput chart."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from w24_harness.report.chart import throughput_chart
from w24_harness.report.compare import Comparison, presence_summary
from w24_harness.report.linerate import format_rate
from w24_harness.report.results import RunResults, ScenarioResult

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { margin-bottom: 0.2em; } .ident { font-size: 1.1em; margin: 0.3em 0 1em; }
.ident b { font-family: monospace; }
table { border-collapse: collapse; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eee; position: sticky; top: 0; }
tr.pass td.verdict { background: #2e7d32; color: white; }
tr.fail td.verdict { background: #c62828; color: white; }
tr.fail { background: #fdecea; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.summary span { display: inline-block; padding: 4px 10px; margin-right: 6px; border-radius: 4px; }
.ok { background: #2e7d32; color: white; } .bad { background: #c62828; color: white; }
.muted { color: #777; } code { font-size: 0.95em; }
section { margin: 1em 0 1.5em; } h2 { font-size: 1.15em; margin: 0.4em 0; }
table.cmp tr.regression td { background: #fdecea; } table.cmp td.flag { color: #c62828; }
"""


def _fmt(value: object, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _row(r: ScenarioResult, base: Path, with_device: bool = False) -> str:
    link = ""
    if r.transcript:
        rel = os.path.relpath(r.transcript, base) if os.path.isabs(r.transcript) else r.transcript
        link = f'<a href="{escape(rel)}">transcript</a>'
    verdict = "PASS" if r.passed else "FAIL"
    cells = [
        f'<td class="verdict">{verdict}</td>',
        f"<td><code>{escape(r.id)}</code></td>",
        *([f"<td>{escape(r.device)}</td>"] if with_device else []),
        f"<td>{escape(r.description)}</td>",
        f"<td>{escape(r.expected)}</td>",
        f"<td>{escape(r.actual)}</td>",
        f'<td class="num">{_fmt(r.code)}</td>',
        f"<td>{escape(_negotiated(r))}</td>",
        f'<td class="num">{_fmt(r.handshake_ms)}</td>',
        f'<td class="num">{r.bytes_received or ""}</td>',
        f'<td class="num">{r.bytes_sent or ""}</td>',
        f'<td class="num">{format_rate(r.throughput_bps)}</td>',
        f'<td class="num">{_fmt(r.line_ratio, 3)}</td>',
        f'<td class="num">{_fmt(r.framing_ratio, 3)}</td>',
        f"<td>{escape(r.detail)}</td>",
        f"<td>{link}</td>",
    ]
    return f'<tr class="{"pass" if r.passed else "fail"}">' + "".join(cells) + "</tr>"


def _negotiated(r: ScenarioResult) -> str:
    """Protocol and suite as the server saw them, e.g. "TLS1.0 AES_128_CBC_SHA"."""
    version, cipher = r.server.get("version"), r.server.get("cipher")
    if not version or not cipher:
        return ""
    return f"{version} {str(cipher).removeprefix('TLS_RSA_WITH_')}"


def render(run: RunResults, base: Path, extra_sections: list[str] | None = None) -> str:
    idents = sorted({(i.part_number, i.firmware, i.profile, i.port) for i in run.info})
    ident_html = "".join(
        f'<div class="ident">Device <b>{escape(p)}</b>, firmware <b>{escape(f)}</b>, '
        f'profile <b>{escape(prof)}</b> <span class="muted">on {escape(port)}</span></div>'
        for p, f, prof, port in idents
    ) or '<div class="ident muted">device identity not read (no device session)</div>'
    faults = sorted({f for i in run.info for f in i.faults})
    fault_html = (
        f'<p class="bad" style="padding:4px">simulator self-test faults on: '
        f"{escape(', '.join(faults))}</p>"
        if faults
        else ""
    )
    summary = (
        f'<p class="summary"><span class="{"ok" if not run.failed else "bad"}">'
        f"{run.passed} of {len(run.results)} scenarios as expected</span>"
        + (f'<span class="bad">{run.failed} not as expected</span>' if run.failed else "")
        + (
            f'<span class="muted">pytest exit status {run.exit_status}</span>'
            if run.exit_status
            else ""
        )
        + "</p>"
    )
    # A run over several devices (labgrid places, inventory entries) names each row's device.
    with_device = len({r.device for r in run.results}) > 1
    head = (
        "<tr><th></th><th>scenario</th>"
        + ("<th>device</th>" if with_device else "")
        + "<th>description</th><th>expected</th><th>actual</th>"
        "<th>code</th><th title='as the server saw it'>negotiated</th><th>handshake ms</th>"
        "<th>bytes in</th><th>bytes out</th>"
        "<th>throughput</th><th title='throughput / (baud/10)'>of line rate</th>"
        "<th title='throughput / framing-adjusted bound'>of bound</th><th>detail</th>"
        "<th></th></tr>"
    )
    failed_first = sorted(run.results, key=lambda r: (r.passed, r.nodeid))
    rows = "\n".join(_row(r, base, with_device) for r in failed_first)
    extra = "\n".join(extra_sections or [])
    chart = throughput_chart(run.results)
    chart_html = f"<section><h2>Throughput</h2>{chart}</section>" if chart else ""
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>W24 TLS certification</title>"
        f"<style>{_STYLE}</style></head><body><h1>W24 SSL3/TLS1 certification</h1>"
        f"{ident_html}{fault_html}{summary}{extra}{chart_html}"
        f"<table>{head}\n{rows}</table></body></html>\n"
    )


def comparison_section(cmp: Comparison) -> str:
    """The baseline comparison, for the top of the report (above the matrix)."""
    n = len(cmp.regressions)
    verdict = (
        f'<span class="bad">{n} regression{"s" if n != 1 else ""} against the baseline</span>'
        if n
        else '<span class="ok">no regressions against the baseline</span>'
    )
    notes = "".join(f'<p class="muted">{escape(note)}</p>' for note in cmp.notes)
    head = (
        f'<section><h2>Baseline comparison</h2><p class="summary">{verdict}'
        f'<span class="muted">{cmp.compared} scenarios compared with '
        f"<code>{escape(cmp.baseline)}</code>, threshold {cmp.threshold:.0%}</span></p>{notes}"
    )
    presence = "".join(f'<p class="muted">{escape(line)}</p>' for line in presence_summary(cmp))
    changes = [c for c in cmp.changes if c.aspect != "presence"]
    if not changes:
        return head + presence + "</section>"
    rows = "".join(
        f'<tr class="{"regression" if c.regression else ""}">'
        f'<td class="flag">{"regression" if c.regression else ""}</td>'
        f"<td><code>{escape(c.id)}</code></td><td>{escape(c.aspect)}</td>"
        f"<td>{escape(c.kind)}</td><td>{escape(c.baseline)}</td><td>{escape(c.current)}</td>"
        f"<td>{escape(c.note)}</td></tr>"
        for c in changes
    )
    return (
        head + '<table class="cmp"><tr><th></th><th>scenario</th><th>aspect</th><th>change</th>'
        f"<th>baseline</th><th>now</th><th></th></tr>{rows}</table>{presence}</section>"
    )


def write_html(
    report_dir: Path,
    run: RunResults,
    extra_sections: list[str] | None = None,
    path: Path | None = None,
) -> Path:
    path = path or report_dir / "report.html"
    path.write_text(render(run, path.parent, extra_sections), encoding="utf-8")
    return path
