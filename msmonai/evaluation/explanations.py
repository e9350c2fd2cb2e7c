"""Explanations of one prediction: a saliency map of a visit's volume and the MRI vs EDSS contribution.

The saliency is MONAI's ``VanillaGrad`` (gradient of the activity logit with respect to the voxels) times the
input, on one visit of the sequence with the other visits and the EDSS held fixed. The modality contribution is
an ablation: the drop in probability when every visit's image (or EDSS vector) is replaced by zeros.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from monai.visualize import VanillaGrad
from torch import nn


class _OneVisitModel(nn.Module):
    """The sequence network seen as a function of one visit's volume ``[N, 1, D, H, W]`` -> logits ``[N, 2]``."""

    def __init__(self, network: nn.Module, image: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor, visit: int):
        super().__init__()
        self.network, self.image, self.edss, self.lengths, self.visit = network, image, edss, lengths, visit

    def forward(self, volume: torch.Tensor) -> torch.Tensor:
        image = self.image.expand(volume.shape[0], *self.image.shape[1:]).clone()
        image[:, self.visit] = volume
        n = volume.shape[0]
        return self.network(image, self.edss.expand(n, *self.edss.shape[1:]), self.lengths.expand(n))


def visit_saliency(network: nn.Module, image: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor,
                   visit: int = -1) -> np.ndarray:
    """|gradient x input| of the activity logit for one visit -> ``[D, H, W]``.

    Args:
        network: a sequence network in eval mode.
        image: ``[1, T, 1, D, H, W]``; edss ``[1, T, 8]``; lengths ``[1]``.
        visit: index of the visit to explain (default: the last real one).
    """
    visit = int(lengths[0]) - 1 if visit == -1 else visit
    model = _OneVisitModel(network, image, edss, lengths, visit)
    volume = image[:, visit]
    gradient = VanillaGrad(model)(volume, index=1)
    return (gradient * volume).abs()[0, 0].detach().cpu().numpy()


@torch.no_grad()
def modality_contributions(network: nn.Module, image: torch.Tensor, edss: torch.Tensor, lengths: torch.Tensor) -> dict:
    """Probability with all inputs, without the MRI (zeros), without the EDSS (zeros), and the two drops."""

    def probability(img: torch.Tensor, scores: torch.Tensor) -> float:
        return float(torch.softmax(network(img, scores, lengths), dim=1)[0, 1])

    full = probability(image, edss)
    no_mri = probability(torch.zeros_like(image), edss)
    no_edss = probability(image, torch.zeros_like(edss))
    return {"probability": full, "without_mri": no_mri, "without_edss": no_edss,
            "mri_contribution": full - no_mri, "edss_contribution": full - no_edss}


def modality_sentence(contributions: dict) -> str:
    """One plain sentence of :func:`modality_contributions`: how each input moves the probability, with its sign said
    in words (a negative contribution is an input that lowers the estimate, not a "negative drop")."""

    def effect(name: str, key: str, without: str) -> str:
        change = contributions[key]
        moves = f"{'raise' if change > 0 else 'lower'} it by {abs(change):.3f}" if change else "do not change it"
        return f"the {name} {moves} ({contributions['without_' + without]:.3f} with them blanked)"

    return (f"Probability of activity {contributions['probability']:.3f}: "
            f"{effect('MRI volumes', 'mri_contribution', 'mri')}; {effect('EDSS subscores', 'edss_contribution', 'edss')}.")


def saliency_montage(volume: np.ndarray, saliency: np.ndarray, n_slices: int = 6, title: str = "") -> bytes:
    """PNG of the ``n_slices`` axial slices with the most saliency, the map overlaid on the T1 slice.

    ``volume`` and ``saliency`` ``[D, H, W]``; slices holding only zero padding are never chosen.
    """
    from msmonai.evaluation.figures import new_figure

    real = np.flatnonzero(volume.reshape(volume.shape[0], -1).any(axis=1))
    weight = saliency.reshape(saliency.shape[0], -1).sum(axis=1)[real]
    chosen = np.sort(real[np.argsort(weight)[::-1][:n_slices]])
    fig = new_figure(2.2 * len(chosen), 2.6)
    peak = float(saliency.max()) or 1.0
    for i, z in enumerate(chosen):
        ax = fig.add_subplot(1, len(chosen), i + 1)
        ax.imshow(volume[z], cmap="gray", vmin=0, vmax=255)
        ax.imshow(saliency[z], cmap="inferno", alpha=0.5, vmin=0, vmax=peak)
        ax.set_title(f"slice {z}", fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()
