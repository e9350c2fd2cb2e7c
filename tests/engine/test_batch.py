"""SequenceBatch's ablations: EDSS held at the first visit's values, images blanked; the rest untouched."""

import torch

from msmonai.engine import SequenceBatch


def batch() -> dict:
    torch.manual_seed(0)
    return {"image": torch.rand(2, 3, 1, 2, 4, 4).half(), "edss": torch.rand(2, 3, 8), "length": torch.tensor([3, 2]),
            "label": torch.tensor([1, 0])}


def test_hold_edss_repeats_the_first_visit_and_keeps_the_images():
    data = batch()
    image, label, (edss, lengths), _ = SequenceBatch(hold_edss=True)(data, "cpu")
    assert torch.equal(edss, data["edss"][:, :1].expand(2, 3, 8))
    assert torch.equal(image, data["image"].float()) and torch.equal(label, data["label"])
    assert torch.equal(lengths, data["length"])


def test_blank_images_zeroes_every_volume_and_keeps_the_edss():
    data = batch()
    image, _, (edss, _), _ = SequenceBatch(blank_images=True)(data, "cpu")
    assert image.shape == data["image"].shape and image.dtype == torch.float32 and not image.any()
    assert torch.equal(edss, data["edss"])
