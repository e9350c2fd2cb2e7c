"""Export of a trained bundle to a zip with SHA-256 sums, its verification, and refusal of unsafe checkpoints.

Each test works on a copy of a real bundle under tmp_path whose ``models/model.pt`` is the state_dict of its own
``network_def`` built through MONAI's ConfigParser at a small spatial size.
"""

import hashlib
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
from monai.bundle import ConfigParser

from msmonai.bundle_tools.sharing import export_bundle, received_bundle, verify_bundle
from msmonai.cli import main
from msmonai.engine.checkpoints import load_checkpoint
from msmonai.errors import UserError

BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
SMALL = [6, 32, 32]
PAYLOAD_MARK = "MSMONAI-PAYLOAD-RAN"
USED = ("models", "eval", "logs", "runs", "mlruns", "__pycache__")  # outputs of runs in the repository's bundles
# what a used bundle folder also holds and must never leave the site
PRIVATE = ("eval/predictions.csv", "logs/events.out.tfevents.1", "models/last.pt", "datalist.json", "cache/v.pt")


class Payload:
    """Unpickling this object calls ``print(PAYLOAD_MARK)``: harmless, but visible if it ever runs."""

    def __reduce__(self):
        return print, (PAYLOAD_MARK,)


def copy_bundle(name: str, dest: Path) -> Path:
    """A copy of ``bundles/<name>`` outside the repository, as a receiving site has it."""
    return Path(shutil.copytree(BUNDLES / name, dest / name, ignore=shutil.ignore_patterns(*USED)))


def expected_files(bundle: Path) -> list[str]:
    """The issue's list: configs/, docs/, LICENSE, large_files.yml, weights, TorchScript, torch.export, ONNX, the
    metadata schema."""
    shared = [p for d in ("configs", "docs") for p in (bundle / d).rglob("*") if p.is_file()]
    shared += [p for p in (bundle / "LICENSE", bundle / "large_files.yml") if p.is_file()]
    made = {"models/model.pt", "models/model.ts", "models/model.pt2", "models/model.onnx", "meta_schema.json"}
    return sorted({p.relative_to(bundle).as_posix() for p in shared} | made)


def small_network(bundle: Path) -> torch.nn.Module:
    """The bundle's ``network_def`` at SMALL spatial size, without the ImageNet file, in eval mode."""
    parser = ConfigParser()
    parser.read_config(bundle / "configs" / "train.json")
    parser.update({"bundle_root": str(bundle), "spatial_size": SMALL, "pretrained": False})
    torch.manual_seed(0)
    return parser.get_parsed_content("network_def").eval()


def trained_bundle(name: str, dest: Path) -> tuple[Path, torch.nn.Module]:
    bundle = copy_bundle(name, dest)
    network = small_network(bundle)
    (bundle / "models").mkdir(exist_ok=True)
    torch.save(network.state_dict(), bundle / "models" / "model.pt")
    return bundle, network


def rewrite_zip(src: Path, dst: Path, edit) -> Path:
    """Copy the zip ``src`` to ``dst`` with ``edit(files)`` applied to ``{member name: bytes}``."""
    with zipfile.ZipFile(src) as zf:
        files = {name: zf.read(name) for name in zf.namelist()}
    edit(files)
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return dst


def resum(files: dict, folder: str) -> None:
    """Recompute SHA256SUMS of the edited members, as a forger who changes the sums too would."""
    lines = [f"{hashlib.sha256(data).hexdigest()}  {name[len(folder) + 1:]}\n"
             for name, data in sorted(files.items()) if name != f"{folder}/SHA256SUMS"]
    files[f"{folder}/SHA256SUMS"] = "".join(lines).encode()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """(zip path, bundle name, expected files): the ResNeXt3D bundle exported with private files planted in it."""
    root = tmp_path_factory.mktemp("export")
    bundle, _ = trained_bundle("ms_activity_resnext3d", root)
    expected = expected_files(bundle)
    for rel in PRIVATE:
        (bundle / rel).parent.mkdir(parents=True, exist_ok=True)
        (bundle / rel).write_text("patient-derived")
    return export_bundle(bundle, root / "out" / "bundle.zip", spatial_size=SMALL), bundle.name, expected


def test_export_holds_only_shared_files_and_verifies(exported):
    zip_path, name, expected = exported
    with zipfile.ZipFile(zip_path) as zf:
        names = sorted(zf.namelist())
        sums = dict(line.split("  ")[::-1] for line in zf.read(f"{name}/SHA256SUMS").decode().splitlines())
        assert {rel: hashlib.sha256(zf.read(f"{name}/{rel}")).hexdigest() for rel in expected} == sums
    assert names == sorted(f"{name}/{rel}" for rel in expected + ["SHA256SUMS"])
    assert verify_bundle(zip_path).files == expected


def test_extracted_folder_verifies(exported, tmp_path):
    zip_path, name, expected = exported
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path)
    assert verify_bundle(tmp_path / name).files == expected


@pytest.mark.parametrize(
    "change, rel, reason",
    [
        ("flip", "configs/train.json", "does not match"),
        ("flip", "models/model.pt", "does not match"),
        ("add", "configs/notes.txt", "not listed"),
        ("remove", "configs/evaluate.json", "missing"),
    ],
)
def test_tampered_zip_refused_naming_the_file(exported, tmp_path, change, rel, reason):
    zip_path, name, _ = exported
    member = f"{name}/{rel}"

    def edit(files):
        if change == "flip":
            data = bytearray(files[member])
            data[len(data) // 2] ^= 0x01
            files[member] = bytes(data)
        elif change == "add":
            files[member] = b"an extra file"
        else:
            del files[member]

    bad = rewrite_zip(zip_path, tmp_path / "bad.zip", edit)
    with pytest.raises(UserError, match=f"{rel}.*{reason}"):
        verify_bundle(bad)


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil.txt", "bundle/../../evil.txt"])
def test_unsafe_member_names_refused(exported, tmp_path, member):
    zip_path, _, _ = exported
    bad = rewrite_zip(zip_path, tmp_path / "bad.zip", lambda files: files.update({member: b"x"}))
    with pytest.raises(UserError, match="unsafe member name"):
        verify_bundle(bad)


def test_invalid_metadata_refused_even_with_matching_sums(exported, tmp_path):
    zip_path, name, _ = exported

    def edit(files):
        files[f"{name}/configs/metadata.json"] = b'{"schema": "x", "version": "0.1.0"}'
        resum(files, name)

    bad = rewrite_zip(zip_path, tmp_path / "bad.zip", edit)
    with pytest.raises(UserError, match=f"^{re.escape(str(bad))}: configs/metadata.json: invalid bundle metadata"):
        verify_bundle(bad)


def test_pickled_code_checkpoint_refused_without_running(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "extra": Payload()}, path)
    torch.load(path, weights_only=False)  # control: the payload is real and does run when unpickled unsafely
    assert PAYLOAD_MARK in capsys.readouterr().out

    with pytest.raises(UserError, match="evil.pt: refused"):
        load_checkpoint(path)
    assert PAYLOAD_MARK not in capsys.readouterr().out


def test_zip_with_pickled_code_model_refused_even_with_matching_sums(exported, tmp_path, capsys):
    zip_path, name, _ = exported
    evil = tmp_path / "evil.pt"
    torch.save({"weight": torch.zeros(2), "extra": Payload()}, evil)

    def edit(files):
        files[f"{name}/models/model.pt"] = evil.read_bytes()
        resum(files, name)

    bad = rewrite_zip(zip_path, tmp_path / "bad.zip", edit)
    with pytest.raises(UserError, match=f"^{re.escape(str(bad))}: models/model.pt: refused"):
        verify_bundle(bad)
    assert PAYLOAD_MARK not in capsys.readouterr().out


@pytest.mark.parametrize(
    "model_pt, message",
    [
        (None, "missing; train first"),
        ("payload", "refused"),
        ("nested", "not a plain state_dict"),
        ("missing_key", "do not fit the bundle's network_def"),
    ],
)
def test_export_refuses_bad_weights(tmp_path, capsys, model_pt, message):
    bundle = copy_bundle("ms_activity_resnext3d", tmp_path)
    weights = bundle / "models" / "model.pt"
    weights.parent.mkdir()  # copy_bundle leaves models/ out
    if model_pt == "payload":
        torch.save({"weight": torch.zeros(2), "extra": Payload()}, weights)
    elif model_pt in ("nested", "missing_key"):
        state = small_network(bundle).state_dict()
        state.pop(next(iter(state)))
        torch.save({"network": state} if model_pt == "nested" else state, weights)
    with pytest.raises(UserError, match=message):
        export_bundle(bundle, tmp_path / "out.zip", spatial_size=SMALL)
    assert not (tmp_path / "out.zip").exists()
    assert PAYLOAD_MARK not in capsys.readouterr().out


def real_inputs(datalist: Path, lengths: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``image [B, 5, 1, *SMALL]`` of preprocessed tiny-cohort visits (a sequence's slots after its length hold other
    visits, as padding may hold anything), ``edss [B, 5, 8]`` of those visits, ``lengths [B]``."""
    from msmonai.data.datalist import load_datalist
    from msmonai.transforms import preprocessing_transforms

    preset = preprocessing_transforms(SMALL)
    visits = [v for item in load_datalist(datalist, "training") for v in item["visits"]]
    slots = [visits[(3 * row + slot) % len(visits)] for row in range(len(lengths)) for slot in range(5)]
    image = torch.stack([preset({"image": v["image"]})["image"].as_tensor() for v in slots]).float()
    edss = torch.tensor([v["edss"] for v in slots], dtype=torch.float32)
    return (image.reshape(len(lengths), 5, 1, *SMALL), edss.reshape(len(lengths), 5, 8),
            torch.tensor(lengths, dtype=torch.int64))


def model_card_example(bundle_folder: Path) -> str:
    """The Python block of the model card's "Running the exports without msmonai"."""
    card = (bundle_folder / "docs" / "README.md").read_text()
    section = card[card.index("## Running the exports without msmonai"):]
    return section[section.index("```python") + len("```python"):section.index("```", section.index("```python") + 3)]


@pytest.mark.parametrize("name", ["ms_activity_resnet3d", "ms_activity_pretrained_resnet2d", "ms_activity_resnext3d"])
def test_every_export_in_the_zip_matches_the_eager_network(tmp_path, name, tiny_datalist):
    import json
    import subprocess
    import sys

    import onnxruntime

    bundle, network = trained_bundle(name, tmp_path)
    network.head.decision_threshold.fill_(0.37)  # a selected model's threshold must travel with every export
    torch.save(network.state_dict(), bundle / "models" / "model.pt")
    zip_path = export_bundle(bundle, tmp_path / "out.zip", spatial_size=SMALL)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(tmp_path / "x")
    received = tmp_path / "x" / name
    scripted = torch.jit.load(received / "models" / "model.ts").eval()
    program = torch.export.load(received / "models" / "model.pt2").module()
    session = onnxruntime.InferenceSession(str(received / "models" / "model.onnx"), providers=["CPUExecutionProvider"])

    for lengths in ([5], [1, 4, 2, 5]):  # batch 1 and 4, 1 to 5 visits
        image, edss, lengths = real_inputs(tiny_datalist, lengths)
        longest = int(lengths.max())
        with torch.no_grad():
            expected = network(image[:, :longest], edss[:, :longest], lengths)
            torch.testing.assert_close(scripted(image[:, :longest], edss[:, :longest], lengths), expected)
            assert (program(image, edss, lengths) - expected).abs().max() <= 1e-5
        onnx_logits = session.run(None, {"image": image.numpy(), "edss": edss.numpy(), "lengths": lengths.numpy()})[0]
        assert (torch.from_numpy(onnx_logits) - expected).abs().max() <= 1e-5

    # the model card's loader runs in the received folder with msmonai unimportable
    code = "import sys; sys.modules['msmonai'] = None\n" + model_card_example(received)
    done = subprocess.run([sys.executable, "-c", code], cwd=received, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    onnx_line, pt2_line, probability_line = done.stdout.strip().splitlines()[-3:]
    onnx_logits, onnx_threshold = onnx_line.removeprefix("onnx ").split(" threshold ")
    pt2_logits, pt2_threshold = pt2_line.removeprefix("pt2 ").split(" threshold ")
    probability = json.loads(probability_line.removeprefix("probability of activity "))
    zeros = torch.zeros(1, 2, 1, *SMALL), torch.zeros(1, 2, 8), torch.tensor([2])
    with torch.no_grad():
        expected = network(*zeros)
    assert torch.tensor(json.loads(onnx_logits)).sub(expected).abs().max() <= 1e-5
    assert torch.tensor(json.loads(pt2_logits)).sub(expected).abs().max() <= 1e-5
    assert float(onnx_threshold) == pytest.approx(0.37) and float(pt2_threshold) == pytest.approx(0.37)
    assert probability == pytest.approx(torch.softmax(expected, 1)[:, 1].tolist(), abs=1e-5)


def test_export_from_a_copied_bundle_with_weights_from_elsewhere(tmp_path, capsys):
    """A receiving site's layout: the bundle folder anywhere, its weights under a training run's --bundle_root."""
    bundle = copy_bundle("ms_activity_resnet3d", tmp_path)
    run = tmp_path / "runs" / "resnet3d" / "models" / "model.pt"
    run.parent.mkdir(parents=True)
    torch.save(small_network(bundle).state_dict(), run)
    assert main(["export-bundle", str(bundle), "--out", str(tmp_path / "out.zip"), "--model", str(run),
                 "--spatial_size", *map(str, SMALL)]) == 0
    assert not (bundle / "models").exists()  # the bundle folder is left as it was
    assert "models/model.ts" in verify_bundle(tmp_path / "out.zip").files
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.read(f"{bundle.name}/models/model.pt") == run.read_bytes()


def test_a_received_zip_runs_from_a_verified_unpacked_copy_and_a_tampered_one_never_unpacks(exported, tmp_path):
    zip_path, name, expected = exported
    with received_bundle(zip_path) as (folder, verification):
        assert folder.name == name and verification.signer is None
        assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == sorted(
            verification.files + ["SHA256SUMS"])
    assert not folder.exists()  # the unpacked copy goes when the run ends

    def inject(files):
        files[f"{name}/configs/inference.json"] = files[f"{name}/configs/inference.json"].replace(
            b'"run": [', b'"run": ["$__import__(\'os\').system(\'touch /tmp/pwned\')", ', 1)
        resum(files, name)
    forged = rewrite_zip(zip_path, tmp_path / "forged.zip", inject)
    with pytest.raises(UserError, match=r"forged.zip: refused, configs/inference.json id 'run#0': uses __import__"):
        with received_bundle(forged):
            pytest.fail("a refused bundle must not be handed out")


def test_trusted_keys_are_for_received_zips_not_for_this_sites_folders(tmp_path):
    with pytest.raises(UserError, match="trusted keys check received bundle zips"):
        with received_bundle(tmp_path, trusted_keys=[tmp_path / "k.pub.pem"]):
            pass
