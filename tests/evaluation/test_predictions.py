"""The predictions file: round trip, empty optional cells, one-line errors naming file, row and reason."""

import pandas as pd
import pytest

from msmonai.errors import UserError
from msmonai.evaluation import read_predictions, write_predictions
from msmonai.evaluation.predictions import COLUMNS

HEADER = ",".join(COLUMNS)


def test_round_trip_with_empty_optional_cells(tmp_path):
    table = pd.DataFrame(
        {
            "patient": ["P-00000000000000a1", "P-00000000000000b2"],
            "fold": [0, None],
            "last_visit_date": ["2020-01-02", "2021-03-04"],
            "label": [1, None],
            "probability_active": [0.123456789, 0.9],
            "prediction": [0, 1],
            "uncertainty": [None, 0.05],
        }
    )
    path = write_predictions(table, tmp_path / "predictions.csv")
    assert path.read_text().splitlines()[0] == HEADER
    back = read_predictions(path)
    assert list(back.columns) == list(COLUMNS)
    assert back["probability_active"].tolist() == [0.123456789, 0.9]
    assert back["fold"].iloc[0] == 0 and pd.isna(back["fold"].iloc[1])
    assert back["label"].iloc[0] == 1 and pd.isna(back["label"].iloc[1])
    assert pd.isna(back["uncertainty"].iloc[0]) and back["uncertainty"].iloc[1] == 0.05
    assert back["last_visit_date"].tolist() == ["2020-01-02", "2021-03-04"]


@pytest.mark.parametrize(
    "row, message",
    [
        ("P-a,0,2020-01-02,1,1.5,1,", r"row 2: probability_active '1.5' is not a probability in \[0, 1\]"),
        ("P-a,0,2020-01-02,2,0.5,1,", "row 2: label '2' is not 0 or 1"),
        ("P-a,0,02/01/2020,1,0.5,1,", "row 2: last_visit_date '02/01/2020' is not an ISO date"),
        (",0,2020-01-02,1,0.5,1,", "row 2: patient '' is empty"),
        ("P-a,0,2020-01-02,1,0.5,,", "row 2: prediction '' is empty"),
        ("P-a,x,2020-01-02,1,0.5,1,", "row 2: fold 'x' is not a non-negative integer"),
        ("P-a,0,2020-01-02,1,0.5,1,-0.1", "row 2: uncertainty '-0.1' is not a non-negative number"),
    ],
)
def test_bad_rows_are_named(tmp_path, row, message):
    path = tmp_path / "predictions.csv"
    path.write_text(f"{HEADER}\nP-b,0,2020-01-01,0,0.2,0,\n{row}\n")
    with pytest.raises(UserError, match=message) as caught:
        read_predictions(path)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_wrong_columns_and_missing_file(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text("patient,prob\nP-a,0.5\n")
    with pytest.raises(UserError, match="missing .*probability_active.*unknown .*prob"):
        read_predictions(path)
    with pytest.raises(UserError, match="not found"):
        read_predictions(tmp_path / "absent.csv")


def test_write_refuses_bad_table_and_leaves_no_file(tmp_path):
    table = pd.DataFrame([{c: "" for c in COLUMNS}])
    with pytest.raises(UserError, match="patient"):
        write_predictions(table, tmp_path / "p.csv")
    assert list(tmp_path.iterdir()) == []
