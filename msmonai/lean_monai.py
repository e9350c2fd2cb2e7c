"""Imported before MONAI by a process that only runs the preprocessing preset (a ``preprocess`` worker), so that
MONAI's import skips the optional packages the preset does not use.

MONAI's package import loads every submodule and, through them, every optional dependency that is installed; the
preset uses none of :data:`NOT_NEEDED_BY_THE_PRESET` (its reader is msmonai's own, its NIfTI writer nibabel). After
torch, whose own imports stay untouched, they are marked as not installed, which MONAI's optional imports accept,
unless the process has imported them already. Nothing else in msmonai imports this module.
"""

import sys

import torch  # noqa: F401  (first: torch's own imports are not to be touched)

NOT_NEEDED_BY_THE_PRESET = (
    "ignite", "matplotlib", "pandas", "scipy", "tensorboard",  # 3 s of a worker's 6 s start on 2 cores (stop 20)
    "itk", "requests", "jsonschema", "yaml", "filelock", "psutil", "sklearn",  # 0.2 s more (stop 23)
)

for _name in NOT_NEEDED_BY_THE_PRESET:
    sys.modules.setdefault(_name, None)
