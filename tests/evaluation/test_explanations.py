"""The report's modality explanation: what blanking each input does to the probability, said with its sign in words."""

import pytest
import torch

from msmonai.evaluation.explanations import modality_contributions, modality_sentence
from msmonai.networks import ResNet3D


def test_contributions_are_the_probability_minus_the_one_with_that_input_blanked():
    torch.manual_seed(0)
    network = ResNet3D(spatial_size=(4, 16, 16), channels=(4, 8), strides=(1, 2), blocks_per_stage=(1, 1)).eval()
    image, edss = torch.rand(1, 2, 1, 4, 16, 16) * 255, torch.rand(1, 2, 8) * 4
    out = modality_contributions(network, image, edss, torch.tensor([2]))
    assert out["probability"] == pytest.approx(float(torch.softmax(network(image, edss, torch.tensor([2])), 1)[0, 1]))
    assert out["mri_contribution"] == pytest.approx(out["probability"] - out["without_mri"])
    assert out["edss_contribution"] == pytest.approx(out["probability"] - out["without_edss"])


def test_the_sentence_says_lower_for_an_input_that_lowers_the_estimate():
    sentence = modality_sentence({"probability": 0.1, "without_mri": 0.848, "without_edss": 0.1,
                                  "mri_contribution": -0.748, "edss_contribution": 0.0})
    assert sentence == ("Probability of activity 0.100: the MRI volumes lower it by 0.748 (0.848 with them blanked); "
                        "the EDSS subscores do not change it (0.100 with them blanked).")
    assert "the MRI volumes raise it by 0.200" in modality_sentence(
        {"probability": 0.5, "without_mri": 0.3, "without_edss": 0.5, "mri_contribution": 0.2, "edss_contribution": 0.0})
