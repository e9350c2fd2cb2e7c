"""The JSON Schemas shipped with the package (``msmonai/schemas/*.schema.json``), documented in data_manifests/README.md."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files
from typing import Any

from jsonschema import Draft202012Validator

CLINICAL_VISITS = "clinical_visits"
DATALIST = "datalist"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``msmonai/schemas/<name>.schema.json`` as a dict."""
    return json.loads(files("msmonai").joinpath("schemas", f"{name}.schema.json").read_text(encoding="utf-8"))


def validator(name: str) -> Draft202012Validator:
    """A validator for schema ``name`` that also checks ``format`` (e.g. ISO dates)."""
    return Draft202012Validator(load_schema(name), format_checker=Draft202012Validator.FORMAT_CHECKER)
