"""scan_dicom: grouping from headers, weighting, T1 choice, and one problem line per unusable file."""

from __future__ import annotations

import fcntl
import multiprocessing
import os
import pty
import select
import shutil
import struct
import sys
import tempfile
import termios
import tracemalloc
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.io.dicom_trees import BAD_INPUTS, IDENTITY, scan_unprivileged, write
from msmonai.io import scan_dicom


def _series_by_description(result):
    return {s.description: s for study in result.studies for s in study.series}


def test_t1_t2_localizer_in_one_folder_t1_is_chosen(tmp_path):
    t1 = write(tmp_path, "exam", 30, series_description="t1_se_tra", series_number=3, shuffle_seed=1,
               file_names="numbered")
    write(tmp_path, "exam", 30, series_description="t2_tse_tra", weighting="T2", series_number=4,
          file_names="no_suffix")
    write(tmp_path, "exam", 3, series_description="AAHScout", weighting="localizer", series_number=1,
          orientation="sagittal")
    result = scan_dicom(tmp_path)
    assert result.problems == []
    (study,) = result.studies
    assert (study.patient_id, study.study_uid) == ("PAT-0001", IDENTITY["study_uid"])
    assert study.study_date.isoformat() == "2021-03-15"
    assert [(s.description, s.weighting, s.orientation, s.n_slices) for s in study.series] == [
        ("AAHScout", "localizer", "sagittal", 3),
        ("t1_se_tra", "T1", "axial", 30),
        ("t2_tse_tra", "T2", "axial", 30),
    ]
    assert study.t1.description == "t1_se_tra" and [s.selected for s in study.series] == [False, True, False]
    assert study.t1.files == [p.absolute() for p in t1]  # write order = position order, whatever the file names


def test_weighting_from_timing_when_descriptions_say_nothing(tmp_path):
    for number, weighting in enumerate(("T1", "T2", "FLAIR", "PD"), start=1):
        write(tmp_path, "exam", 3, series_description=f"series {number}", weighting=weighting, series_number=number)
    write(tmp_path, "exam", 3, series_description="", weighting="localizer", series_number=9)
    found = {s.description: s.weighting for s in scan_dicom(tmp_path).studies[0].series}
    assert found == {"series 1": "T1", "series 2": "T2", "series 3": "FLAIR", "series 4": "PD", "": "localizer"}


def test_t1_choice_prefers_pre_contrast_then_axial_then_more_slices(tmp_path):
    write(tmp_path, "a", 40, series_description="T1 +C", series_number=1)
    write(tmp_path, "b", 35, series_description="T1 sag", series_number=2, orientation="sagittal")
    write(tmp_path, "c", 20, series_description="T1 ax thin", series_number=3)
    write(tmp_path, "d", 25, series_description="T1 ax", series_number=4)
    write(tmp_path, "e", 30, series_description="T1 ax", series_number=5, extra={"ContrastBolusAgent": "Gadobutrol"})
    study = scan_dicom(tmp_path).studies[0]
    assert {s.description: s.contrast for s in study.series}["T1 +C"] is True
    assert (study.t1.description, study.t1.n_slices) == ("T1 ax", 25)
    override = scan_dicom(tmp_path, t1_rule=lambda s: (s.orientation == "sagittal", s.n_slices)).studies[0]
    assert override.t1.description == "T1 sag" and sum(s.selected for s in override.series) == 1


def test_studies_grouped_by_patient_and_study_uid_not_by_folder(tmp_path):
    write(tmp_path, "same folder", 3, study_uid="1.2.3.7", study_date="20200101")
    write(tmp_path, "same folder", 3, study_uid="1.2.3.8", study_date="20190101", series_description="T1 SE old")
    write(tmp_path, "same folder", 3, patient_id="PAT-0002", study_uid="1.2.3.9", study_date="20180101")
    result = scan_dicom(tmp_path)
    assert [(s.patient_id, s.study_uid) for s in result.studies] == [
        ("PAT-0001", "1.2.3.8"), ("PAT-0001", "1.2.3.7"), ("PAT-0002", "1.2.3.9"),
    ]


def test_series_split_across_folders_is_merged_and_sorted(tmp_path):
    paths = write(tmp_path, "part1", 10, shuffle_seed=4)
    for path in paths[::2]:
        (tmp_path / "elsewhere" / "part2").mkdir(parents=True, exist_ok=True)
        shutil.move(path, tmp_path / "elsewhere" / "part2" / path.name)
    (series,) = scan_dicom(tmp_path).studies[0].series
    assert series.n_slices == 10
    assert [p.name for p in series.files] == [p.name for p in paths]


def test_non_ascii_and_spaces_in_paths(tmp_path):
    paths = write(tmp_path, "Ärztin Müller/Untersuchung 1 (kopf)/séries ü", 3, file_names="numbered")
    result = scan_dicom(tmp_path)
    assert result.problems == [] and result.studies[0].t1.files == [p.absolute() for p in paths]


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_listed_and_the_good_series_still_used(tmp_path, case):
    good = write(tmp_path, "good", 4)
    expected = BAD_INPUTS[case](tmp_path)
    result = scan_dicom(tmp_path)
    reasons = {p.path: p.reason for p in result.problems}
    assert len(reasons) == len(result.problems) == len(expected), result.problems
    for path, fragment in expected:
        assert fragment in reasons[path], (path, reasons.get(path))
        assert "\n" not in reasons[path]
    t1 = next(s.t1 for s in result.studies if s.study_uid == IDENTITY["study_uid"])
    assert t1.files == [p.absolute() for p in good]


def test_messy_archive_every_file_used_or_listed_exactly_once(tmp_path):
    good = write(tmp_path, "good", 4)
    other_patient = write(tmp_path, "deep/er/still", 5, patient_id="PAT-0002", study_uid="1.2.3.50",
                          file_names="no_suffix")
    expected = [item for build in BAD_INPUTS.values() for item in build(tmp_path)]
    result = scan_dicom(tmp_path)
    listed = [p.path for p in result.problems]
    assert sorted(listed) == sorted(path for path, _ in expected)  # each bad item exactly once
    used = [f for study in result.studies for s in study.series for f in s.files]
    assert len(used) == len(set(used)) and not set(used) & {tmp_path / path for path in listed}
    regular = {Path(d) / f for d, _, files in os.walk(tmp_path) for f in files if (Path(d) / f).is_file()}
    assert regular <= set(used) | {tmp_path / path for path in listed}  # nothing dropped silently
    chosen = {s.study_uid: s.t1 for s in result.studies}
    assert chosen[IDENTITY["study_uid"]].files == [p.absolute() for p in good]
    assert chosen["1.2.3.50"].files == [p.absolute() for p in other_patient]


def test_helper_processes_give_the_same_scan(tmp_path, monkeypatch):
    """Headers read partly by helper processes, in chunks, give exactly the scan of one process."""
    write(tmp_path, "good", 4)
    write(tmp_path, "deep/er/still", 5, patient_id="PAT-0002", study_uid="1.2.3.50", file_names="no_suffix")
    for build in BAD_INPUTS.values():
        build(tmp_path)
    monkeypatch.setattr("msmonai.io.scan.CHUNK_FILES", 3)  # many chunks for a small tree
    alone = scan_dicom(tmp_path)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as helpers:
        shared = scan_dicom(tmp_path, helpers=helpers)
    assert shared == alone and len(alone.problems) > 5


def test_unreadable_file_and_folder_are_listed(tmp_path):
    with tempfile.TemporaryDirectory() as shared:  # readable by the unprivileged user the scan may switch to
        root = Path(shared)
        os.chmod(root, 0o755)
        good = write(root, "good", 3)
        locked = write(root, "locked", 3, series_description="T1 locked", series_number=2)
        write(root, "closed", 3, series_description="T1 closed", series_number=3)
        for folder, _, files in os.walk(root):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(Path(folder) / name, 0o644)
        os.chmod(locked[0], 0)
        os.chmod(root / "closed", 0)
        result = scan_unprivileged(root)
        os.chmod(root / "closed", 0o755)
    reasons = {p.path: p.reason for p in result.problems}
    assert reasons[locked[0].relative_to(root).as_posix()] == "permission denied"
    assert reasons["closed"].startswith("folder not scanned: Permission denied")
    assert all(p.path.startswith(("locked/", "closed")) for p in result.problems)
    assert [s.n_slices for s in result.studies[0].series] == [3, 2]  # "locked" kept its 2 readable slices
    assert result.studies[0].t1.files == [p.absolute() for p in good]


def test_scan_memory_stays_below_one_series_of_pixels(tmp_path):
    n_series, n_slices, size = 3, 20, 128
    for number in range(n_series):
        write(tmp_path, f"s{number}", n_slices, size=size, series_number=number + 1, series_description=f"T1 {number}")
    scan_dicom(tmp_path)  # first call imports pydicom's dictionaries and plugins
    tracemalloc.start()
    result = scan_dicom(tmp_path)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sum(s.n_slices for s in result.studies[0].series) == n_series * n_slices
    assert peak < n_slices * size * size * 2  # less than the pixel data of ONE series of the archive


def _terminal_output(master: int, quiet_seconds: float = 0.3) -> bytes:
    """Everything the pseudo-terminal received, read until it stays quiet for ``quiet_seconds``."""
    chunks = []
    while select.select([master], [], [], quiet_seconds)[0]:
        chunks.append(os.read(master, 1 << 16))
    return b"".join(chunks)


def test_progress_bar_on_a_terminal_only(tmp_path, monkeypatch, capsys):
    write(tmp_path, "s", 3)
    scan_dicom(tmp_path, progress=True)
    assert capsys.readouterr().err == ""  # stderr captured by pytest: not a terminal
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a pseudo-terminal, 100 columns
    with open(slave, "w") as terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
        scan_dicom(tmp_path, progress=True)
        terminal.flush()
        shown = _terminal_output(master)
        scan_dicom(tmp_path, progress=False)
        terminal.flush()
        assert _terminal_output(master) == b""
    os.close(master)
    assert b"scanning:" in shown and b"/3 [" in shown


def test_header_metadata_without_pixels_groups_and_chooses_as_the_files_do(tmp_path):
    """The DICOMweb path: headers as DICOM JSON (pixels left in the archive) give the same studies and T1 choice as
    the files, at the paths the caller assigns."""
    import pydicom

    from msmonai.io.headers import UnusableFile, header_from_dataset
    from msmonai.io.scan import group_headers

    write(tmp_path, "exam", 8, series_description="t1_se_tra", series_number=3)
    write(tmp_path, "exam", 8, series_description="t2_tse_tra", weighting="T2", series_number=4)
    from_files = scan_dicom(tmp_path)
    headers = []
    for n, path in enumerate(sorted(p for p in tmp_path.rglob("*") if p.is_file())):
        metadata = pydicom.dcmread(path).to_json_dict()
        del metadata["7FE00010"]  # WADO-RS metadata gives the pixel data only as a BulkDataURI
        dataset = pydicom.Dataset.from_json(metadata)
        with pytest.raises(UnusableFile, match="no complete pixel data"):
            header_from_dataset(dataset, path)
        headers.append(header_from_dataset(dataset, tmp_path / "later" / f"{n:03d}.dcm", pixels_elsewhere=True))
    from_metadata = group_headers(headers, [], tmp_path / "later")
    assert from_metadata.problems == []
    (study,) = from_metadata.studies
    assert [(s.description, s.weighting, s.n_slices, s.selected) for s in study.series] == [
        (s.description, s.weighting, s.n_slices, s.selected) for s in from_files.studies[0].series]
    assert all(f.parent == tmp_path / "later" for f in study.t1.files)


def test_problem_summary_gives_each_reason_once_with_its_count():
    from msmonai.io.model import Problem
    from msmonai.io.scan import problem_summary

    truncated = "truncated file: pixel data needs 8 bytes, only 2 present"
    problems = [Problem("a/1", truncated), Problem("DICOMDIR", "DICOMDIR index"), Problem("a/2", truncated)]
    assert problem_summary(problems) == [f"2 x {truncated}", "DICOMDIR index"]
