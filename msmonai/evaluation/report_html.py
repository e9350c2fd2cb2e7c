"""A self-contained HTML page for one patient's prediction (inline CSS and images, no scripts, no external resources)."""

from __future__ import annotations

import base64
import html
from numbers import Real
from typing import Mapping

NOTICE = "Research use only — not a medical device"
NOTICE_DETAIL = (
    "This estimate comes from a research model trained on a small cohort. It must not be used to diagnose, "
    "treat or decide therapy for any patient."
)
IMAGE_TYPES = {b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:16px 24px 40px}
.notice{background:#b3261e;color:#fff;padding:14px 24px;font-size:1.35em;font-weight:700;text-align:center}
.notice small{display:block;font-size:.6em;font-weight:400;margin-top:4px}
section{background:#fff;border:1px solid #d8dce2;border-radius:6px;padding:12px 18px;margin:14px 0}
h1{font-size:1.5em;margin:.4em 0}h2{font-size:1.15em;margin:.2em 0 .6em}
.warn{background:#fdecea;border-left:4px solid #b3261e;padding:6px 10px;font-weight:600}
.risk{font-size:2.4em;font-weight:700;color:#b3261e}.muted{color:#5f6b7a}
table{border-collapse:collapse;font-size:.92em}th,td{border:1px solid #d8dce2;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#eef1f5}
figure{display:inline-block;margin:6px 12px 6px 0;vertical-align:top}figure img{max-width:100%;border:1px solid #d8dce2}
figcaption{font-size:.9em;color:#5f6b7a}
"""


def _text(value) -> str:
    """Escaped text of any value; an em dash for a missing one."""
    return "—" if value is None else html.escape(str(value))


def _number(value, spec: str = ".3f") -> str:
    """A real number formatted with ``spec``, other values as escaped text."""
    if isinstance(value, Real) and not isinstance(value, bool):
        return format(value, spec)
    return _text(value)


def _data_uri(data: bytes) -> str:
    """``data:`` URI of PNG or JPEG bytes; ``ValueError`` for any other content."""
    for magic, mime in IMAGE_TYPES.items():
        if data.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"
    raise ValueError("report images must be PNG or JPEG bytes")


def _risk_svg(visits: list[Mapping], threshold) -> str:
    """Inline SVG of probability of activity per visit, with ±uncertainty whiskers and the decision threshold."""
    points = [v for v in visits if isinstance(v.get("probability_active"), Real)]
    if not points:
        return '<p class="muted">No per-visit risk available.</p>'
    width, height, left, right, top, bottom = 640, 240, 48, 16, 12, 44
    step = (width - left - right) / max(len(points), 1)

    def x(i):
        return left + step * (i + 0.5)

    def y(p):
        return top + (1 - min(max(p, 0.0), 1.0)) * (height - top - bottom)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="Probability of activity per visit">']
    for tick in (0, 0.25, 0.5, 0.75, 1):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#e3e6ea"/>'
                     f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" font-size="11" text-anchor="end">{tick:.2f}</text>')
    if isinstance(threshold, Real):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(threshold):.1f}" y2="{y(threshold):.1f}" '
                     f'stroke="#b3261e" stroke-dasharray="5,4"/><text x="{width - right}" y="{y(threshold) - 4:.1f}" '
                     f'font-size="11" text-anchor="end" fill="#b3261e">threshold {threshold:.2f}</text>')
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v['probability_active']):.1f}" for i, v in enumerate(points))
    parts.append(f'<path d="{path}" fill="none" stroke="#1f5fa8" stroke-width="2"/>')
    for i, visit in enumerate(points):
        p, spread = visit["probability_active"], visit.get("uncertainty")
        if isinstance(spread, Real):
            parts.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(p - spread):.1f}" y2="{y(p + spread):.1f}" '
                         f'stroke="#1f5fa8" stroke-width="1.5"/>')
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(p):.1f}" r="4.5" fill="#1f5fa8"><title>{_text(visit.get("date"))}: '
                     f'{p:.2f}</title></circle><text x="{x(i):.1f}" y="{height - bottom + 18}" font-size="11" '
                     f'text-anchor="middle">{_text(visit.get("date"))}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _edss_table(visits: list[Mapping]) -> str:
    """Table of EDSS subscores, one row per visit, one column per subscore seen in any visit."""
    keys = list(dict.fromkeys(key for visit in visits for key in (visit.get("edss") or {})))
    if not keys:
        return '<p class="muted">No EDSS subscores available.</p>'
    header = "".join(f"<th>{_text(k.removeprefix('edss_').replace('_', ' '))}</th>" for k in keys)
    rows = "".join(
        f"<tr><td>{_text(v.get('date'))}</td>"
        + "".join(f"<td>{_number((v.get('edss') or {}).get(k), 'g')}</td>" for k in keys)
        + "</tr>"
        for v in visits
    )
    return f"<table><tr><th>visit</th>{header}</tr>{rows}</table>"


def _validated_performance(performance: Mapping | None, in_training_data: bool) -> str:
    """The model's cross-validated performance beside the banner, or a plain sentence when it has none; a warning
    when this patient was among the model's training or validation patients."""
    parts = []
    if in_training_data:
        parts.append('<p class="warn">This patient was among the patients this model was trained or validated on: '
                     "the estimate is not a fair test of the model.</p>")
    if not performance:
        parts.append('<p class="muted">This model carries no validated performance: it was not trained with the '
                     "cross-validation of its recipe (msmonai train --cv), so how well it predicts is unknown.</p>")
        return "".join(parts)
    rows = []
    for name, label in (("roc_auc", "ROC AUC"), ("pr_auc", "PR AUC"), ("f1", "F1")):
        entry = performance.get(name) or {}
        interval = "—"
        if entry.get("low") is not None and entry.get("high") is not None:
            interval = f"{_number(entry['low'], '.2f')}–{_number(entry['high'], '.2f')}"
        rows.append(f"<tr><td>{label}</td><td>{_number(entry.get('value'), '.2f')}</td><td>{interval}</td></tr>")
    parts.append(
        f"<p>Cross-validated on {_text(performance.get('n_observations'))} observations of "
        f"{_text(performance.get('n_patients'))} patients ({_text(performance.get('folds'))} patient-grouped folds, "
        "95 % intervals by patient bootstrap):</p>"
        f"<table><tr><th>metric</th><th>value</th><th>95 % interval</th></tr>{''.join(rows)}</table>")
    return "".join(parts)


def render_report_html(report: Mapping, images: Mapping[str, bytes]) -> str:
    """Render one patient's prediction report as a self-contained HTML page.

    Args:
        report: the content of ``report.json``. Only ``patient_key`` is required; missing parts render as
            "not available". Keys:

            - ``patient_key`` (str): the pseudonymous key shown as the patient's identity.
            - ``model`` (dict): ``name``, ``version`` (str) and optionally ``bundle`` (str).
            - ``prediction`` (dict): the latest prediction: ``probability_active`` (float in [0, 1]),
              ``uncertainty`` (float, e.g. MC-dropout standard deviation), ``threshold`` (float),
              ``prediction`` (0/1), ``last_visit_date`` (ISO date str).
            - ``visits`` (list of dict, oldest first): ``date`` (ISO str), ``probability_active`` and
              ``uncertainty`` (float or None: the prediction made with the visits up to this one),
              ``edss`` (dict subscore name -> value, e.g. ``{"edss_visual": 1, ...}``).
            - ``validated_performance`` (dict or None): ``roc_auc``, ``pr_auc``, ``f1`` as ``{"value", "low",
              "high"}``, ``n_observations``, ``n_patients``, ``folds``, ``seed``
              (:func:`msmonai.bundle_tools.training_run.validated_performance`).
            - ``in_training_data`` (bool): the patient was among the model's training or validation patients.
            - ``generated_at`` (str): when the report was made.
            - ``notes`` (list of str): caveats to show (e.g. visits skipped and why).
        images: explanation images, caption -> PNG or JPEG bytes, shown in the given order.

    Returns:
        The HTML document; every text value is escaped, images are base64 ``data:`` URIs.
    """
    model = report.get("model") or {}
    prediction = report.get("prediction") or {}
    visits = list(report.get("visits") or [])
    probability = prediction.get("probability_active")
    if isinstance(probability, Real):
        risk = f'<div class="risk">{100 * probability:.0f} %</div>'
        spread = prediction.get("uncertainty")
        if isinstance(spread, Real):
            risk += f"<p>probability {probability:.2f} ± {spread:.2f} (uncertainty)</p>"
        label = {1: "active phase expected", 0: "no active phase expected"}.get(prediction.get("prediction"))
        if label:
            risk += f"<p>At threshold {_number(prediction.get('threshold'), '.2f')}: <strong>{label}</strong></p>"
    else:
        risk = '<p class="muted">No prediction available.</p>'
    figures = "".join(
        f'<figure><img alt="{_text(caption)}" src="{_data_uri(data)}"><figcaption>{_text(caption)}</figcaption></figure>'
        for caption, data in images.items()
    ) or '<p class="muted">No explanation images.</p>'
    notes = "".join(f"<li>{_text(note)}</li>" for note in report.get("notes") or [])
    title = f"MS activity prediction — {_text(report['patient_key'])}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{CSS}</style></head>
<body>
<div class="notice" role="alert">{_text(NOTICE)}<small>{_text(NOTICE_DETAIL)}</small></div>
<main>
<section><h2>Validated performance of the model</h2>
{_validated_performance(report.get('validated_performance'), bool(report.get('in_training_data')))}</section>
<h1>{title}</h1>
<p class="muted">Patient key {_text(report['patient_key'])} · model {_text(model.get('name'))} version {_text(model.get('version'))}
{f"(bundle {_text(model['bundle'])})" if model.get('bundle') else ''} · generated {_text(report.get('generated_at'))}</p>
<section><h2>Probability of an active phase within one year (after the visit of {_text(prediction.get('last_visit_date'))})</h2>
{risk}</section>
<section><h2>Risk over visits</h2>{_risk_svg(visits, prediction.get('threshold'))}</section>
<section><h2>EDSS subscores over time</h2>{_edss_table(visits)}</section>
<section><h2>Explanations</h2>{figures}</section>
{f'<section><h2>Notes</h2><ul>{notes}</ul></section>' if notes else ''}
</main></body></html>
"""
