"""The image's checks before anything runs: one line for root, a missing /data mount, a path outside /data and an
output folder that cannot be written."""

from pathlib import PurePosixPath

import pytest

from msmonai import container
from msmonai.cli import main as cli
from msmonai.errors import UserError


@pytest.fixture
def as_user(monkeypatch, tmp_path):
    """A container as the image's user with ``tmp_path`` standing in for the mounted /data."""
    monkeypatch.setenv(container.CONTAINER_ENV, "1")
    monkeypatch.setattr(container.os, "getuid", lambda: 10001)
    monkeypatch.setattr(container, "DATA", PurePosixPath(tmp_path))
    monkeypatch.setattr(container, "ALLOWED_ROOTS", (PurePosixPath(tmp_path), PurePosixPath("/opt/msmonai")))
    monkeypatch.setattr(container, "_mounted", lambda path: str(path) == str(tmp_path))
    return tmp_path


def test_root_is_refused(as_user, monkeypatch):
    monkeypatch.setattr(container.os, "getuid", lambda: 0)
    with pytest.raises(UserError, match=r"refusing to run as root \(uid 0\)"):
        container.check_container(["run", "--config_file", "configs/train.json"])


def test_a_missing_data_mount_is_named(as_user, monkeypatch):
    monkeypatch.setattr(container, "_mounted", lambda path: False)
    with pytest.raises(UserError, match=r"is not mounted: start the container with -v"):
        container.check_container([])


@pytest.mark.parametrize("argv", [["--datalist", "/home/me/datalist.json"], ["--datalist=/etc/datalist.json"],
                                  ["--set", "datalist=/srv/d.json"], ["predict", "/srv/dicom"]])
def test_a_path_outside_data_is_refused(as_user, argv):
    with pytest.raises(UserError, match=r"outside .*: give the path as it lies under"):
        container.check_container(argv)


def test_paths_under_data_and_the_images_bundles_pass(as_user):
    container.check_container(["run", "--config_file", "/opt/msmonai/bundles/b/configs/train.json",
                               "--bundle_root", str(as_user / "runs" / "new"), "--set", "device=$torch.device('cpu')"])


def test_a_read_only_output_folder_is_named_for_root_too(as_user, monkeypatch):
    """The check asks the kernel (os.access); here it answers no, as for a :ro mount."""
    monkeypatch.setattr(container.os, "access", lambda path, mode: False)
    with pytest.raises(UserError, match=r"--bundle_root .*: not writable by uid 10001"):
        container.check_container(["--bundle_root", str(as_user / "runs")])


def test_mount_points_are_read_from_the_kernel():
    assert container._mounted(PurePosixPath("/")) and container._mounted(PurePosixPath("/proc"))
    assert not container._mounted(PurePosixPath("/nonexistent-mount-point"))


def test_the_msmonai_command_checks_too_and_ends_with_one_line(as_user, capsys):
    assert cli(["inspect", "/srv/dicom"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("msmonai inspect: error: argument /srv/dicom")
