"""Each round's validation metrics per site, from what the server received (NVFlare's ``round_metrics.jsonl``):
``rounds.csv`` and a plot."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from msmonai.errors import UserError
from msmonai.evaluation.figures import new_figure, save_png
from msmonai.fileio import atomic_path

COLUMNS = ["round", "site", "val_auc", "local_val_auc", "train_observations"]


def read_round_metrics(path: str | os.PathLike) -> pd.DataFrame:
    """One row per round and site: the validation ROC AUC of the global model the site received (``val_auc``), of
    its model after the round's local training (``local_val_auc``), and its weight (training observations)."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise UserError(f"{path}: the server wrote no round metrics ({err})") from err
    for line in filter(None, lines):
        record = json.loads(line)
        for site in record["sites"]:
            metrics = {m["name"]: m["value"] for m in site["metrics"]}
            rows.append({"round": record["round"], "site": site["name"], "val_auc": metrics.get("val_auc"),
                         "local_val_auc": metrics.get("local_val_auc"), "train_observations": int(site["weight"])})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["round", "site"], kind="stable").reset_index(drop=True)


def write_rounds(rounds: pd.DataFrame, csv_path: str | os.PathLike, png_path: str | os.PathLike) -> None:
    """``rounds.csv`` and a plot of each site's validation ROC AUC of the global model per round."""
    with atomic_path(csv_path) as tmp:
        rounds.to_csv(tmp, index=False)
    fig = new_figure(6, 4)
    ax = fig.add_subplot()
    for site, group in rounds.groupby("site"):
        ax.plot(group["round"], group["val_auc"], marker="o", label=site)
    ax.set(xlabel="round (global model received)", ylabel="validation ROC AUC", ylim=(0, 1.02),
           title="Global model on each site's validation fold")
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle="--")
    ax.legend()
    save_png(fig, png_path)
