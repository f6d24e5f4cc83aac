"""report.html, read at a glance: the verdict first (red / amber / green, with the counts and
the scenarios that produced no result), then failures and drift, then grids (protocol version x
cipher suite for the acceptance cases; scenario family x outcome for the rest), the
characterization results as the observed profile beside the profile asked for, the baseline
comparison, the throughput chart, and every scenario in one filterable table.

One self-contained file: inline CSS, inline SVG, a few lines of inline script for the filter
box; no external asset. Laid out to fit a 1280-px window without horizontal scrolling.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from html import escape
from pathlib import Path

from w24_harness.report.chart import throughput_chart
from w24_harness.report.compare import Comparison, presence_summary
from w24_harness.report.nvwrites import summarize
from w24_harness.report.provenance import Provenance
from w24_harness.report.results import RunResults, ScenarioResult
from w24_harness.report.verdict import NO_FAMILY, Entry, Missing, RunVerdict, Tally, by_cause
from w24_harness.runner.linerate import format_rate
from w24_harness.tlsfacts import SUITES, W24_SUITES, ProtocolVersion
from w24_harness.vocab import DataDirection, Family

_STYLE = """
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 0 auto; padding: 14px 20px 40px;
       max-width: 1260px; color: #222; font-size: 14px; }
h1 { margin: 0 0 0.2em; font-size: 1.5em; } h2 { font-size: 1.15em; margin: 0.2em 0 0.4em; }
section { margin: 1.1em 0 1.4em; }
.ident { margin: 0.2em 0 0.6em; } .ident b { font-family: monospace; }
.muted { color: #666; } code { font-size: 0.95em; overflow-wrap: anywhere; }
table { border-collapse: collapse; font-size: 13px; width: 100%; table-layout: fixed; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top;
         overflow-wrap: anywhere; }
th { background: #eee; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.verdict { border-radius: 6px; padding: 10px 16px; color: #fff; margin: 0.6em 0 1em; }
.verdict.green { background: #2e7d32; } .verdict.red { background: #c62828; }
.verdict.amber { background: #f2a900; color: #222; }
.verdict .state { font-size: 1.6em; font-weight: 700; letter-spacing: 0.03em; }
.verdict .exit { font-size: 0.55em; font-weight: 400; opacity: 0.85; margin-left: 0.6em; }
.verdict .headline { font-size: 1.05em; margin: 2px 0 6px; }
.verdict .counts span { display: inline-block; margin: 2px 6px 2px 0; padding: 2px 8px;
  border-radius: 10px; background: rgba(255,255,255,0.22); font-variant-numeric: tabular-nums; }
.verdict .counts span.zero { opacity: 0.55; }
.verdict ul { margin: 6px 0 0; padding-left: 1.3em; } .verdict li { margin: 1px 0; }
.verdict a { color: inherit; }
.verdict details { display: inline; margin-left: 0.5em; } .verdict summary { cursor: pointer; }
.faults { background: #6a1b9a; color: #fff; padding: 4px 10px; border-radius: 4px; }
.chip { display: inline-block; margin: 1px 2px; padding: 0 6px; border-radius: 9px;
        font-size: 12px; color: #fff; text-decoration: none; white-space: nowrap; }
.chip.t-passed, .tally.t-passed { background: #2e7d32; }
.chip.t-observed, .tally.t-observed { background: #1565c0; }
.chip.t-drift, .tally.t-drift { background: #f2a900; color: #222; }
.chip.t-failed, .tally.t-failed, .chip.t-wedged, .tally.t-wedged { background: #c62828; }
.chip.t-error, .tally.t-error { background: #6d1b1b; }
.chip.t-xfail, .tally.t-xfail { background: #7e57c2; }
.chip.t-xpass, .tally.t-xpass { background: #d81b60; }
.chip.t-no-result, .tally.t-no-result { background: #424242; }
.tally { color: #fff; font-weight: 600; }
tr.t-failed, tr.t-xpass, tr.t-error, tr.t-no-result { background: #fdecea; }
tr.t-drift { background: #fff6dc; }
table.grid td { min-height: 1.6em; } table.grid th.row { width: 110px; }
.filter { position: sticky; top: 0; background: #fff; padding: 6px 0; z-index: 1; }
.filter input { width: 520px; max-width: 100%; padding: 5px 8px; font-size: 14px;
                border: 1px solid #999; border-radius: 4px; }
svg { max-width: 100%; height: auto; }
table.cmp tr.regression td { background: #fdecea; } table.cmp td.flag { color: #c62828; }
.why { font-size: 11px; margin-top: 1px; } .why .kind { font-weight: 600; }
.why .k-characterization { color: #1565c0; } .why .k-robustness { color: #6d4c41; }
.why .k-conformance { color: #2e7d32; } .why .basis { color: #555; }
"""

# Keeps the rows and chips whose text holds the query (case-insensitive); no other script.
_FILTER_JS = """
document.getElementById('w24-filter').addEventListener('input', function (e) {
  var q = e.target.value.trim().toLowerCase();
  document.querySelectorAll('[data-f]').forEach(function (el) {
    el.hidden = q !== '' && el.getAttribute('data-f').indexOf(q) < 0;
  });
});
"""

# The order outcomes are listed and counted in: what needs attention first.
_ORDER = [
    Tally.NO_RESULT,
    Tally.FAILED,
    Tally.WEDGED,
    Tally.XPASS,
    Tally.ERROR,
    Tally.DRIFT,
    Tally.NOT_EXERCISED,
    Tally.XFAIL,
    Tally.OBSERVED,
    Tally.PASSED,
]
_PROBLEMS = {
    Tally.FAILED,
    Tally.WEDGED,
    Tally.XPASS,
    Tally.ERROR,
    Tally.DRIFT,
    Tally.NOT_EXERCISED,
}
_ARROW = {DataDirection.RECEIVE: "down", DataDirection.SEND: "up"}


def _fmt(value: object, digits: int = 1) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _css(tally: Tally) -> str:
    return "t-" + tally.value.replace(" ", "-")


def _anchor(nodeid: str) -> str:
    return "r-" + re.sub(r"[^A-Za-z0-9_-]+", "-", nodeid).strip("-")


def _negotiated(r: ScenarioResult) -> str:
    """Protocol and suite as the server saw them, e.g. "TLS1.0 AES_128_CBC_SHA"."""
    version, cipher = r.server.get("version"), r.server.get("cipher")
    if not version or not cipher:
        return ""
    return f"{version} {str(cipher).removeprefix('TLS_RSA_WITH_')}"


def _family(entry: Entry) -> str:
    """The entry's family. Only a plan from an older results.json, which left it empty,
    asks the catalogue: importing it costs an xdist controller half a second."""
    if entry.planned.family:
        return entry.planned.family
    from w24_harness.scenarios import get

    try:
        return str(get(entry.planned.id).family)
    except KeyError:
        return NO_FAMILY


def _basis_kind(e: Entry) -> tuple[str, str, str]:
    """(kind, basis, measured field) of the entry: its result's, else its plan's."""
    r = e.result
    kind = (r.scenario_kind if r else "") or e.planned.kind
    basis = (r.basis if r else "") or e.planned.basis
    measures = (r.measures if r else None) or e.planned.measures or ""
    return kind, basis, measures


def _why(e: Entry) -> str:
    """What the expectation rests on, under the scenario id: its kind (and the profile field
    a characterization measures) and its basis; empty for a test that is no catalogue row."""
    kind, basis, measures = _basis_kind(e)
    if not kind and not basis:
        return ""
    field = f" of <code>{escape(measures)}</code>" if measures else ""
    kind_html = f'<span class="kind k-{escape(kind)}">{escape(kind)}</span>{field}' if kind else ""
    basis_html = f'<span class="basis">basis: {escape(basis)}</span>' if basis else ""
    return f'<div class="why">{" · ".join(p for p in (kind_html, basis_html) if p)}</div>'


def _filter_text(e: Entry) -> str:
    r = e.result
    kind, basis, _measures = _basis_kind(e)
    words = [e.planned.id, e.tally.value, _family(e), kind, basis]
    if r is not None:
        words += [r.description, r.expected, r.actual, _fmt(r.code), _negotiated(r)]
    if e.missing is not None:
        words += [e.missing.why.value, e.missing.detail]
    return escape(" ".join(w for w in words if w).lower())


def _chip(e: Entry, label: str | None = None) -> str:
    r = e.result
    kind, basis, _measures = _basis_kind(e)
    tip = (
        e.planned.id
        + (f" [{', '.join(w for w in (kind, basis) if w)}]" if kind or basis else "")
        + ": "
        + (
            f"{e.missing.why}"
            if e.missing
            else f"expected {r.expected}, got {r.actual}"
            if r
            else ""
        )
    )
    return (
        f'<a class="chip {_css(e.tally)}" href="#{_anchor(e.planned.nodeid)}" '
        f'data-f="{_filter_text(e)}" title="{escape(tip)}">{escape(label or e.planned.id)}</a>'
    )


# -- the verdict ---------------------------------------------------------------------------


def _missing_by_cause(missing: list[Missing]) -> str:
    """One line per cause (count, reason, detail), its rows folded: a device lost half-way is
    one line, not a banner with the same cause for every row after it."""
    if not missing:
        return ""
    items = "".join(
        f"<li><b>{len(c.rows)} {escape(c.why)}</b>"
        + (f' <span class="detail">{escape(c.detail)}</span>' if c.detail else "")
        + f"<details><summary>the {len(c.rows)} row{'s' if len(c.rows) != 1 else ''}</summary>"
        + ", ".join(
            f'<a href="#{_anchor(m.nodeid)}"><code>{escape(m.id)}</code></a>' for m in c.rows
        )
        + "</details></li>"
        for c in by_cause(missing)
    )
    n = len(missing)
    return f"<div><b>{n} planned scenario{'s' if n != 1 else ''} produced no result:</b>" + (
        f"<ul>{items}</ul></div>"
    )


def _verdict_section(verdict: RunVerdict, exit_status: int | None) -> str:
    c = verdict.counts
    shown = [
        ("planned", c.planned),
        ("passed", c.passed),
        ("observed", c.observed),
        ("failed", c.failed),
        ("drift", c.drift),
        ("xfail", c.xfail),
        ("xpass", c.xpass),
        ("error", c.error),
        ("no result", c.no_result),
    ]
    counts = "".join(
        f'<span class="{"zero" if n == 0 and name != "planned" else ""}">{n} {name}</span>'
        for name, n in shown
    )
    why = "".join(f"<span>{n} {escape(reason)}</span>" for reason, n in c.no_result_why.items())
    missing_html = _missing_by_cause(verdict.missing)
    planned = {m.nodeid for m in verdict.missing}
    others = [t for t in verdict.troubles if t.nodeid not in planned]
    trouble_html = (
        "<div><b>Infrastructure trouble in other tests:</b><ul>"
        + "".join(
            f"<li><code>{escape(t.nodeid)}</code>: {escape(str(t.trouble))}"
            f"{' (' + escape(t.detail) + ')' if t.detail else ''}</li>"
            for t in others
        )
        + "</ul></div>"
        if others
        else ""
    )
    failed_html = (
        "<div><b>Other tests that failed</b> (they record no scenario):<ul>"
        + "".join(
            f"<li><code>{escape(t.nodeid)}</code>: {escape(str(t.status))}"
            f"{' (' + escape(t.detail) + ')' if t.detail else ''}</li>"
            for t in verdict.other_failures
            if t.trouble is None
        )
        + "</ul></div>"
        if any(t.trouble is None for t in verdict.other_failures)
        else ""
    )
    security_html = (
        "<div><b>Security observations</b> (the firmware took the weaker choice where the "
        "manuals leave it open):<ul>"
        + "".join(f"<li>{escape(line)}</li>" for line in verdict.security)
        + "</ul></div>"
        if verdict.security
        else ""
    )
    critical_html = (
        "<div><b>Security-critical rows a deviations entry expects to fail</b>:<ul>"
        + "".join(f"<li><code>{escape(i)}</code></li>" for i in verdict.critical_xfails)
        + "</ul></div>"
        if verdict.critical_xfails
        else ""
    )
    status = f'<span class="exit">pytest exit status {exit_status}</span>' if exit_status else ""
    return (
        f'<div class="verdict {verdict.colour}" role="status">'
        f'<div class="state">{escape(str(verdict.state).upper())}{status}</div>'
        f'<div class="headline">{escape(verdict.headline.split(": ", 1)[-1])}</div>'
        f'<div class="counts">{counts}{" — " + why if why else ""}</div>'
        f"{missing_html}{trouble_html}{failed_html}{security_html}{critical_html}</div>"
    )


# -- failures and drift ----------------------------------------------------------------------


def _problems_section(counted: list[Entry], base: Path) -> str:
    rows = [e for e in counted if e.tally in _PROBLEMS]
    if not rows:
        return ""
    rows.sort(key=lambda e: (_ORDER.index(e.tally), e.planned.nodeid))
    body = "".join(
        f'<tr class="{_css(e.tally)}"><td class="tally {_css(e.tally)}">{escape(e.tally)}</td>'
        f'<td><a href="#{_anchor(e.planned.nodeid)}"><code>{escape(e.planned.id)}</code></a>'
        f"{_why(e)}</td>"
        f"<td>{escape(e.result.description if e.result else '')}</td>"
        f"<td>{escape(e.result.expected if e.result else '')}</td>"
        f"<td>{escape(e.result.actual if e.result else '')}</td>"
        f"<td>{escape(e.result.detail if e.result else '')}</td>"
        f"<td>{_transcript_link(e.result, base)}</td></tr>"
        for e in rows
    )
    return (
        "<section><h2>Failures and drift</h2><table><colgroup><col style='width:80px'>"
        "<col style='width:200px'><col><col style='width:150px'><col style='width:170px'>"
        "<col style='width:300px'><col style='width:85px'></colgroup>"
        "<tr><th>outcome</th><th>scenario</th><th>description</th><th>expected</th>"
        f"<th>actual</th><th>detail</th><th></th></tr>{body}</table></section>"
    )


# -- grids ---------------------------------------------------------------------------------


def _version_order(version: str) -> int:
    order = list(ProtocolVersion)
    return order.index(ProtocolVersion(version)) if version in set(order) else len(order)


def _suite_label(iana: str) -> str:
    return SUITES[iana].openssl if iana in SUITES else iana


def _acceptance_grid(counted: list[Entry]) -> str:
    cells: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for e in counted:
        if e.planned.version and e.planned.suite:
            cells[(e.planned.version, e.planned.suite)].append(e)
    if not cells:
        return ""
    versions = sorted({v for v, _ in cells}, key=_version_order)
    present = {s for _, s in cells}
    suites = [s for s in W24_SUITES if s in present] + sorted(present - set(W24_SUITES))

    def label(e: Entry) -> str:
        if e.planned.family == Family.THROUGHPUT:
            way = _ARROW.get(DataDirection(e.planned.direction), "") if e.planned.direction else ""
            return f"throughput {way}".strip()
        return str(e.planned.family or "handshake")

    head = "".join(f"<th>{escape(_suite_label(s))}</th>" for s in suites)
    rows = "".join(
        f'<tr><th class="row">{escape(v)}</th>'
        + "".join(
            "<td>"
            + "".join(_chip(e, label(e)) for e in sorted(cells.get((v, s), []), key=label))
            + "</td>"
            for s in suites
        )
        + "</tr>"
        for v in versions
    )
    return (
        "<section><h2>Acceptance: protocol version × cipher suite</h2>"
        f'<table class="grid"><tr><th class="row"></th>{head}</tr>{rows}</table></section>'
    )


def _family_grid(counted: list[Entry]) -> str:
    rest = [e for e in counted if not (e.planned.version and e.planned.suite)]
    if not rest:
        return ""
    by_family: dict[str, dict[Tally, list[Entry]]] = defaultdict(lambda: defaultdict(list))
    for e in rest:
        by_family[_family(e)][e.tally].append(e)
    columns = [t for t in _ORDER if any(t in cells for cells in by_family.values())]
    known = [str(f) for f in Family]
    families = sorted(by_family, key=lambda f: (known.index(f) if f in known else len(known), f))
    head = "".join(f'<th class="{_css(t)}">{escape(t)}</th>' for t in columns)
    rows = "".join(
        f'<tr><th class="row">{escape(f)}</th>'
        + "".join(
            "<td>"
            + "".join(_chip(e) for e in sorted(by_family[f].get(t, []), key=lambda e: e.planned.id))
            + "</td>"
            for t in columns
        )
        + "</tr>"
        for f in families
    )
    return (
        "<section><h2>Other scenarios: family × outcome</h2>"
        f'<table class="grid"><tr><th class="row">family</th>{head}</tr>{rows}</table></section>'
    )


# -- characterization ----------------------------------------------------------------------


def _characterization_section(counted: list[Entry], profiles: list[str]) -> str:
    rows = []
    for e in counted:
        measures = (e.result.measures if e.result else None) or e.planned.measures
        if not measures:
            continue
        r = e.result
        rows.append(
            f'<tr class="{_css(e.tally)}" data-f="{_filter_text(e)}">'
            f"<td><code>{escape(measures)}</code></td>"
            f'<td><a href="#{_anchor(e.planned.nodeid)}">'
            f"<code>{escape(e.planned.id)}</code></a>{_why(e)}</td>"
            f"<td>{escape(r.expected if r else '')}</td>"
            f"<td>{escape(r.actual if r else '(no result)')}</td>"
            f'<td class="tally {_css(e.tally)}">{escape(e.tally)}</td></tr>'
        )
    if not rows:
        return ""
    asked = ", ".join(profiles) or "?"
    return (
        f"<section><h2>Characterization: the observed profile beside profile "
        f"<code>{escape(asked)}</code></h2>"
        "<p class='muted'>What the manuals leave open, measured: an observed value inside the "
        "allowed set is recorded, never a failure; one that differs from what the profile holds "
        "is drift.</p><table><colgroup><col style='width:230px'><col style='width:230px'>"
        "<col><col><col style='width:90px'></colgroup><tr><th>profile field</th>"
        f"<th>scenario</th><th>profile {escape(asked)} holds</th><th>observed</th>"
        f"<th>outcome</th></tr>{''.join(rows)}</table></section>"
    )


# -- every scenario --------------------------------------------------------------------------


def _transcript_link(r: ScenarioResult | None, base: Path) -> str:
    if r is None:
        return ""
    links = [(r.transcript, "transcript"), (r.capture, "capture"), (r.keylog, "keys")]
    return "<br>".join(
        f'<a href="{escape(os.path.relpath(p, base) if os.path.isabs(p) else p)}">{label}</a>'
        for p, label in links
        if p
    )


def _row(e: Entry, base: Path, with_device: bool = False) -> str:
    r = e.result
    if r is None:
        why = e.missing.why if e.missing else ""
        detail = e.missing.detail if e.missing else ""
        cells = (
            f"<td><code>{escape(e.planned.id)}</code>{_why(e)}</td>"
            f'<td colspan="6">no result: {escape(why)}</td><td>{escape(detail)}</td><td></td>'
        )
    else:
        throughput = format_rate(r.throughput_bps)
        if r.framing_ratio is not None:
            throughput += f" ({_fmt(r.line_ratio, 3)} of line, {_fmt(r.framing_ratio, 3)} of bound)"
        negotiated = escape(_negotiated(r)).replace(" ", "<br>", 1)  # version, then the suite
        moved = (
            " / ".join(str(n) for n in (r.bytes_received, r.bytes_sent))
            if (r.bytes_received or r.bytes_sent)
            else ""
        )
        cells = (
            f"<td><code>{escape(r.id)}</code>{_why(e)}"
            f"<div class='muted'>{escape(r.description)}</div>"
            + (f"<div class='device'>on {escape(r.device)}</div>" if with_device else "")
            + "</td>"
            f"<td>{escape(r.expected)}</td><td>{escape(r.actual)}</td>"
            f'<td class="num">{_fmt(r.code)}</td><td>{negotiated}</td>'
            f'<td class="num">{_fmt(r.handshake_ms)}</td>'
            f'<td class="num">{moved}{("<br>" + throughput) if throughput else ""}</td>'
            f"<td>{escape(r.detail)}{_nv_note(r)}</td><td>{_transcript_link(r, base)}</td>"
        )
    return (
        f'<tr id="{_anchor(e.planned.nodeid)}" class="{_css(e.tally)}" '
        f'data-f="{_filter_text(e)}"><td class="tally {_css(e.tally)}">{escape(e.tally)}</td>'
        f"{cells}</tr>"
    )


def _nv_note(r: ScenarioResult) -> str:
    if not r.nv_writes:
        return ""
    return f"<div class='muted'>CA writes: {r.nv_writes} ({_fmt(r.nv_seconds, 2)} s)</div>"


def _nv_section(run: RunResults) -> str:
    if not run.nv_writes:
        return ""
    nv = summarize(run.nv_writes)
    where = '<span class="muted">(results.json nv_writes)</span>'
    return f'<p class="nv">{escape(nv.line())} {where}</p>'


def _all_section(counted: list[Entry], base: Path) -> str:
    ordered = sorted(counted, key=lambda e: (_ORDER.index(e.tally), e.planned.nodeid))
    # A run over several devices (labgrid places, inventory entries) names each row's device.
    with_device = len({e.result.device for e in counted if e.result is not None}) > 1
    rows = "\n".join(_row(e, base, with_device) for e in ordered)
    return (
        "<section><h2>Every planned scenario</h2>"
        "<p class='muted'>Under each scenario: its kind (conformance: pass or fail; robustness: "
        "no hang, a clean error; characterization: which allowed outcome it shows) and its "
        "basis (w24-manual, ichip-firmware (spec §12), rfc, or a harness assumption).</p>"
        "<table><colgroup><col style='width:86px'><col style='width:196px'>"
        "<col style='width:110px'><col style='width:120px'>"
        "<col style='width:48px'><col style='width:140px'><col style='width:100px'>"
        "<col style='width:130px'><col><col style='width:82px'></colgroup>"
        "<tr><th>outcome</th>"
        + ("<th>scenario, device</th>" if with_device else "<th>scenario</th>")
        + "<th>expected</th><th>actual</th><th>code</th>"
        "<th title='as the server saw it'>negotiated</th><th>handshake ms</th>"
        "<th title='bytes in / out; throughput, its ratio to the line rate (baud/10) and to "
        "the framing-adjusted bound'>bytes in / out, throughput</th><th>detail</th><th></th>"
        f"</tr>\n{rows}</table></section>"
    )


def render(run: RunResults, base: Path, extra_sections: list[str] | None = None) -> str:
    idents = sorted({(i.part_number, i.firmware, i.profile, i.port) for i in run.info})
    ident_html = (
        "".join(
            f'<div class="ident">Device <b>{escape(p)}</b>, firmware <b>{escape(f)}</b>, '
            f'profile <b>{escape(prof)}</b> <span class="muted">on {escape(port)}</span></div>'
            for p, f, prof, port in idents
        )
        or '<div class="ident muted">device identity not read (no device session)</div>'
    )
    faults = sorted({f for i in run.info for f in i.faults})
    fault_html = (
        f'<p class="faults">simulator self-test faults on: {escape(", ".join(faults))}</p>'
        if faults
        else ""
    )
    verdict = run.verdict()
    counted = run.entries()
    extra = "\n".join(extra_sections or [])
    chart = throughput_chart(run.results)
    chart_html = f"<section><h2>Throughput</h2>{chart}</section>" if chart else ""
    profiles = sorted({i.profile for i in run.info} | {r.profile for r in run.results})
    filter_html = (
        '<div class="filter"><input id="w24-filter" type="search" '
        'placeholder="filter: scenario id, outcome, family, code, words of the description" '
        'aria-label="filter the scenarios"></div>'
    )
    title = f"W24 TLS certification: {verdict.state}"
    ident_html += _provenance_html(run.provenance)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        "<meta name='viewport' content='width=device-width'>"
        f"<style>{_STYLE}</style></head><body><h1>W24 SSL3/TLS1 certification</h1>"
        f"{ident_html}{fault_html}{_nv_section(run)}{_verdict_section(verdict, run.exit_status)}"
        f"{filter_html}{_problems_section(counted, base)}{extra}"
        f"{_acceptance_grid(counted)}{_family_grid(counted)}"
        f"{_characterization_section(counted, profiles)}{chart_html}"
        f"{_all_section(counted, base)}<script>{_FILTER_JS}</script></body></html>\n"
    )


def _provenance_html(p: Provenance | None) -> str:
    """When, by what, on what: one muted block under the device line."""
    if p is None:
        return '<div class="ident muted">run provenance not recorded (an older results.json)</div>'
    took = f" for {p.duration_s:.1f} s" if p.duration_s is not None else ""
    commit = f" (git {p.git_commit})" if p.git_commit else ""
    rate = f"{p.baud} baud" if p.baud else "unthrottled"
    profile = p.profile + (
        f" from {p.profile_file} (sha256 {p.profile_sha256[:16]}…)" if p.profile_file else ""
    )
    lines = [
        f"Run started {p.started}{took}, on host {p.host} ({p.platform})",
        f"w24-harness {p.harness_version or '?'}{commit}; Python {p.python}, {p.openssl}, "
        f"tlslite-ng {p.tlslite or '?'}",
        f"Port {p.port} via {p.path or '?'} at {rate}; profile {profile}",
    ]
    return '<div class="ident muted provenance">' + "<br>".join(map(escape, lines)) + "</div>"


def internal_errors_section(run: RunResults) -> str:
    """Simulator internal errors: bugs of the simulator's own, apart from the firmware verdicts."""
    if not run.internal_errors:
        return ""
    items = "".join(
        f"<li><b>{escape(e.nodeid)}</b> ({escape(e.phase)}): {e.count} error(s)"
        f"<pre>{escape(e.error)}</pre></li>"
        for e in run.internal_errors
    )
    return (
        '<section><h2 class="bad">Simulator internal error</h2><p>The simulator raised an '
        "exception of its own (it answered I/ERROR(216) on the wire) during these tests. "
        "This is a bug in the simulator, not a firmware verdict.</p>"
        f"<ul>{items}</ul></section>"
    )


def comparison_section(cmp: Comparison) -> str:
    """The baseline comparison, for the top of the report (below failures and drift)."""
    n = len(cmp.regressions)
    verdict = (
        f'<span class="chip t-failed">{n} regression{"s" if n != 1 else ""} against the '
        "baseline</span>"
        if n
        else '<span class="chip t-passed">no regressions against the baseline</span>'
    )
    notes = "".join(f'<p class="bad">gate blocked: {escape(b)}</p>' for b in cmp.blockers)
    notes += "".join(f'<p class="muted">{escape(note)}</p>' for note in cmp.notes)
    head = (
        f'<section><h2>Baseline comparison</h2><p class="summary">{verdict} '
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
        head + '<table class="cmp"><tr><th style="width:90px"></th><th>scenario</th>'
        "<th>aspect</th><th>change</th>"
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
