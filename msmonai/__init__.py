"""msmonai: one-year multiple-sclerosis activity prediction from longitudinal T1 MRI + EDSS, built on MONAI.

Subpackages (and ``errors``) load on first attribute access (``msmonai.engine``), which is how bundle configs reach
them after a plain ``"$import msmonai"``, and keeps ``msmonai --help`` free of torch.
"""

import importlib

__version__ = "0.1.0"

SUBMODULES = ("bundle_tools", "cli", "data", "demo", "engine", "errors", "evaluation", "io", "networks", "transforms")


def __getattr__(name: str):
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
