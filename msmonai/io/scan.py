"""Scan a DICOM archive: headers only -> patients / studies / series, the chosen T1, and every problem.

Grouping is by PatientID -> StudyInstanceUID -> SeriesInstanceUID from the headers (never folder names), so a
series split across folders is merged. Memory holds one small header record per file, never pixel data.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import math
import os
import sys
import warnings
from collections import Counter, defaultdict
from concurrent.futures import Executor
from pathlib import Path
from typing import Iterator

from tqdm import tqdm

from msmonai.io.classify import classify_weighting, has_contrast
from msmonai.io.geometry import StackError, orientation_name, stack_order
from msmonai.io.headers import SliceHeader, UnusableFile, read_header
from msmonai.io.model import Problem, ScanResult, Series, Study
from msmonai.io.selection import T1Rule, choose_t1
from msmonai.io.walk import list_files, relative_name


CHUNK_FILES = 64  # files per unit of work shared with helper processes (about 0.1 s of header reading)


def scan_dicom(
    root: str | os.PathLike, progress: bool = False, t1_rule: T1Rule | None = None, helpers: Executor | None = None
) -> ScanResult:
    """Find every usable MR series under ``root`` and choose one T1 series per study.

    Args:
        root: folder to scan recursively (or a single file).
        progress: show a tqdm progress bar when stderr is a terminal.
        t1_rule: sort key ranking a study's T1 series, the largest is chosen
            (default :func:`msmonai.io.selection.default_t1_rule`).
        helpers: processes that read headers too. This process reads chunks of files from the end of the list
            while the helpers take them from the front as soon as they are free, so a helper that is still busy
            (e.g. importing) never delays the scan. None: this process reads every header.

    Returns:
        Studies sorted by patient, date and UID, and one problem per unusable file (plus one per study
        without a T1 series), sorted by path. Every file under ``root`` is either in a series or a problem.
    """
    root = Path(root)
    files, problems = list_files(root)
    headers = []
    chunks = [files[start:start + CHUNK_FILES] for start in range(0, len(files), CHUNK_FILES)]
    show = progress and sys.stderr.isatty()
    with tqdm(total=len(files), desc="scanning", unit="file", leave=False, disable=not show) as bar:
        for chunk, outcomes in zip(chunks, _read_shared(chunks, helpers, bar)):
            for path, outcome in zip(chunk, outcomes):
                if isinstance(outcome, SliceHeader):
                    headers.append(outcome)
                else:
                    problems.append(Problem(relative_name(path, root), outcome))
    return group_headers(headers, problems, root, t1_rule)


def group_headers(headers: list[SliceHeader], problems: list[Problem], root: Path,
                  t1_rule: T1Rule | None = None) -> ScanResult:
    """Slice headers (read from files under ``root``, or from an archive's metadata with the paths their files will
    have there) -> studies of valid series with their chosen T1; ``problems`` gains one line per unusable slice and
    per study without a T1 series."""
    studies = _group_studies(_drop_duplicates(headers, problems, root), problems, root)
    for study in studies:
        if choose_t1(study, t1_rule) is None:
            folders = [relative_name(f.parent, root.absolute()) for s in study.series for f in s.files]
            folder = os.path.commonpath(folders)
            problems.append(Problem(folder, f"study {study.study_uid}: no T1 series (found {series_found(study)})"))
    return ScanResult(studies=studies, problems=sorted(problems, key=lambda p: p.path))


def problem_summary(problems: list[Problem]) -> list[str]:
    """One line per distinct reason of ``problems``, with how many files or studies it concerns."""
    return [f"{count} x {reason}" if count > 1 else reason
            for reason, count in Counter(problem.reason for problem in problems).items()]


def series_found(study: Study) -> str:
    """The study's series as one phrase: ``T2 'T2 TSE AX', localizer 'Localizer'``."""
    return ", ".join(f"{s.weighting} {s.description!r}" for s in study.series)


def read_headers(paths: list[Path]) -> list[SliceHeader | str]:
    """The header of each file, or the reason it cannot be used (pydicom's own warnings silenced)."""
    outcomes: list[SliceHeader | str] = []
    with _pydicom_quiet():
        for path in paths:
            try:
                outcomes.append(read_header(path))
            except UnusableFile as err:
                outcomes.append(str(err))
    return outcomes


def _read_shared(chunks: list[list[Path]], helpers: Executor | None, bar: tqdm) -> list[list[SliceHeader | str]]:
    """:func:`read_headers` of every chunk, in order: helpers take chunks from the front, this process from the back
    (a chunk whose future can still be cancelled has not been started by a helper)."""
    futures = [helpers.submit(read_headers, chunk) for chunk in chunks] if helpers is not None else [None] * len(chunks)
    results: list[list[SliceHeader | str]] = [[] for _ in chunks]
    for index in reversed(range(len(chunks))):
        future = futures[index]
        if future is None or future.cancel():
            results[index] = read_headers(chunks[index])
            bar.update(len(chunks[index]))
    for index, future in enumerate(futures):
        if future is not None and not future.cancelled():
            results[index] = future.result()
            bar.update(len(chunks[index]))
    return results


@contextlib.contextmanager
def _pydicom_quiet() -> Iterator[None]:
    """Silence pydicom's warnings and log lines about odd files: each unusable file gets a problem line instead."""
    logger = logging.getLogger("pydicom")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _drop_duplicates(headers: list[SliceHeader], problems: list[Problem], root: Path) -> list[SliceHeader]:
    """Keep the first file of each SOPInstanceUID; the copies become problems."""
    kept: dict[str, SliceHeader] = {}
    for header in headers:
        first = kept.setdefault(header.sop_uid, header)
        if first is not header:
            reason = f"duplicate of {relative_name(first.path, root)} (same SOPInstanceUID)"
            problems.append(Problem(relative_name(header.path, root), reason))
    return list(kept.values())


def _group_studies(headers: list[SliceHeader], problems: list[Problem], root: Path) -> list[Study]:
    """Group slices into studies of valid series, in SeriesNumber order; slices of invalid series become problems."""
    by_series: dict[tuple[str, str, str], list[SliceHeader]] = defaultdict(list)
    for header in headers:
        by_series[(header.patient_id, header.study_uid, header.series_uid)].append(header)
    series_of_study: dict[tuple[str, str], list[tuple[float, str, Series]]] = defaultdict(list)
    dates: dict[tuple[str, str], datetime.date | None] = {}
    for (patient_id, study_uid, series_uid), slices in by_series.items():
        series = _build_series(slices, problems, root)
        if series is not None:
            number = math.inf if slices[0].series_number is None else slices[0].series_number
            series_of_study[(patient_id, study_uid)].append((number, series_uid, series))
            dates.setdefault((patient_id, study_uid), slices[0].study_date)
    studies = [
        Study(*key, dates[key], [series for *_, series in sorted(entries, key=lambda entry: entry[:2])])
        for key, entries in series_of_study.items()
    ]
    return sorted(studies, key=lambda s: (s.patient_id, s.study_date or datetime.date.min, s.study_uid))


def _build_series(slices: list[SliceHeader], problems: list[Problem], root: Path) -> Series | None:
    """The slices of one SeriesInstanceUID as a sorted, classified :class:`Series`, or None (problems added)."""
    first = slices[0]
    try:
        order = stack_order(slices)
    except StackError as err:
        label = f"series {first.series_uid} ({first.acquisition.description!r})"
        problems.extend(Problem(relative_name(s.path, root), f"{label}: {err}") for s in slices)
        return None
    return Series(
        series_uid=first.series_uid,
        description=first.acquisition.description or first.acquisition.protocol,
        weighting=classify_weighting(first.acquisition, len(slices)),
        orientation=orientation_name(first.iop),
        files=[slices[i].path.absolute() for i in order],
        n_slices=len(slices),
        contrast=has_contrast(first.acquisition),
    )
