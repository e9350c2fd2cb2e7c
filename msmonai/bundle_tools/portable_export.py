"""``models/model.pt2`` (``torch.export``) and ``models/model.onnx`` beside the TorchScript, for runtimes without
``msmonai`` (TorchScript is deprecated from torch 2.9 on). Both take the visit axis padded to ``MAX_VISITS`` and a
dynamic batch (:class:`msmonai.networks.AllVisitSlots`), and each is checked against the eager network when written.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path
from typing import Iterator, Sequence

import torch

from msmonai.constants import MAX_VISITS
from msmonai.errors import UserError
from msmonai.networks import AllVisitSlots, VisitSequenceNetwork

TOLERANCE = 1e-5
"""Largest absolute logit difference accepted between an export and the eager network."""
CHECK_LENGTHS = ([4], [3, 5, 1, 2])
"""The batches every export is checked on: batch 1 and batch 4, 1 to 5 visits between them."""
INPUT_NAMES = ["image", "edss", "lengths"]
OUTPUT_NAMES = ["logits"]


def export_portable(network: VisitSequenceNetwork, pt2: Path, onnx_file: Path) -> dict[str, float]:
    """Write the eval-mode ``network`` to ``pt2`` and ``onnx_file``; return each one's largest logit difference from
    the eager network on :data:`CHECK_LENGTHS` (random volumes in the preset's 0-255 range, random EDSS).

    The decision threshold the model was selected with travels in both files: the ``decision_threshold`` entry of the
    ``.pt2``'s extra files and of the ONNX model's metadata.

    Raises:
        UserError: an export differs from the eager network by more than :data:`TOLERANCE`.
    """
    network = network.eval()
    cases = [_random_inputs(network, lengths, seed) for seed, lengths in enumerate(CHECK_LENGTHS)]
    with torch.no_grad(), _exporters_quiet():
        _write(network, cases[1], pt2, onnx_file)
        differences = _differences(network, cases, pt2, onnx_file)
    for name, difference in differences.items():
        if not difference <= TOLERANCE:
            raise UserError(f"{pt2 if name == 'pt2' else onnx_file}: the {name} export differs from the eager network "
                            f"by {difference:.2g} in the logits (tolerance {TOLERANCE:g}); not shared")
    return differences


def _write(network: VisitSequenceNetwork, example: tuple[torch.Tensor, ...], pt2: Path, onnx_file: Path) -> None:
    """Trace :class:`AllVisitSlots` of ``network`` on ``example`` with a dynamic batch and write both files."""
    portable = AllVisitSlots(network).eval()
    threshold = f"{float(network.head.decision_threshold):.6g}"
    batch = torch.export.Dim("batch", min=1, max=4096)
    dynamic = ({0: batch}, {0: batch}, {0: batch})
    torch.export.save(torch.export.export(portable, example, dynamic_shapes=dynamic), pt2,
                      extra_files={"decision_threshold": threshold})
    onnx_program = torch.onnx.export(portable, example, dynamo=True, dynamic_shapes=dynamic,
                                     input_names=INPUT_NAMES, output_names=OUTPUT_NAMES, verbose=False)
    onnx_program.model.metadata_props["decision_threshold"] = threshold
    onnx_program.save(str(onnx_file))


def _differences(network: VisitSequenceNetwork, cases: list[tuple[torch.Tensor, ...]], pt2: Path,
                 onnx_file: Path) -> dict[str, float]:
    """Largest absolute logit difference of the written ``pt2`` and ``onnx_file`` (run by ONNX Runtime) from the
    eager ``network``, which sees only each batch's real visits, over ``cases``."""
    import onnxruntime

    program = torch.export.load(pt2).module()
    session = onnxruntime.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    differences = {"pt2": 0.0, "onnx": 0.0}
    for image, edss, lengths in cases:
        longest = int(lengths.max())
        eager = network(image[:, :longest], edss[:, :longest], lengths)
        onnx_logits = session.run(None, dict(zip(INPUT_NAMES, (image.numpy(), edss.numpy(), lengths.numpy()))))[0]
        differences["pt2"] = max(differences["pt2"], float((program(image, edss, lengths) - eager).abs().max()))
        differences["onnx"] = max(differences["onnx"], float((torch.from_numpy(onnx_logits) - eager).abs().max()))
    return differences


def _random_inputs(network: VisitSequenceNetwork, lengths: Sequence[int], seed: int) -> tuple[torch.Tensor, ...]:
    """``image [B, MAX_VISITS, C, D, H, W]`` uniform in 0-255, ``edss [B, MAX_VISITS, E]`` in [0, 1),
    ``lengths [B]``."""
    generator = torch.Generator().manual_seed(seed)
    batch = len(lengths)
    image = torch.rand(batch, MAX_VISITS, network.in_channels, *network.spatial_size, generator=generator) * 255
    edss = torch.rand(batch, MAX_VISITS, network.edss_dim, generator=generator)
    return image, edss, torch.tensor(lengths, dtype=torch.int64)


@contextlib.contextmanager
def _exporters_quiet() -> Iterator[None]:
    """Silence the exporters' progress prints, deprecation warnings and notes about optional packages (torchvision's
    operators), which say nothing about the bundle; a failure still raises."""
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        onnx_log.setLevel(level)
