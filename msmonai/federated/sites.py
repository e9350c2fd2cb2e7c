"""Rehearsal data for a federation: one datalist split by patient into per-site datalists."""

from __future__ import annotations

import os
from pathlib import Path

from msmonai.constants import DEFAULT_FOLDS
from msmonai.data.datalist import TRAINING, load_datalist, write_datalist
from msmonai.data.folds import assign_folds
from msmonai.errors import UserError


def split_sites(datalist: str | os.PathLike, n_sites: int, out_dir: str | os.PathLike, n_folds: int = DEFAULT_FOLDS,
                seed: int = 0) -> list[Path]:
    """Write ``out_dir/site-1.json`` ... ``site-N.json`` from the ``training`` list of ``datalist``.

    Patients go to sites as to folds (grouped by patient, stratified by label: every patient's observations at one
    site); within each site the folds are drawn again, so that each site has its own ``n_folds`` folds and a
    validation fold 0. Image paths become absolute (the site datalists live elsewhere). The ``testing`` list, if any,
    is not given to any site. Returns the paths written.
    """
    if n_sites < 2:
        raise UserError(f"a federation needs at least 2 sites, got {n_sites}")
    items = load_datalist(datalist, TRAINING)
    if any("label" not in item for item in items):
        raise UserError(f"{datalist}: every training observation needs a label to be split into sites")
    patients = [item["patient"] for item in items]
    site_of = assign_folds(patients, [item["label"] for item in items], n_sites, seed)
    paths = []
    for site in range(n_sites):
        members = [item for item, s in zip(items, site_of) if s == site]
        folds = _site_folds(members, n_folds, seed, site)
        path = Path(out_dir) / f"site-{site + 1}.json"
        write_datalist(path, {TRAINING: [dict(item, fold=int(f)) for item, f in zip(members, folds)]})
        paths.append(path)
    return paths


def _site_folds(members: list[dict], n_folds: int, seed: int, site: int):
    try:
        return assign_folds([m["patient"] for m in members], [m["label"] for m in members], n_folds, seed)
    except UserError as err:
        raise UserError(f"site-{site + 1} ({len({m['patient'] for m in members})} patients): {err}; "
                        "use fewer sites or fewer folds") from err
