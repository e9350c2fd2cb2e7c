"""Side-by-side comparison of cross-validation runs in the layout of the paper's Table 7, with intervals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from msmonai.errors import UserError
from msmonai.evaluation.cv_dir import METRICS_FILE, OOF_PREDICTIONS_FILE, CvResult, read_cv_dir
from msmonai.evaluation.figures import draw_metric_bars, draw_roc_curves, new_figure, save_png
from msmonai.evaluation.predictions import LABEL, PROBABILITY
from msmonai.fileio import atomic_path, write_text

# metrics.json key -> Table 7 column header, in Table 7's order.
TABLE7_COLUMNS = {"accuracy": "Accuracy", "precision": "Precision", "recall": "Recall", "f1": "F1-score", "fbeta": "Fb-score"}
# the threshold-free ranking metrics shown after Table 7's columns
RANKING_COLUMNS = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC"}
BASELINE_PREFIX = "baseline: "
BASELINES_FOLDER = "baselines"
COMPARISON_FILES = ("comparison.md", "comparison.csv", "comparison.png")


def _intervals(result: CvResult) -> dict:
    """The ``intervals`` of a run's metrics.json, checked to hold every Table 7 metric with a value."""
    intervals = result.metrics.get("intervals")
    source = result.path / METRICS_FILE
    if not isinstance(intervals, dict):
        raise UserError(f"{source}: no 'intervals' object (write metrics.json with summarize_predictions)")
    for key in TABLE7_COLUMNS:
        entry = intervals.get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("value"), (int, float)):
            raise UserError(f"{source}: intervals.{key} has no numeric 'value'")
    return intervals


def _labelled_scores(result: CvResult) -> tuple:
    """``(labels [N], probabilities [N])`` of a run's out-of-fold predictions; every row must have a label."""
    labels = result.predictions[LABEL]
    if labels.isna().any():
        row = int(labels.isna().to_numpy().argmax()) + 1
        raise UserError(f"{result.path / OOF_PREDICTIONS_FILE}: row {row}: label is empty; out-of-fold predictions need labels")
    return labels.to_numpy(int), result.predictions[PROBABILITY].to_numpy(float)


def comparison_table(results: Sequence[CvResult], names: Sequence[str]) -> pd.DataFrame:
    """One row per run: ``Architecture``, each Table 7 column with ``<col>_low`` / ``<col>_high``, ``n``, ``n_patients``."""
    rows = []
    for name, result in zip(names, results):
        row, intervals = {"Architecture": name}, _intervals(result)
        for key, column in {**TABLE7_COLUMNS, **RANKING_COLUMNS}.items():
            entry = intervals.get(key) or {}
            row.update({column: entry.get("value"), f"{column}_low": entry.get("low"), f"{column}_high": entry.get("high")})
        row.update({"n": result.metrics.get("n"), "n_patients": result.metrics.get("n_patients")})
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(value, low, high) -> str:
    """``0.714 (0.500–0.857)``, or the value alone when the interval is unknown."""
    if value is None or pd.isna(value):
        return "undefined"
    if pd.isna(low) or pd.isna(high):
        return f"{value:.3f} (no interval)"
    return f"{value:.3f} ({low:.3f}–{high:.3f})"


def comparison_markdown(table: pd.DataFrame, beta: float, interval: dict) -> str:
    """Table 7 as Markdown, each value followed by its interval, and a note on how the numbers were obtained."""
    columns = [*TABLE7_COLUMNS.values(), *RANKING_COLUMNS.values()]
    header = ["Architecture", *columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for _, row in table.iterrows():
        cells = [_cell(row[c], row[f"{c}_low"], row[f"{c}_high"]) for c in columns]
        lines.append("| " + " | ".join([str(row["Architecture"]).replace("|", "\\|"), *cells]) + " |")
    sizes = "; ".join(f"{row['Architecture']}: {row['n']} observations of {row['n_patients']} patients" for _, row in table.iterrows())
    lines += [
        "",
        f"Pooled out-of-fold metrics; in brackets the {100 * interval['confidence']:g} % interval "
        f"({interval.get('method', 'bootstrap')}, {interval.get('n_boot', '?')} replicates). "
        f"Fb-score is Fβ with β = {beta:g}. {sizes}.",
    ]
    verdicts = baseline_verdicts(table)
    if verdicts:
        lines += ["", *verdicts]
    return "\n".join(lines) + "\n"


def baseline_verdicts(table: pd.DataFrame) -> list[str]:
    """One plain sentence per model row: whether its ROC AUC beats every baseline row's, and its interval's lower end."""
    is_baseline = table["Architecture"].astype(str).str.startswith(BASELINE_PREFIX)
    baselines, models = table[is_baseline], table[~is_baseline]
    if baselines.empty:
        return []
    best = baselines.loc[baselines["ROC AUC"].astype(float).idxmax()]
    lines = []
    for _, row in models.iterrows():
        auc, low = float(row["ROC AUC"]), row["ROC AUC_low"]
        beats = auc > float(best["ROC AUC"])
        verdict = "beats every baseline" if beats else "does NOT beat the best baseline"
        chance = ("its interval lies above chance (0.5)" if low is not None and not pd.isna(low) and float(low) > 0.5
                  else "its interval includes chance (0.5)")
        lines.append(f"- {row['Architecture']}: ROC AUC {auc:.3f} {verdict} (best: {best['Architecture']}, "
                     f"{float(best['ROC AUC']):.3f}); {chance}.")
    return lines


def with_baselines(run_dirs: Sequence[str | os.PathLike]) -> list[Path]:
    """``run_dirs`` followed by the baseline runs of the first of them that has any (``DIR/baselines/*``)."""
    dirs = [Path(d) for d in run_dirs]
    for d in dirs:
        folder = d / BASELINES_FOLDER
        if folder.is_dir():
            return dirs + sorted(p for p in folder.iterdir() if (p / METRICS_FILE).is_file())
    return dirs


def compare_runs(run_dirs: Sequence[str | os.PathLike], out_dir: str | os.PathLike, names: Sequence[str] | None = None) -> pd.DataFrame:
    """Read cv directories and write ``comparison.md``, ``comparison.csv`` and ``comparison.png`` to ``out_dir``.

    The baselines that ``msmonai cv`` computed for the first run that has them join the table as rows named
    ``baseline: ...``, and the Markdown ends with whether each model beats them.

    Args:
        run_dirs: output directories of ``msmonai cv``.
        out_dir: where the comparison files go.
        names: display name per run (baselines keep theirs); default the model name of each ``run.json``.

    Returns:
        The table written to ``comparison.csv``.
    """
    if not run_dirs:
        raise UserError("compare: no cv directories given")
    if names and len(names) != len(run_dirs):
        raise UserError(f"compare: {len(names)} names for {len(run_dirs)} directories")
    results = [read_cv_dir(path) for path in with_baselines(run_dirs)]
    names = list(names or [r.name for r in results[: len(run_dirs)]]) + [r.name for r in results[len(run_dirs):]]
    if len(set(names)) != len(names):
        raise UserError(f"compare: run names must differ, got {', '.join(names)}; give distinct names")
    settings = {(result.metrics.get("beta"), result.metrics.get("interval", {}).get("confidence")) for result in results}
    if len(settings) != 1 or None in next(iter(settings)):
        raise UserError(f"compare: the runs' metrics.json lack or disagree on (beta, interval confidence): {sorted(map(str, settings))}")
    ((beta, _confidence),) = settings
    table = comparison_table(results, names)
    out_dir = Path(out_dir)
    write_text(out_dir / "comparison.md", comparison_markdown(table, beta, results[0].metrics["interval"]))
    with atomic_path(out_dir / "comparison.csv") as tmp:
        table.to_csv(tmp, index=False)
    # one legend under both panels: the bars and the curves of a run share its colour, and the curves' labels
    # carry each run's AUC; inside either panel it covered bars, curves or an axis label
    fig = new_figure(11, 6)
    bars_ax, roc_ax = fig.subplots(1, 2, width_ratios=[3, 2])
    draw_metric_bars(bars_ax, {name: _intervals(result) for name, result in zip(names, results)}, TABLE7_COLUMNS,
                     legend=False)
    bars_ax.set_title("Pooled out-of-fold metrics")
    draw_roc_curves(roc_ax, {name: _labelled_scores(result) for name, result in zip(names, results)}, legend=False)
    roc_ax.set_title("ROC (out-of-fold)")
    roc_ax.set_box_aspect(1)
    fig.legend(*roc_ax.get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
    save_png(fig, out_dir / "comparison.png")
    return table
