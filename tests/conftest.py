"""Fixtures shared across test packages."""

import pytest

from tests.cohort import write_tiny_cohort


@pytest.fixture(scope="session")
def tiny_datalist(tmp_path_factory):
    """Path of the tiny cohort's datalist.json (written once per test session)."""
    return write_tiny_cohort(tmp_path_factory.mktemp("tiny_cohort"))
