"""Signed bundles: keygen, signing at export, and every refusal on receipt (altered, re-hashed, added, unsigned,
untrusted); the config audit on the shipped bundles and on a code-injecting config."""

import json
import stat

import pytest

from msmonai.bundle_tools.audit import audit_configs
from msmonai.bundle_tools.sharing import export_bundle, verify_bundle
from msmonai.bundle_tools.signing import key_id
from msmonai.cli import main
from msmonai.errors import UserError
from tests.bundle_tools.test_sharing import BUNDLES, SMALL, resum, rewrite_zip, trained_bundle

INJECTED = "$__import__('os').system('echo MSMONAI-INJECTED')"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """Two key pairs made by the real command: the sender's and someone else's."""
    root = tmp_path_factory.mktemp("keys")
    for name in ("sender", "stranger"):
        assert main(["keygen", "--out", str(root / name)]) == 0
    return root


@pytest.fixture(scope="module")
def signed(tmp_path_factory, keys):
    """(signed zip, unsigned zip, bundle folder name) of the ResNet3D bundle."""
    root = tmp_path_factory.mktemp("signed")
    bundle, _ = trained_bundle("ms_activity_resnet3d", root)
    signed_zip = export_bundle(bundle, root / "signed.zip", spatial_size=SMALL,
                               sign_key=keys / "sender" / "signing-key.pem")
    unsigned_zip = export_bundle(bundle, root / "unsigned.zip", spatial_size=SMALL)
    return signed_zip, unsigned_zip, bundle.name


def test_keygen_writes_an_owner_only_private_key_and_never_overwrites(keys, capsys):
    private = keys / "sender" / "signing-key.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes() and b"PUBLIC KEY" in (keys / "sender" / "signing-key.pub.pem").read_bytes()
    assert main(["keygen", "--out", str(keys / "sender")]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err.strip().splitlines()[-1]


def test_signed_bundle_verifies_with_the_trusted_key_only(signed, keys, capsys):
    signed_zip, _, _ = signed
    sender = keys / "sender" / "signing-key.pub.pem"
    result = verify_bundle(signed_zip, trusted_keys=[keys / "stranger" / "signing-key.pub.pem", sender])
    assert result.signer == key_id(sender)
    assert main(["verify-bundle", str(signed_zip)]) == 0
    assert "authenticity NOT checked" in capsys.readouterr().out
    with pytest.raises(UserError, match="not among the trusted keys"):
        verify_bundle(signed_zip, trusted_keys=[keys / "stranger" / "signing-key.pub.pem"])


def test_unsigned_bundle_refused_when_keys_are_trusted(signed, keys):
    _, unsigned_zip, _ = signed
    with pytest.raises(UserError, match="model.sig missing: the bundle is unsigned"):
        verify_bundle(unsigned_zip, trusted_keys=[keys / "sender" / "signing-key.pub.pem"])


def inject(files: dict, folder: str) -> None:
    config = json.loads(files[f"{folder}/configs/inference.json"])
    config["initialize"] = [INJECTED]
    files[f"{folder}/configs/inference.json"] = json.dumps(config).encode()


@pytest.mark.parametrize("rehash", [True, False])
def test_altered_config_refused_whether_or_not_the_sums_were_recomputed(signed, keys, tmp_path, rehash):
    signed_zip, _, folder = signed

    def edit(files):
        inject(files, folder)
        if rehash:  # a forger recomputes SHA256SUMS, but cannot recompute the signature
            sums = {k: v for k, v in files.items() if not k.endswith(".sig")}
            resum(sums, folder)
            files[f"{folder}/SHA256SUMS"] = sums[f"{folder}/SHA256SUMS"]

    bad = rewrite_zip(signed_zip, tmp_path / "bad.zip", edit)
    with pytest.raises(UserError, match="does not match its signature .altered after signing: .*configs/inference.json"):
        verify_bundle(bad, trusted_keys=[keys / "sender" / "signing-key.pub.pem"])


@pytest.mark.parametrize("change, named", [
    (lambda files, folder: files.update({f"{folder}/configs/x.json": b"{}"}), "Extra files .*configs/x.json"),
    (lambda files, folder: files.update({f"{folder}/.git/config": b"[core]"}), "Extra files .*.git/config"),
    (lambda files, folder: files.pop(f"{folder}/docs/README.md"), "Missing files .*docs/README.md"),
])
def test_added_git_or_removed_file_refused(signed, keys, tmp_path, change, named):
    """The library's defaults would skip .git paths and could accept unsigned files: both are switched off."""
    signed_zip, _, folder = signed
    bad = rewrite_zip(signed_zip, tmp_path / "bad.zip", lambda files: change(files, folder))
    with pytest.raises(UserError, match=f"does not match its signature .altered after signing: {named}"):
        verify_bundle(bad, trusted_keys=[keys / "sender" / "signing-key.pub.pem"])


def test_the_signature_is_an_openssf_model_signature_that_the_library_verifies(signed, keys, tmp_path):
    """What a receiver without msmonai runs: model_signing's own verifier on the extracted folder."""
    import zipfile

    from model_signing import hashing, verifying

    signed_zip, _, folder = signed
    with zipfile.ZipFile(signed_zip) as zf:
        zf.extractall(tmp_path)
    (verifying.Config().use_elliptic_key_verifier(public_key=keys / "sender" / "signing-key.pub.pem")
     .set_hashing_config(hashing.Config().set_ignored_paths(paths=["model.sig"], ignore_git_paths=False))
     .set_ignore_unsigned_files(False).verify(tmp_path / folder, tmp_path / folder / "model.sig"))


def test_a_bundle_signed_in_the_earlier_format_is_refused_with_the_reason(signed, keys, tmp_path):
    _, unsigned_zip, folder = signed
    legacy = rewrite_zip(unsigned_zip, tmp_path / "legacy.zip",
                         lambda files: files.update({f"{folder}/SHA256SUMS.sig": b"{}"}))
    with pytest.raises(UserError, match=r"signed in msmonai's earlier format \(SHA256SUMS.sig\); ask the sender"):
        verify_bundle(legacy, trusted_keys=[keys / "sender" / "signing-key.pub.pem"])


def test_code_injecting_config_refused_by_the_audit_even_with_matching_sums(signed, tmp_path, capsys):
    _, unsigned_zip, folder = signed

    def edit(files):
        inject(files, folder)
        resum(files, folder)

    bad = rewrite_zip(unsigned_zip, tmp_path / "bad.zip", edit)
    assert main(["verify-bundle", str(bad)]) == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "configs/inference.json id 'initialize#0': uses __import__" in last
    assert main(["verify-bundle", str(bad), "--allow-code"]) == 0
    captured = capsys.readouterr()
    assert "will execute on this machine" in captured.err and "REFUSED: uses __import__" in captured.out


@pytest.mark.parametrize("name", ["ms_activity_resnet3d", "ms_activity_resnext3d", "ms_activity_pretrained_resnet2d"])
def test_the_shipped_bundles_pass_the_audit(name):
    findings = audit_configs(BUNDLES / name / "configs")
    assert len(findings) > 50 and [f.line() for f in findings if f.problem] == []


@pytest.mark.parametrize("expression", [
    "$__import__('os').system('x')", "$os.system('x')", "$import subprocess", "$getattr(torch, 'load')('x')",
    "$torch.hub.load('a', 'b')", "$import torch.hub as h", "$(lambda: 0).__globals__", "$open('/etc/passwd').read()",
    "$eval('1')", "$exec('x')", "$setattr(os, 'x', 1)", "$import torch as t; t.load('x')", "$from os import system",
    "$os.environ['HOME']", "$@network_def.__class__.__subclasses__()", "$import builtins", "$import importlib",
])
def test_audit_refuses_what_reaches_the_system_or_dynamic_code(tmp_path, expression):
    (tmp_path / "inference.json").write_text(json.dumps({"imports": ["$import os", "$import torch"], "x": expression}))
    (problem,) = [f.problem for f in audit_configs(tmp_path) if f.id == "x"]
    assert problem is not None


@pytest.mark.parametrize("target, refused", [("eval", True), ("os.system", True), ("builtins.exec", True),
                                             ("torch.hub.load", True), ("SupervisedTrainer", False),
                                             ("torch.optim.Adam", False), ("msmonai.networks.ResNet3D", False)])
def test_audit_of_components(tmp_path, target, refused):
    (tmp_path / "train.json").write_text(json.dumps({"net": {"_target_": target}}))
    (finding,) = audit_configs(tmp_path)
    assert (finding.problem is not None) == refused


@pytest.mark.parametrize("planted", ["msmonai/__init__.py", "docs/helper.py", "scripts/run.sh", "models/extra.pkl"])
def test_code_files_refused_even_when_listed(signed, tmp_path, planted):
    """Run from the bundle folder, a msmonai/ folder there would shadow the installed package the configs import."""
    _, unsigned_zip, folder = signed

    def edit(files):
        files[f"{folder}/{planted}"] = b"print('MSMONAI-PAYLOAD')\n"
        resum(files, folder)

    bad = rewrite_zip(unsigned_zip, tmp_path / "bad.zip", edit)
    with pytest.raises(UserError, match=f"refused, {planted} is not part of a shared bundle"):
        verify_bundle(bad)
