"""Write each study's preprocessed T1 volume as NIfTI, several studies at a time, and the ``index.csv`` that lists
the written volumes.

File names and the index hold only the pseudonymous patient key, the study date and UIDs of the series:
no PatientID, name, birth date, accession number or institution.

This module imports nothing heavy: the workers' imports happen in the process they fork from (:class:`StudyExporter`).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from msmonai.errors import UserError, root_cause
from msmonai.fileio import write_text
from msmonai.io.model import Study

INDEX_NAME = "index.csv"
INDEX_COLUMNS = ("patient_key", "study_date", "series_uid", "file", "original_slices")


@dataclass(frozen=True)
class ExportJob:
    """One study to preprocess: its T1 files, the NIfTI file to write and the index row that describes it."""

    files: tuple[str, ...]
    target: Path
    row: dict


def plan_exports(studies: Sequence[tuple[Study, str]], out_dir: str | os.PathLike) -> list[ExportJob]:
    """One job per ``(study with a chosen T1 series, patient key)``, named ``<patient_key>_<YYYYMMDD>.nii.gz``.

    Names are fixed before anything runs, in the order given, so that they do not depend on which studies fail
    or finish first; a second study of the same patient and day gets ``_2``, and so on.
    """
    jobs: list[ExportJob] = []
    taken: set[str] = set()
    for study, patient_key in studies:
        date = study.study_date.strftime("%Y%m%d") if study.study_date else "nodate"
        stem, number = f"{patient_key}_{date}", 1
        name = f"{stem}.nii.gz"
        while name in taken:
            number += 1
            name = f"{stem}_{number}.nii.gz"
        taken.add(name)
        row = {
            "patient_key": patient_key,
            "study_date": study.study_date.isoformat() if study.study_date else "",
            "series_uid": study.t1.series_uid,
            "file": name,
            "original_slices": study.t1.n_slices,
        }
        jobs.append(ExportJob(tuple(str(f) for f in study.t1.files), Path(out_dir) / name, row))
    return jobs


class StudyExporter:
    """Worker processes that preprocess studies and write their NIfTI files, ``workers`` studies at a time.

    The imports of the transform (torch and MONAI, seconds) happen once, as the exporter is made: the modules
    ``preload`` names are imported by the process the workers will fork from (multiprocessing's forkserver), while
    the caller goes on (e.g. scans the archive). The workers fork from it at the first :meth:`run`, each builds the
    transform once (``transform_factory()``) and runs one intra-op thread, so N workers use N cores. Where there is no
    forkserver, each worker is a new interpreter that imports everything itself. Use as a context manager.
    """

    def __init__(self, transform_factory: Callable[[], Callable[[dict], dict]], workers: int = 1,
                 preload: Sequence[str] = ()) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        if "forkserver" in multiprocessing.get_all_start_methods():
            from multiprocessing import forkserver

            self._context = multiprocessing.get_context("forkserver")
            self._context.set_forkserver_preload(list(preload))
            forkserver.ensure_running()  # starts the server, which imports ``preload`` now
        else:
            self._context = multiprocessing.get_context("spawn")
        self._factory, self._workers = transform_factory, workers
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "StudyExporter":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def run(self, jobs: Sequence[ExportJob]) -> Iterator[tuple[ExportJob, UserError | None]]:
        """Preprocess and write each job; yields ``(job, None)`` or ``(job, error)`` in the order of ``jobs``.

        Errors the user can fix (unreadable or corrupt series) are yielded, any other exception is raised.
        """
        if not jobs:
            return
        if self._pool is None:
            self._pool = ProcessPoolExecutor(min(self._workers, len(jobs)), mp_context=self._context,
                                             initializer=_start_worker, initargs=(self._factory,))
        yield from zip(jobs, self._pool.map(_export_in_worker, jobs))


def _export(job: ExportJob, transform: Callable[[dict], dict]) -> UserError | None:
    """Preprocess ``job.files`` with ``transform`` (``{"image": files} -> {"image": MetaTensor [1, D, H, W]}``) and
    write ``job.target``; the fixable error, if any."""
    try:
        image = transform({"image": list(job.files)})["image"]
    except Exception as err:  # MONAI wraps errors of a transform; only the user-fixable ones are reported
        cause = root_cause(err)
        if isinstance(cause, UserError):
            return cause
        raise
    from msmonai.io.nifti import write_nifti  # imported by the process the worker forked from, as a rule

    write_nifti(image, image.affine, job.target)
    return None


_worker_transform: Callable[[dict], dict] | None = None


def _start_worker(transform_factory: Callable[[], Callable[[dict], dict]]) -> None:
    """Initializer of a worker process: the transform built once, one intra-op thread."""
    global _worker_transform
    _worker_transform = transform_factory()
    import torch  # imported by the transform already

    torch.set_num_threads(1)


def _export_in_worker(job: ExportJob) -> UserError | None:
    return _export(job, _worker_transform)


def write_index(rows: list[dict], out_dir: str | os.PathLike) -> Path:
    """Atomically write ``out_dir/index.csv`` with one row per written volume."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INDEX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return write_text(Path(out_dir) / INDEX_NAME, buffer.getvalue())
