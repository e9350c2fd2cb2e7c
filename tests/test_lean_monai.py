"""A process that imports msmonai.lean_monai before MONAI (a ``preprocess`` worker) runs the preset without MONAI
having loaded the optional packages the preset does not use. Only child processes import that module: it changes
what the importing process can import."""

import importlib.util
import json
import subprocess
import sys

import numpy as np

from msmonai.transforms import preprocessing_transforms

CHILD = """
import json, sys
import numpy as np
from msmonai.lean_monai import NOT_NEEDED_BY_THE_PRESET
from msmonai.transforms import preprocessing_transforms
volume = (np.arange(5 * 40 * 30, dtype=np.float32).reshape(1, 5, 40, 30) * 7) % 97
out = preprocessing_transforms(spatial_size=(8, 16, 12), load=False)({"image": volume})["image"]
loaded = [name for name in NOT_NEEDED_BY_THE_PRESET if sys.modules.get(name) is not None]
print(json.dumps({"skipped": NOT_NEEDED_BY_THE_PRESET, "loaded": loaded, "values": out.numpy().ravel().tolist()}))
"""


def test_the_preset_runs_and_monai_skips_what_it_does_not_need():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True)
    child = json.loads(done.stdout.strip().splitlines()[-1])
    installed = [name for name in child["skipped"] if importlib.util.find_spec(name) is not None]
    assert {"ignite", "scipy", "itk"} <= set(installed)  # what MONAI would otherwise load here
    assert child["loaded"] == []
    volume = (np.arange(5 * 40 * 30, dtype=np.float32).reshape(1, 5, 40, 30) * 7) % 97
    here = preprocessing_transforms(spatial_size=(8, 16, 12), load=False)({"image": volume})["image"]
    np.testing.assert_allclose(child["values"], here.numpy().ravel(), rtol=0, atol=1e-5)
