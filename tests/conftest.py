"""Fixtures shared across test packages."""

import pytest

from tests.cohort import write_tiny_cohort

pytest_plugins = ["tests.clinical_archives"]  # clinical CSVs and tiny DICOM archives (data and cli tests)


@pytest.fixture(scope="session")
def tiny_datalist(tmp_path_factory):
    """Path of the tiny cohort's datalist.json (written once per test session)."""
    return write_tiny_cohort(tmp_path_factory.mktemp("tiny_cohort"))


@pytest.fixture(autouse=True)
def site_config_home(tmp_path_factory, monkeypatch):
    """Every test has its own ``$XDG_CONFIG_HOME``: a site secret created by default never lands in the real one."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("config")))
