"""``msmonai manifest`` end to end on a tiny real DICOM archive: datalist, exclusions, pseudonyms, options."""

import csv
import json
import os
import stat

import pytest
from monai.data import load_decathlon_datalist

from msmonai.cli import main
from msmonai.data.pseudonym import default_secret_file
from msmonai.data.schemas import DATALIST, validator

UID = "1.2.826.0.1.3680043.10.1000."


@pytest.fixture
def cohort(dicom_root, csv_file, visit_row, tmp_path, monkeypatch):
    """Patients: PAT-A (3 annual visits, active at the last), PAT-B (2 visits, the second study without T1),
    PAT-C (one visit), PAT-D (visit 90 days from its study, then a visit with a bad score), PAT-E (a study, no rows)."""
    monkeypatch.delenv("MSMONAI_SITE_SECRET", raising=False)
    root = dicom_root(
        [
            ("PAT-A", "2018-02-01", UID + "1"),
            ("PAT-A", "2019-01-20", UID + "2"),
            ("PAT-A", "2020-02-03", UID + "3"),
            ("PAT-B", "2018-05-01", UID + "4"),
            ("PAT-B", "2019-05-01", UID + "5", False),
            ("PAT-C", "2018-05-01", UID + "6"),
            ("PAT-D", "2018-01-01", UID + "7"),
            ("PAT-E", "2018-01-01", UID + "8"),
        ]
    )
    rows = [
        visit_row("PAT-A", "2018-02-01"),
        visit_row("PAT-A", "2019-02-01", study_uid=UID + "2"),
        visit_row("PAT-A", "2020-02-01", status="1"),
        visit_row("PAT-B", "2018-05-03"),
        visit_row("PAT-B", "2019-05-03"),
        visit_row("PAT-C", "2018-05-01"),
        visit_row("PAT-D", "2018-04-01"),
        visit_row("PAT-D", "2019-04-01", edss=(9, 0, 0, 0, 0, 0, 0, 0)),
    ]
    return {"dicom": root, "clinical": csv_file(rows), "out": tmp_path / "out" / "datalist.json"}


def run(cohort, *options):
    return main(["manifest", "--dicom", str(cohort["dicom"]), "--clinical", str(cohort["clinical"]),
                 "--out", str(cohort["out"]), "--folds", "2", "--quiet", *options])


def read_exclusions(cohort):
    with open(cohort["out"].with_name("datalist.exclusions.csv"), newline="") as f:
        return list(csv.DictReader(f))


def test_manifest_items_exclusions_and_summary(cohort, capsys):
    assert run(cohort) == 0
    datalist = json.loads(cohort["out"].read_text())
    validator(DATALIST).validate(datalist)
    items = datalist["training"]
    assert sorted((len(i["visits"]), i["label"]) for i in items) == [(1, 0), (1, 0), (2, 1)]
    longest = max(items, key=lambda i: len(i["visits"]))
    assert [v["date"] for v in longest["visits"]] == ["2018-02-01", "2019-02-01"]
    assert longest["visits"][0]["edss_raw"] == [1, 0, 2, 0, 1, 0, 0, 0]
    assert longest["visits"][0]["edss"] == pytest.approx([1 / 6, 0, 2 / 6, 0, 1 / 6, 0, 0, 0])
    assert len({i["patient"] for i in items}) == 2 and all(i["patient"].startswith("P-") for i in items)
    assert {i["patient"]: i["fold"] for i in items} == {i["patient"]: i["fold"] for i in reversed(items)}
    for item in items:
        for visit in item["visits"]:
            assert len(visit["image"]) == 3 and all(not os.path.isabs(p) for p in visit["image"])
            assert all((cohort["out"].parent / p).is_file() for p in visit["image"])

    loaded = load_decathlon_datalist(cohort["out"], data_list_key="training")
    assert len(loaded) == 3 and loaded[0]["visits"] == items[0]["visits"]

    by_kind = {}
    for row in read_exclusions(cohort):
        by_kind.setdefault(row["kind"], []).append(row)
    assert {r["row"] for r in by_kind["row"]} == {"9"} and "edss_visual: 9 is out of range 0-6" in by_kind["row"][0]["reason"]
    visit_reasons = {r["row"]: r["reason"] for r in by_kind["visit"]}
    assert "has no T1 series" in visit_reasons["6"]
    assert "no DICOM study within 60 days (nearest is 90 days away)" in visit_reasons["8"]
    assert {r["row"] for r in by_kind["patient"]} == {"7", "8"}  # PAT-C: one visit; PAT-D: one valid visit
    assert [r["study_uid"] for r in by_kind["study"]] == [UID + "7", UID + "8"]
    assert any("no T1 series" in r["reason"] for r in by_kind["file"])
    assert all(r["patient"].startswith("P-") for rows in by_kind.values() for r in rows if r["patient"])

    out = capsys.readouterr().out
    assert "all: 2 patients, 3 visits, 3 observations, 1 active (33.3 %)" in out
    assert "fold 0 (training)" in out and "fold 1 (training)" in out


def test_no_raw_identifier_in_any_output_but_the_pseudonym_map(cohort, caplog):
    assert run(cohort) == 0
    out_dir = cohort["out"].parent
    assert sorted(p.name for p in out_dir.iterdir()) == ["datalist.exclusions.csv", "datalist.json"]
    for path in (cohort["out"], cohort["out"].with_name("datalist.exclusions.csv")):
        text = path.read_text()
        assert "PAT-" not in text and "Name^" not in text
    site = default_secret_file().parent  # the one rule: the site's key file, outside the folder written
    assert f"created a new site secret in {site / 'site_secret.key'}" in caplog.text
    with open(site / "pseudonyms.csv", newline="") as f:
        mapping = {row["patient_id"]: row["pseudonym"] for row in csv.DictReader(f)}
    assert set(mapping) == {"PAT-A", "PAT-B", "PAT-C", "PAT-D", "PAT-E"}
    assert set(mapping.values()) >= {i["patient"] for i in json.loads(cohort["out"].read_text())["training"]}
    for name in ("site_secret.key", "pseudonyms.csv"):
        assert stat.S_IMODE((site / name).stat().st_mode) == 0o600
    caplog.clear()
    assert run(cohort) == 0 and "created" not in caplog.text  # the second run reads the same secret


def test_a_secret_left_by_an_earlier_manifest_is_never_replaced_silently(cohort, capsys):
    earlier = cohort["out"].parent / "site_secret.key"
    earlier.parent.mkdir(parents=True, exist_ok=True)
    earlier.write_text("an earlier secret of enough length\n")
    assert run(cohort) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"msmonai manifest: error: {earlier}: the site secret of an earlier msmonai manifest")
    assert not default_secret_file().exists()
    assert run(cohort, "--secret-file", str(earlier)) == 0


def test_pseudonyms_are_stable_for_a_secret_and_differ_across_secrets(cohort, tmp_path):
    def patients(secret_file):
        assert run(cohort, "--secret-file", str(secret_file)) == 0
        return sorted(i["patient"] for i in json.loads(cohort["out"].read_text())["training"])

    first = patients(tmp_path / "site1" / "secret.key")
    assert patients(tmp_path / "site1" / "secret.key") == first
    other = patients(tmp_path / "site2" / "secret.key")
    assert set(other).isdisjoint(first)
    assert (tmp_path / "site1" / "pseudonyms.csv").is_file() and (tmp_path / "site2" / "pseudonyms.csv").is_file()


def test_secret_from_environment(cohort, monkeypatch):
    monkeypatch.setenv("MSMONAI_SITE_SECRET", "a site secret of enough length")
    assert run(cohort) == 0
    first = json.loads(cohort["out"].read_text())["training"][0]["patient"]
    monkeypatch.setenv("MSMONAI_SITE_SECRET", "another site secret, long enough")
    assert run(cohort) == 0
    assert first not in {i["patient"] for i in json.loads(cohort["out"].read_text())["training"]}
    assert not (cohort["out"].parent / "site_secret.key").exists()


def test_strict_fails_and_writes_no_manifest(cohort, capsys):
    assert run(cohort, "--strict") == 2
    assert not cohort["out"].exists()
    assert len(read_exclusions(cohort)) > 0
    err = capsys.readouterr().err
    assert "--strict:" in err and "manifest not written" in err and err.count("\n") == 1


def test_test_fold_moves_that_fold_to_testing(cohort):
    assert run(cohort, "--test-fold", "1") == 0
    datalist = json.loads(cohort["out"].read_text())
    assert {i["fold"] for i in datalist["testing"]} == {1}
    assert {i["fold"] for i in datalist["training"]} == {0}
    assert len(load_decathlon_datalist(cohort["out"], data_list_key="testing")) == len(datalist["testing"])
    assert run(cohort, "--test-fold", "2") == 2


def test_filter_negatives_is_off_by_default_and_reported_when_on(cohort):
    assert run(cohort) == 0
    assert not any("negative-observation filter" in r["reason"] for r in read_exclusions(cohort))
    assert run(cohort, "--filter-negatives", "0", "--folds", "2") == 0
    datalist = json.loads(cohort["out"].read_text())
    assert [i["label"] for i in datalist["training"]] == [1]
    assert datalist["metadata"]["options"]["filter_negatives"] == 0
    assert sum("negative-observation filter" in r["reason"] for r in read_exclusions(cohort)) == 2


def test_nothing_usable_is_an_error_after_writing_the_reasons(dicom_root, csv_file, visit_row, tmp_path, monkeypatch):
    monkeypatch.delenv("MSMONAI_SITE_SECRET", raising=False)
    root = dicom_root([("PAT-Z", "2018-01-01", UID + "9")])
    cohort = {"dicom": root, "clinical": csv_file([visit_row("PAT-Z", "2018-01-01")]), "out": tmp_path / "o" / "datalist.json"}
    assert run(cohort) == 2
    assert not cohort["out"].exists()
    assert [r["kind"] for r in read_exclusions(cohort)] == ["patient"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--max-visits", "0"], "the most recent visits per observation must be at least 1"),
        (["--tolerance-days", "-1"], "the linking tolerance must be in 0..364 days"),
        (["--filter-negatives", "-2"], "the negatives kept per positive must be 0 or more"),
        (["--test-fold", "5"], "test fold 5 is not a fold of 0..1"),
    ],
)
def test_senseless_options_are_refused_by_name(cohort, capsys, options, message):
    assert run(cohort, *options) == 2
    assert message in capsys.readouterr().err
