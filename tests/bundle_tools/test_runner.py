"""Running bundles as users do: the command line, overrides, and a failing run's message."""

import json
import sys
from pathlib import Path

import pytest

from msmonai.bundle_tools.layout import LOGGING_CONFIG, METADATA
from msmonai.bundle_tools.runner import bundle_command, override_args, run_bundle
from msmonai.errors import UserError

BUNDLE = Path(__file__).resolve().parents[2] / "bundles" / "ms_activity_resnet3d"


def test_an_existing_relative_path_becomes_absolute_since_workflows_run_in_the_bundle_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "weights.pth").write_bytes(b"")
    parsed = override_args(["pretrained_weights=weights.pth", "output_dir=not/there/yet"])
    assert parsed == {"pretrained_weights": str(tmp_path / "weights.pth"), "output_dir": "not/there/yet"}


def test_overrides_are_json_when_they_can_be_and_strings_otherwise():
    parsed = override_args(["num_epochs=3", "--spatial_size=[6,32,32]", "amp=true", "dataset_dir=/data/x",
                            "device=$torch.device('cpu')", "note=a=b"])
    assert parsed == {"num_epochs": 3, "spatial_size": [6, 32, 32], "amp": True, "dataset_dir": "/data/x",
                      "device": "$torch.device('cpu')", "note": "a=b"}
    for bad in ["num_epochs", "=3"]:
        with pytest.raises(UserError, match="KEY=VALUE"):
            override_args([bad])


def test_non_string_overrides_reach_the_bundle_as_the_values_they_are():
    from fire.parser import DefaultParseValue  # how `python -m monai.bundle run` reads its arguments

    values = {"difference": False, "amp": True, "threshold": None, "spatial_size": [25, 64, 64], "lr": 0.001,
              "num_epochs": 3, "flags": [True, False], "site": "a b"}
    cmd = bundle_command(BUNDLE, "train", values)
    parsed = {key: DefaultParseValue(cmd[cmd.index(f"--{key}") + 1]) for key in values}
    assert parsed == values and parsed["difference"] is False  # "false" used to arrive as a (truthy) string


def test_the_command_is_monai_bundle_run_with_overlays_after_train_json():
    bundle = BUNDLE
    cmd = bundle_command(bundle, "evaluate", {"val_fold": 2, "datalist": "/d/l.json"}, ["configs/cpu_small.json"])
    assert cmd[:4] == [sys.executable, "-m", "monai.bundle", "run"]
    configs = json.loads(cmd[cmd.index("--config_file") + 1])
    assert [c.split("/configs/")[-1] for c in configs] == ["train.json", "cpu_small.json", "evaluate.json"]
    assert cmd[cmd.index("--meta_file") + 1] == str(bundle / METADATA)
    assert cmd[cmd.index("--logging_file") + 1] == str(bundle / LOGGING_CONFIG)
    assert cmd[cmd.index("--val_fold") + 1] == "2" and cmd[cmd.index("--datalist") + 1] == "/d/l.json"


def test_a_failing_run_raises_one_line_with_the_bundles_own_reason_and_the_log(tmp_path):
    log = tmp_path / "logs" / "train.log"
    with pytest.raises(UserError) as err:
        run_bundle(BUNDLE, "train", {"datalist": str(tmp_path / "missing.json")}, log_file=log)
    last = log.read_text().strip().splitlines()[-1]
    assert str(tmp_path / "missing.json") in last  # the bundle names the missing file ...
    message = str(err.value)
    assert "\n" not in message and message.startswith("bundle ms_activity_resnet3d: train failed: ")
    assert last.strip() in message and str(log) in message  # ... and so does the one line the user sees


def test_cv_ends_with_the_failing_bundles_own_line(tiny_datalist, tmp_path, capsys):
    """A pretrained_weights file that does not exist: `msmonai cv` ends with the bundle's line naming it, then the log."""
    from msmonai.cli import main as cli

    missing = tmp_path / "resnet18_imagenet.pth"
    code = cli(["cv", "--bundle", str(BUNDLE.parent / "ms_activity_pretrained_resnet2d"), "--datalist",
                str(tiny_datalist), "--out", str(tmp_path / "cv"), "--folds", "1", "--num-epochs", "1",
                "--set", f"pretrained_weights={missing}", "--set", "pretrained=true", "--set", "spatial_size=[6,32,32]"])
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert code != 0 and str(missing) in last and "train failed" in last and "train.log" in last
