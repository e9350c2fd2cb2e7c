"""The clinical visits CSV: parsing, schema validation row by row, and every bad-input case."""

import datetime

import pytest

from msmonai.data.clinical import EDSS_MAXIMA, load_clinical_visits
from msmonai.errors import UserError


def test_valid_rows_become_visits(csv_file, visit_row):
    path = csv_file(
        [
            visit_row("PAT-A", "2020-01-15", edss=(6, 5, 6, 5, 6, 6, 5, 12), total="9.5", status="1", study_uid="1.2.3"),
            visit_row("PAT-A", "2021-01-10", edss=(0, 0, 0, 0, 0, 0, 0, 0), total="", status=""),
        ]
    )
    visits, exclusions = load_clinical_visits(path)
    assert exclusions == []
    first, second = visits
    assert (first.row, first.patient_id, first.date) == (2, "PAT-A", datetime.date(2020, 1, 15))
    assert first.edss_raw == (6, 5, 6, 5, 6, 6, 5, 12)
    assert first.edss_normalised == (1.0,) * 8
    assert (first.edss_total, first.status, first.study_uid) == (9.5, 1, "1.2.3")
    assert (second.edss_total, second.status, second.study_uid) == (None, None, None)
    assert second.edss_normalised == (0.0,) * 8


def test_subscale_maxima_follow_the_issue():
    assert EDSS_MAXIMA == (6, 5, 6, 5, 6, 6, 5, 12)


@pytest.mark.parametrize(
    "column, value, expected",
    [
        ("edss_visual", "7", "edss_visual: 7 is out of range 0-6"),
        ("edss_ambulation", "-1", "edss_ambulation: -1 is out of range 0-12"),
        ("edss_brainstem", "abc", "edss_brainstem: 'abc' is not an integer"),
        ("edss_pyramidal", "2.5", "edss_pyramidal: 2.5 is not an integer"),
        ("edss_sensory", "nan", "edss_sensory: 'nan' (NaN/infinite) is not allowed"),
        ("edss_cerebral", "NaN", "edss_cerebral: 'NaN' (NaN/infinite) is not allowed"),
        ("edss_cerebellar", "", "edss_cerebellar: missing value"),
        ("visit_date", "2020-13-01", "visit_date: '2020-13-01' is not a valid date"),
        ("visit_date", "01/02/2020", "visit_date: '01/02/2020' is not a valid date"),
        ("visit_date", "", "visit_date: missing value"),
        ("patient_id", "", "patient_id: missing value"),
        ("edss_total", "3.2", "edss_total: 3.2 is not a multiple of 0.5"),
        ("edss_total", "10.5", "edss_total: 10.5 is out of range 0-10"),
        ("edss_total", "x", "edss_total: 'x' is not a number"),
        ("status", "2", "status: 2 is not one of 0, 1"),
        ("status", "active", "status: 'active' is not one of 0, 1"),
        ("study_uid", "1.2.abc", "study_uid: '1.2.abc' is not a DICOM UID"),
    ],
)
def test_bad_cell_excludes_the_row_with_row_number_and_column(csv_file, visit_row, header, column, value, expected):
    good = visit_row("PAT-A", "2020-01-15")
    bad = visit_row("PAT-A", "2021-01-15")
    bad[header.index(column)] = value
    visits, exclusions = load_clinical_visits(csv_file([good, bad]))
    assert [v.row for v in visits] == [2]
    (exclusion,) = exclusions
    assert (exclusion.kind, exclusion.row) == ("row", 3)
    assert expected in exclusion.reason
    assert "PAT-A" not in exclusion.reason


def test_several_errors_in_one_row_are_all_named(csv_file, visit_row):
    row = visit_row("PAT-A", "2020-02-30", edss=(9, 0, 0, 0, 0, 0, 0, 0))
    _, (exclusion,) = load_clinical_visits(csv_file([row]))
    assert "edss_visual" in exclusion.reason and "visit_date" in exclusion.reason


def test_duplicate_patient_and_date_excludes_every_copy(csv_file, visit_row):
    rows = [visit_row("PAT-A", "2020-01-15"), visit_row("PAT-B", "2020-01-15"), visit_row("PAT-A", "2020-01-15", status="1")]
    visits, exclusions = load_clinical_visits(csv_file(rows))
    assert [v.patient_id for v in visits] == ["PAT-B"]
    assert [(e.row, e.reason) for e in exclusions] == [
        (2, "duplicate (patient_id, visit_date): same patient and date on row(s) 4"),
        (4, "duplicate (patient_id, visit_date): same patient and date on row(s) 2"),
    ]


def test_row_numbers_are_file_lines_and_blank_lines_count(tmp_path, visit_row, header):
    path = tmp_path / "c.csv"
    path.write_text(",".join(header) + "\n" + ",".join(visit_row("A", "2020-01-01")) + "\n\n" + ",".join(visit_row("A", "2020-99-01")) + "\n")
    visits, (exclusion,) = load_clinical_visits(path)
    assert [v.row for v in visits] == [2] and exclusion.row == 4


def test_row_with_wrong_field_count(csv_file, visit_row):
    _, (exclusion,) = load_clinical_visits(csv_file([visit_row("A", "2020-01-01")[:-2]]))
    assert exclusion.row == 2 and "has 11 fields, the header has 13" in exclusion.reason


def renamed(old, new):
    return lambda header: [new if name == old else name for name in header]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda header: [c for c in header if c != "edss_sensory"], "missing required column(s) edss_sensory"),
        (renamed("edss_visual", "edss_visul"), "unknown column 'edss_visul' (did you mean 'edss_visual'?)"),
        (renamed("status", "stauts"), "unknown column 'stauts' (did you mean 'status'?)"),
        (renamed("visit_date", "date"), "missing required column(s) visit_date"),
        (lambda header: header + ["status"], "column 'status' appears twice"),
    ],
)
def test_missing_or_misspelled_columns_stop_with_one_line(csv_file, header, change, message):
    path = csv_file([], header=change(header))
    with pytest.raises(UserError) as err:
        load_clinical_visits(path)
    assert message in str(err.value) and str(path) in str(err.value) and "\n" not in str(err.value)


def test_unrelated_extra_column_is_reported_as_ignored(csv_file, visit_row, header):
    rows = [visit_row("A", "2020-01-01") + ["free text"]]
    visits, (exclusion,) = load_clinical_visits(csv_file(rows, header=header + ["notes"]))
    assert len(visits) == 1
    assert (exclusion.kind, exclusion.reason) == ("column", "column 'notes' ignored: not part of the clinical visits format")


def test_optional_columns_may_be_absent(csv_file, visit_row, header):
    visits, exclusions = load_clinical_visits(csv_file([visit_row("A", "2020-01-01")[:10]], header=header[:10]))
    assert exclusions == [] and visits[0].status is None and visits[0].edss_total is None


def test_empty_or_missing_file(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserError, match="empty file"):
        load_clinical_visits(tmp_path / "empty.csv")
    with pytest.raises(UserError, match="cannot read"):
        load_clinical_visits(tmp_path / "absent.csv")
