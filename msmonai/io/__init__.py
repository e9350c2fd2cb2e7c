"""DICOM ingestion: archive scanning, series grouping, weighting classification, T1 choice, volume reading.

``scan_dicom(root)`` reads headers only and returns studies (each with its chosen T1 series) plus a problem
line for everything unusable; ``DicomSeriesReader`` turns one series into a MONAI ``[D, H, W]`` volume.
The scanner and reader are imported on first use so that ``msmonai --help`` does not load pydicom or MONAI.
"""

import importlib

from msmonai.io.model import Problem, ScanResult, Series, Study

_LAZY_EXPORTS = {
    "DicomSeriesReader": "msmonai.io.reader",
    "scan_dicom": "msmonai.io.scan",
    "default_t1_rule": "msmonai.io.selection",
}

__all__ = ["DicomSeriesReader", "Problem", "ScanResult", "Series", "Study", "default_t1_rule", "scan_dicom"]


def __getattr__(name: str):
    if name in _LAZY_EXPORTS:
        return getattr(importlib.import_module(_LAZY_EXPORTS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
