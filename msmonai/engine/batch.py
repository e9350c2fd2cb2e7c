"""``prepare_batch`` for MONAI's ignite workflows: moves a collated batch to the device as float32 and, during
training only, applies the paper's augmentation (Gaussian noise on 20 % of active-class visit volumes). For ablations
it can hide one modality: hold each observation's EDSS at its first visit's values, or blank the images."""

from __future__ import annotations

import torch


class SequenceBatch:
    """Turns a ``collate_sequences`` batch into ``(image, label, (edss, lengths), {})`` for the networks.

    Args:
        noise_prob: probability that each visit volume of an active (label 1) observation gets noise;
            0 disables augmentation (evaluation and inference).
        noise_std: standard deviation of the noise on the [0, 255] intensity scale.
        channels_last: use the ``channels_last_3d`` memory format for the image (helps cuDNN on GPUs).
        hold_edss: replace every visit's EDSS by the first visit's (constant per patient: "MRI only").
        blank_images: replace every volume by zeros ("EDSS only").
    """

    def __init__(self, noise_prob: float = 0.0, noise_std: float = 5.0, channels_last: bool = False,
                 hold_edss: bool = False, blank_images: bool = False) -> None:
        self.noise_prob = noise_prob
        self.noise_std = noise_std
        self.channels_last = channels_last
        self.hold_edss = hold_edss
        self.blank_images = blank_images

    def __call__(self, batchdata: dict, device: torch.device | str | None = None, non_blocking: bool = False, **_):
        # the cache's float16 travels to the device (half the transfer) and becomes float32 there
        image = batchdata["image"].to(device=device, non_blocking=non_blocking).float()
        label = batchdata["label"].to(device=device, non_blocking=non_blocking)
        edss = batchdata["edss"].to(device=device, non_blocking=non_blocking)
        lengths = batchdata["length"]  # stays on the CPU: pack_padded_sequence wants CPU lengths
        if self.hold_edss:
            edss = edss[:, :1].expand_as(edss).contiguous()
        if self.blank_images:
            image = torch.zeros_like(image)
        if self.noise_prob > 0:
            image = self.augment(image, label)
        if self.channels_last:
            b, t = image.shape[:2]
            image = image.flatten(0, 1).contiguous(memory_format=torch.channels_last_3d).unflatten(0, (b, t))
        return image, label, (edss, lengths), {}

    def augment(self, image: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """Add N(0, noise_std) to each visit volume of active observations with probability ``noise_prob``.

        ``image`` ``[B, T, 1, D, H, W]`` float; padded visits may receive noise too, which the networks ignore.
        Noise is drawn for the chosen volumes only.
        """
        b, t = image.shape[:2]
        chosen = (torch.rand(b, t, device=image.device) < self.noise_prob) & (label.view(b, 1) == 1)
        if not chosen.any():
            return image
        noise = torch.randn((int(chosen.sum()), *image.shape[2:]), device=image.device) * self.noise_std
        return image.index_put((chosen,), image[chosen] + noise)
