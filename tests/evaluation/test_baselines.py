"""The baselines: histograms leave out zero padding, each baseline sees only its own inputs, the image histogram and
change evidence baselines find a planted signal that the EDSS baseline cannot see."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import torch

from msmonai.evaluation.baselines import (
    BASELINES,
    HISTOGRAM_BINS,
    baseline_probabilities,
    change_features,
    edss_features,
    intensity_histogram,
)
from msmonai.networks.sequence_head import change_evidence


def test_histogram_leaves_out_zero_and_sums_to_one():
    volume = np.zeros((1, 4, 8, 8))
    volume[0, 1] = 200.0
    volume[0, 2, :4] = 10.0
    h = intensity_histogram(volume)
    assert h.shape == (HISTOGRAM_BINS,) and h.sum() == pytest.approx(1.0)
    assert h[int(200 // (255 / HISTOGRAM_BINS))] == pytest.approx(64 / 96)
    assert intensity_histogram(np.zeros((1, 2, 2, 2))).sum() == 0


def planted_cohort(n_patients: int, rng: np.random.Generator):
    """Observations of two visits whose last volume holds a dark patch exactly when active; EDSS is noise. Returns the
    items, ``histogram_of`` and ``evidence_of`` (the change evidence of the visits' difference in noise units)."""
    volumes, items = {}, []
    for p in range(n_patients):
        visits = []
        for v in range(2):
            label = int(rng.random() < 0.4) if v == 1 else 0
            volume = rng.normal(150, 20, size=(1, 6, 16, 16)).clip(1, 255)
            if label:
                volume[0, 2:4, 4:10, 4:10] = 40.0
            volumes[f"p{p}v{v}"] = volume
            visits.append({"image": [f"p{p}v{v}"], "edss": rng.random(8).tolist()})
        items.append({"patient": f"P{p}", "label": label, "visits": visits})
    def evidence_of(previous, files):
        if previous is None:
            return change_evidence(torch.zeros(1, 6, 16, 16)).numpy()[0]
        change = (volumes[files[0]] - volumes[previous[0]]) / 20.0
        return change_evidence(torch.from_numpy(change).float()).numpy()[0]

    return items, lambda files: intensity_histogram(volumes[files[0]]), evidence_of


def test_image_baselines_find_a_planted_signal_and_edss_does_not():
    items, histogram_of, evidence_of = planted_cohort(60, np.random.default_rng(0))
    train, test = items[:40], items[40:]
    labels = [it["label"] for it in test]
    probabilities = baseline_probabilities(train, test, histogram_of, evidence_of)
    assert list(probabilities) == list(BASELINES)
    assert all(len(p) == len(test) for p in probabilities.values())
    assert not probabilities["always remission"].any()
    assert roc_auc_score(labels, probabilities["image histogram logistic regression"]) > 0.95
    assert roc_auc_score(labels, probabilities["change evidence logistic regression"]) > 0.95
    assert roc_auc_score(labels, probabilities["EDSS logistic regression"]) < 0.8


def test_edss_features_are_the_last_visit_and_its_change():
    item = {"visits": [{"edss": [0.1] * 8}, {"edss": [0.3] * 8}]}
    single = {"visits": [{"edss": [0.5] * 8}]}
    features = edss_features([item, single])
    assert features.shape == (2, 16)
    assert np.allclose(features[0], [0.3] * 8 + [0.2] * 8) and np.allclose(features[1], [0.5] * 8 + [0.0] * 8)


def test_change_features_are_the_last_visits_evidence_and_a_first_visit_has_none():
    calls = []

    def evidence_of(previous, files):
        calls.append((previous, files))
        return np.array([2.0, 1.0]) if previous else np.zeros(2)

    items = [{"visits": [{"image": ["a"]}, {"image": ["b"]}, {"image": ["c"]}]}, {"visits": [{"image": ["d"]}]}]
    assert np.array_equal(change_features(items, evidence_of), [[2.0, 1.0], [0.0, 0.0]])
    assert calls == [(["b"], ["c"]), (None, ["d"])]
