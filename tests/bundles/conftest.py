"""What the bundle tests share: the bundle names and overrides that make a run tiny."""

from pathlib import Path

from msmonai.bundle_tools.contract import run_outputs

REPO = Path(__file__).resolve().parents[2]
BUNDLES = ["ms_activity_resnet3d", "ms_activity_pretrained_resnet2d", "ms_activity_resnext3d"]
TINY_SPATIAL_SIZE = [6, 32, 32]


def tiny_overrides(datalist: Path, out: Path, num_epochs: int = 2) -> dict:
    """Bundle overrides for a CPU run of a few seconds writing everything under ``out``."""
    return {
        "datalist": str(datalist),
        **run_outputs(out),  # models/model.pt, logs/, eval/
        "num_epochs": num_epochs,
        "batch_size": 4,
        "spatial_size": TINY_SPATIAL_SIZE,
        "num_workers": 0,
        "device": "$torch.device('cpu')",
    }
