"""Row 4: latency to predict one patient with 5 visits, from DICOM on disk to the probability of activity: the
minimal path with the network run eagerly, as TorchScript and as the exported ONNX model in ONNX Runtime side by side,
and the ``msmonai predict`` command."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.report import Row
from bench.timing import median, timed
from bench.workspace import Cohort, bundle_workflow
from msmonai.constants import MAX_VISITS

VISITS = MAX_VISITS  # a full visit axis: what the exported graphs take
LATENCY_TARGET_S = 3.0


def patient_with_visits(cohort: Cohort, visits: int = VISITS) -> Path:
    """The first patient folder of the demo cohort with ``visits`` visit folders."""
    for folder in sorted(cohort.dicom.iterdir()):
        if len([v for v in folder.iterdir() if v.is_dir()]) == visits:
            return folder
    raise ValueError(f"{cohort.dicom}: no patient with {visits} visits")


class PatientInput:
    """DICOM folder of one patient -> network inputs of the observation ending at the last visit, as ``msmonai predict``
    ingests them: scan and T1 choice, link to the clinical table, the preprocessing preset on each visit."""

    def __init__(self, cohort: Cohort, folder: Path) -> None:
        from msmonai.data.pseudonym import load_or_create_secret
        from msmonai.transforms import preprocessing_transforms

        self.cohort = cohort
        self.folder = folder
        self.secret = load_or_create_secret(cohort.secret)
        self.preset = preprocessing_transforms()

    def __call__(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``image [1, T, 1, 50, 128, 128]``, ``edss [1, T, 8]``, ``lengths [1]``."""
        from msmonai.bundle_tools.prediction import patient_observations

        items, *_ = patient_observations(self.folder, self.cohort.clinical, self.secret)
        visits = items[-1]["visits"]
        image = torch.stack([self.preset({"image": v["image"]})["image"].as_subclass(torch.Tensor) for v in visits])
        edss = torch.tensor([v["edss"] for v in visits], dtype=torch.float32)
        return image[None], edss[None], torch.tensor([len(visits)])


@torch.inference_mode()
def probability(network, inputs: tuple) -> float:
    """Probability of activity for one observation."""
    return float(torch.softmax(network(*inputs), dim=1)[0, 1])


def onnx_probability(session, inputs: tuple) -> float:
    """The same through ONNX Runtime (``inputs`` hold exactly ``MAX_VISITS`` visits, the exported visit axis)."""
    logits = session.run(None, dict(zip(("image", "edss", "lengths"), (x.numpy() for x in inputs))))[0]
    return float(np.exp(logits[0, 1]) / np.exp(logits[0]).sum())


def onnx_session(network, folder: Path):
    """ONNX Runtime session of ``network`` as ``export-bundle`` writes it (``models/model.onnx``)."""
    import onnxruntime

    from msmonai.bundle_tools.portable_export import export_portable

    export_portable(network, folder / "model.pt2", folder / "model.onnx")
    return onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])


def measure_latency(architecture: str, cohort: Cohort, runs: int = 3) -> Row:
    """Per run: ingestion once, then the eager, the scripted and the ONNX Runtime network on its inputs; latency =
    ingestion + network."""
    network = bundle_workflow(architecture).parser.get_parsed_content("network_def").eval()
    scripted = torch.jit.script(network)
    with tempfile.TemporaryDirectory() as scratch:
        session = onnx_session(network, Path(scratch))
    patient = PatientInput(cohort, patient_with_visits(cohort))
    inputs = patient()
    if inputs[0].shape[1] != VISITS:
        raise ValueError(f"{patient.folder}: {inputs[0].shape[1]} usable visits, expected {VISITS}")
    for _ in range(2):  # warm-up: TorchScript's profiling executor optimises on its first calls
        probability(network, inputs), probability(scripted, inputs), onnx_probability(session, inputs)
    ingest, eager, script, onnx = [], [], [], []
    for _ in range(runs):
        seconds, inputs = timed(patient)
        ingest.append(seconds)
        seconds_eager, p_eager = timed(probability, network, inputs)
        seconds_script, p_script = timed(probability, scripted, inputs)
        seconds_onnx, p_onnx = timed(onnx_probability, session, inputs)
        if max(abs(p_eager - p_script), abs(p_eager - p_onnx)) > 1e-4:
            raise AssertionError(f"{architecture}: TorchScript gives {p_script}, ONNX {p_onnx}, eager {p_eager}")
        eager.append(seconds + seconds_eager)
        script.append(seconds + seconds_script)
        onnx.append(seconds + seconds_onnx)
    target = architecture == "PretrainedResNet2D"
    return Row(
        number=f"4 {architecture}",
        measurement=f"inference latency, 1 patient x {VISITS} visits, {architecture}",
        figure=f"eager {median(eager):.2f} s (ingestion {median(ingest):.2f} s)",
        baseline=f"TorchScript {median(script):.2f} s, ONNX Runtime {median(onnx):.2f} s",
        ratio=median(script) / median(eager),
        ratio_label="TorchScript / eager",
        target=f"<= {LATENCY_TARGET_S:.0f} s" if target else "",
        met=median(eager) <= LATENCY_TARGET_S if target else None,
        runs=f"median of {runs} runs",
        notes=(f"DICOM folder of one demo patient with {VISITS} visits -> scan_dicom + T1 choice + link to the clinical "
               "CSV (msmonai.bundle_tools.prediction.patient_observations) -> preprocessing preset per visit -> "
               "network -> softmax, CPU, torch.inference_mode. The network is built (random weights), scripted and "
               "exported to ONNX (as export-bundle does; ONNX Runtime's CPU provider) once before timing and warmed "
               "up with 2 calls; ingestion is shared by the three arms of a run. Not "
               "included: msmonai predict's workflow set-up, Monte-Carlo dropout and report."),
        values={"ingestion_s": ingest, "eager_s": eager, "torchscript_s": script, "onnxruntime_s": onnx},
    )


def random_checkpoint(path: Path) -> Path:
    """A PretrainedResNet2D state_dict with random weights at ``path`` (latency does not depend on the weights)."""
    from msmonai.networks import PretrainedResNet2D

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(PretrainedResNet2D(pretrained=False).state_dict(), path)
    return path


def measure_predict_command(cohort: Cohort, work: Path, runs: int = 3) -> Row:
    """``msmonai predict`` of the PretrainedResNet2D bundle on the 5-visit patient: its defaults (20 Monte-Carlo
    dropout passes, explanations) against the same call with neither, in turn in each run."""
    from msmonai.bundle_tools.prediction import predict

    from bench.workspace import BUNDLES

    folder = patient_with_visits(cohort)
    checkpoint = random_checkpoint(work / "predict" / "model.pt")

    def command(out: Path, **options) -> float:
        return timed(predict, BUNDLES["PretrainedResNet2D"], folder, cohort.clinical, out, secret_file=cohort.secret,
                     overrides={"ckpt_path": str(checkpoint)}, **options)[0]

    command(work / "predict" / "warm-up", mc_samples=0, explain=False)
    defaults, bare = [], []
    for run in range(runs):
        defaults.append(command(work / "predict" / f"defaults_{run}"))
        bare.append(command(work / "predict" / f"bare_{run}", mc_samples=0, explain=False))
    return Row(
        number="4 predict",
        measurement=f"msmonai predict, 1 patient x {VISITS} visits, PretrainedResNet2D, defaults",
        figure=f"{median(defaults):.2f} s",
        baseline=f"without MC dropout and explanations {median(bare):.2f} s",
        ratio=median(defaults) / median(bare),
        ratio_label="defaults / bare",
        target=f"<= {LATENCY_TARGET_S:.0f} s",
        met=median(defaults) <= LATENCY_TARGET_S,
        runs=f"median of {runs} runs",
        notes=("The command users run (bundle_tools.prediction.predict, in-process): scan, link, preprocessing into "
               "the inference workflow's cache, the workflow (train.json + inference.json) over the patient's "
               f"{VISITS} observations (one ending at each visit), report.json + report.html. Defaults: 20 "
               "Monte-Carlo dropout passes and saliency + ablation explanations; checkpoint with random weights."),
        values={"defaults_s": defaults, "bare_s": bare},
    )
