"""The bench's working folder: demo cohorts with their datalists, bundle workflows run in-process, and a log that
takes the workflows' own output so that the terminal shows only the bench's progress and table."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
from pathlib import Path
from typing import Iterator, Sequence, TextIO

from msmonai.errors import UserError

REPO = Path(__file__).resolve().parents[1]
BUNDLES = {
    "PretrainedResNet2D": REPO / "bundles" / "ms_activity_pretrained_resnet2d",
    "ResNet3D": REPO / "bundles" / "ms_activity_resnet3d",
    "ResNeXt3D": REPO / "bundles" / "ms_activity_resnext3d",
}


@dataclasses.dataclass(frozen=True)
class Cohort:
    """A synthetic cohort written by ``msmonai demo-data`` (``root/dicom``, ``root/clinical.csv``) and its datalist."""

    root: Path

    @property
    def dicom(self) -> Path:
        return self.root / "dicom"

    @property
    def clinical(self) -> Path:
        return self.root / "clinical.csv"

    @property
    def datalist(self) -> Path:
        return self.root / "datalist.json"

    @property
    def secret(self) -> Path:
        return self.root / "site_secret.key"


def demo_cohort(work: Path, patients: int, manifest: bool = True, lesion_strength: float = 1.0) -> Cohort:
    """The ``patients``-patient demo cohort under ``work`` (seed 0), written by the public commands unless present.

    With ``manifest``, also ``msmonai manifest`` into 5 patient-grouped folds with fold 4 as the test set, as ``make demo``.
    ``lesion_strength``: ``msmonai demo-data --lesion-strength`` (1: the realistic default).
    """
    from msmonai.cli import main as msmonai_cli

    suffix = "" if lesion_strength == 1.0 else f"_strength_{lesion_strength:g}"
    cohort = Cohort(work / f"cohort_{patients}{suffix}")
    if not cohort.clinical.is_file():  # demo-data writes clinical.csv after every DICOM file
        if msmonai_cli(["demo-data", "--out", str(cohort.root), "--patients", str(patients),
                        "--lesion-strength", str(lesion_strength)]):
            raise UserError(f"{cohort.root}: msmonai demo-data failed")
    if manifest and not cohort.datalist.is_file():
        if msmonai_cli(["manifest", "--dicom", str(cohort.dicom), "--clinical", str(cohort.clinical), "--out",
                        str(cohort.datalist), "--folds", "5", "--test-fold", "4", "--secret-file", str(cohort.secret),
                        "--quiet"]):
            raise UserError(f"{cohort.root}: msmonai manifest failed")
    return cohort


def bundle_workflow(architecture: str, configs: Sequence[str] = ("train.json",), **overrides):
    """The bundle of ``architecture`` as an initialised MONAI ``ConfigWorkflow`` (what ``monai.bundle run`` builds).

    ``configs`` are file names under the bundle's ``configs/``, later ones overriding earlier ones; ``overrides``
    are config ids (``"train#trainer#epoch_length"``) to values, which may be Python objects (a prebuilt
    ``VisitVolumes``).
    """
    from monai.bundle import ConfigWorkflow

    bundle = BUNDLES[architecture]
    workflow = ConfigWorkflow(
        config_file=[str(bundle / "configs" / name) for name in configs],
        meta_file=str(bundle / "configs" / "metadata.json"),
        logging_file=False,
        workflow_type=None,
        bundle_root=str(bundle),
        **overrides,
    )
    workflow.initialize()
    return workflow


@contextlib.contextmanager
def output_to_log(log_file: Path) -> Iterator[TextIO]:
    """Send file descriptors 1 and 2 (this process and its children) to ``log_file``; yield a stream to the terminal."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    with open(log_file, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            terminal.close()
