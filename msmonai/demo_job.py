"""``make demo``: the main job on the embedded synthetic cohort.

demo cohort (DICOM + clinical CSV) -> manifest (5 patient-grouped folds) -> ``msmonai cv`` of the bundle: for each
fold, train on three of the others, select the epoch and threshold on the fourth, predict the held-out fold ->
the paper's Table 7 layout for the held-out fold 4 and for all five folds pooled, each figure with its
patient-level bootstrap interval, next to four baselines scored on the same held-out observations.
Then the product: the model to deploy trained with the cross-validation as its validated performance
(``demo/model``), evaluated on fold 4, exported and signed (``demo/model.zip``, ``demo/keys/``), verified, and a
report for one fold-4 patient made from the zip (``demo/report/report.html``). The demo's final model leaves fold 4
out so that a patient exists that neither it nor its selection saw; a hospital trains on every patient.
Every step is the public interface a hospital uses: ``msmonai demo-data``, ``manifest``, ``cv`` (the bundle's
``train`` and ``evaluate`` workflows through ``python -m monai.bundle run``), ``compare``, ``train``, ``evaluate``,
``keygen``, ``export-bundle``, ``verify-bundle`` and ``predict``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import time
from pathlib import Path

import pydicom

from msmonai.bundle_tools.cross_validation import cross_validate
from msmonai.cli import main as msmonai_cli
from msmonai.cli.flags import add_flag
from msmonai.constants import DEMO_PATIENTS
from msmonai.bundle_tools.runner import override_args
from msmonai.evaluation.compare import compare_runs, comparison_markdown, comparison_table, with_baselines
from msmonai.evaluation.cv_dir import CvResult, read_cv_dir
from msmonai.evaluation.predictions import FOLD
from msmonai.evaluation.summary import summarize_predictions

HELD_OUT_FOLD = 4


def held_out_fold(result: CvResult, fold: int) -> CvResult:
    """The rows of one fold of a cv run, with metrics and intervals of their own."""
    rows = result.predictions[result.predictions[FOLD] == fold].reset_index(drop=True)
    return CvResult(result.path, result.run, summarize_predictions(rows), rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo", help="working folder (default: demo)")
    parser.add_argument("--bundle", default="bundles/ms_activity_resnet3d")
    add_flag(parser, "--num-epochs", type=int, default=None, help="override the bundle's num_epochs")
    parser.add_argument("--patients", type=int, default=DEMO_PATIENTS)
    parser.add_argument("--set", dest="overrides", metavar="ID=VALUE", action="append", default=[],
                        help="further bundle overrides, as in `msmonai cv`")
    parser.add_argument("--overlay", dest="overlays", metavar="CONFIG", action="append", default=[],
                        help="bundle config read after train.json, as in `msmonai cv` (e.g. configs/cpu_small.json)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    out = Path(args.out).resolve()
    bundle = Path(args.bundle).resolve()
    started = time.time()

    def step(message: str) -> None:
        print(f"[demo {time.time() - started:6.1f} s] {message}", flush=True)

    if not (out / "cohort" / "clinical.csv").is_file():
        step(f"generating the synthetic cohort ({args.patients} patients) in {out / 'cohort'}")
        if msmonai_cli(["demo-data", "--out", str(out / "cohort"), "--patients", str(args.patients)]):
            return 1
    step("compiling the manifest (5 patient-grouped folds)")
    datalist = out / "datalist.json"
    if msmonai_cli(["manifest", "--dicom", str(out / "cohort" / "dicom"), "--clinical", str(out / "cohort" / "clinical.csv"),
                    "--out", str(datalist), "--folds", "5", "--secret-file", str(out / "site_secret.key")]):
        return 1
    overrides = override_args(args.overrides)
    if args.num_epochs is not None:
        overrides["num_epochs"] = args.num_epochs
    cv_dir = out / "cv" / bundle.name
    step(f"cross-validating {bundle.name} over the 5 folds (logs in {cv_dir}/fold_*/)")
    cross_validate(bundle, datalist, cv_dir, overrides=overrides, overlays=args.overlays)
    result = read_cv_dir(cv_dir)
    comparison = out / "comparison"
    compare_runs([cv_dir], comparison)
    step(f"done; outputs in {cv_dir} and {comparison}")

    fold_runs = [held_out_fold(read_cv_dir(d), HELD_OUT_FOLD) for d in with_baselines([cv_dir])]
    fold_table = comparison_table(fold_runs, [r.name for r in fold_runs])
    print(f"\nHeld-out fold {HELD_OUT_FOLD} (never seen in training or selection): synthetic data, CPU schedule.")
    print(comparison_markdown(fold_table, result.metrics["beta"], fold_runs[0].metrics["interval"]))
    print("All 5 folds pooled (`msmonai cv`):")
    print((comparison / "comparison.md").read_text(encoding="utf-8"))

    step("the product: the model to deploy (folds 0-3), evaluated on fold 4, exported, signed, verified, a report")
    recipe = [*(f for o in args.overlays for f in ("--overlay", o)), *(f for o in args.overrides for f in ("--set", o)),
              *(["--num-epochs", str(args.num_epochs)] if args.num_epochs is not None else [])]
    if not final_model(out, bundle, cv_dir, recipe):
        return 1
    step(f"done; the model in {out / 'model'}, shared as {out / 'model.zip'}, a report in {out / 'report'}")
    return 0


def final_model(out: Path, bundle: Path, cv_dir: Path, recipe: list[str]) -> bool:
    """Train, evaluate, export, sign and verify the model to deploy and report one held-out patient from the zip;
    False (the command has printed why) if a step failed."""
    from msmonai.data.datalist import load_datalist
    from msmonai.data.pseudonym import load_or_create_secret, pseudonym

    datalist = out / "datalist_final.json"
    model, shared, keys = out / "model", out / "model.zip", out / "keys"
    shutil.rmtree(model, ignore_errors=True)  # a new run each time, as the cross-validation is
    secret = out / "site_secret.key"
    cohort = ["--dicom", str(out / "cohort" / "dicom"), "--clinical", str(out / "cohort" / "clinical.csv")]
    steps = [["manifest", *cohort, "--out", str(datalist), "--folds", "5", "--test-fold", str(HELD_OUT_FOLD),
              "--secret-file", str(secret), "--quiet"],
             ["train", "--bundle", str(bundle), "--datalist", str(datalist), "--out", str(model), "--cv", str(cv_dir),
              *recipe],
             ["evaluate", str(model), "--datalist", str(datalist), "--out", str(out / "final_evaluation")]]
    if not (keys / "signing-key.pem").is_file():
        steps.append(["keygen", "--out", str(keys)])
    steps += [["export-bundle", str(model), "--out", str(shared), "--sign-key", str(keys / "signing-key.pem")],
              ["verify-bundle", str(shared), "--trusted-key", str(keys / "signing-key.pub.pem")]]
    if any(msmonai_cli(command) for command in steps):
        return False
    held_out = {it["patient"] for it in load_datalist(datalist, "testing")}
    key = load_or_create_secret(secret)
    patient_dir = next(folder for folder in sorted((out / "cohort" / "dicom").iterdir())
                       if pseudonym(_patient_id(folder), key) in held_out)
    return not msmonai_cli(["predict", "--bundle", str(shared), "--trusted-key", str(keys / "signing-key.pub.pem"),
                            "--dicom", str(patient_dir), "--clinical", str(out / "cohort" / "clinical.csv"),
                            "--out", str(out / "report"), "--secret-file", str(secret), "--quiet"])


def _patient_id(folder: Path) -> str:
    """The PatientID of the first DICOM file under a demo patient's folder."""
    first = next(path for path in sorted(folder.rglob("*")) if path.is_file())
    return str(pydicom.dcmread(first, stop_before_pixels=True, specific_tags=["PatientID"]).PatientID)


if __name__ == "__main__":
    sys.exit(main())
