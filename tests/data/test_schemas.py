"""The shipped JSON Schemas: valid, a single copy, and the one the documentation points to."""

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

import msmonai
from msmonai.data.schemas import CLINICAL_VISITS, DATALIST, load_schema

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", [CLINICAL_VISITS, DATALIST])
def test_schema_is_valid_and_documented_copy_is_the_shipped_one(name):
    Draft202012Validator.check_schema(load_schema(name))
    shipped = Path(msmonai.__file__).parent / "schemas" / f"{name}.schema.json"
    documented = REPO / "data_manifests" / f"{name}.schema.json"
    assert documented.is_symlink() and documented.resolve() == shipped.resolve()
    assert f"{name}.schema.json" in (REPO / "data_manifests" / "README.md").read_text()


def test_clinical_schema_lists_the_issue_columns():
    schema = load_schema(CLINICAL_VISITS)
    assert schema["required"] == ["patient_id", "visit_date", *schema["x-edss-subscores"]]
    assert set(schema["properties"]) - set(schema["required"]) == {"edss_total", "status", "study_uid"}
