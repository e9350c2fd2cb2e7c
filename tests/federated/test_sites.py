"""Rehearsal sites: one datalist split by patient, each site with folds of its own."""

import json

import pytest

from msmonai.data.datalist import load_datalist
from msmonai.errors import UserError
from msmonai.federated.sites import split_sites
from tests.cohort import write_tiny_cohort


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    return write_tiny_cohort(tmp_path_factory.mktemp("cohort"), n_patients=24)


def test_every_training_observation_goes_to_exactly_one_site_with_all_of_its_patient(cohort, tmp_path):
    paths = split_sites(cohort, 3, tmp_path / "sites", n_folds=3)
    assert [p.name for p in paths] == ["site-1.json", "site-2.json", "site-3.json"]
    sites = [load_datalist(p) for p in paths]
    source = load_datalist(cohort)
    key = lambda it: (it["patient"], len(it["visits"]))
    assert sorted(map(key, (it for site in sites for it in site))) == sorted(map(key, source))
    patients = [{it["patient"] for it in site} for site in sites]
    assert all(not (a & b) for i, a in enumerate(patients) for b in patients[i + 1:])
    for site in sites:
        assert {it["fold"] for it in site} == {0, 1, 2}
        for patient in {it["patient"] for it in site}:  # folds are grouped by patient within a site
            assert len({it["fold"] for it in site if it["patient"] == patient}) == 1
        assert {it["label"] for it in site} == {0, 1}
        assert all(f.startswith("/") for it in site for v in it["visits"] for f in v["image"])


def test_the_testing_list_goes_to_no_site(cohort, tmp_path):
    held_out = {it["patient"] for it in load_datalist(cohort, "testing")}
    for path in split_sites(cohort, 2, tmp_path / "sites", n_folds=2):
        content = json.loads(path.read_text())
        assert "testing" not in content and not held_out & {it["patient"] for it in content["training"]}


def test_too_many_sites_or_too_few_names_the_site_and_the_reason(cohort, tmp_path):
    with pytest.raises(UserError, match=r"site-\d \(\d patients\): .*fewer than the 5 folds; use fewer sites"):
        split_sites(cohort, 4, tmp_path / "sites", n_folds=5)
    with pytest.raises(UserError, match="at least 2 sites"):
        split_sites(cohort, 1, tmp_path / "sites")
