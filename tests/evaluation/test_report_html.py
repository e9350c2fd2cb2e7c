"""The per-patient HTML report: self-contained, escaped, graceful without optional parts, and it renders."""

import re
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

from msmonai.evaluation import render_report_html
from msmonai.evaluation.figures import plot_roc
from msmonai.evaluation.report_html import NOTICE

REPORT = {
    "patient_key": "P-0123456789abcdef",
    "model": {"name": "ms_activity_pretrained_resnet2d", "version": "0.1.0"},
    "prediction": {"probability_active": 0.73, "uncertainty": 0.08, "threshold": 0.5, "prediction": 1, "last_visit_date": "2021-05-01"},
    "visits": [
        {"date": "2019-05-01", "probability_active": 0.31, "uncertainty": 0.1, "edss": {"edss_visual": 1, "edss_pyramidal": 2}},
        {"date": "2020-05-01", "probability_active": 0.52, "uncertainty": 0.05, "edss": {"edss_visual": 1, "edss_pyramidal": 3}},
        {"date": "2021-05-01", "probability_active": 0.73, "uncertainty": 0.08, "edss": {"edss_visual": 2, "edss_pyramidal": 3.5}},
    ],
    "validated_performance": {"roc_auc": {"value": 0.81, "low": 0.7, "high": 0.9},
                              "pr_auc": {"value": 0.6, "low": 0.45, "high": 0.75},
                              "f1": {"value": 0.8, "low": 0.52, "high": 0.95},
                              "n_observations": 103, "n_patients": 40, "folds": 5, "seed": 0},
    "in_training_data": False,
    "generated_at": "2026-01-01T10:00:00Z",
    "notes": ["visit of 2018-05-01 skipped: no T1 series"],
}


@pytest.fixture
def explanation_png(tmp_path):
    return plot_roc([0, 1, 0, 1], [0.2, 0.7, 0.4, 0.9], tmp_path / "map.png", "stand-in explanation").read_bytes()


def test_self_contained_and_complete(explanation_png):
    page = render_report_html(REPORT, {"occlusion, visit 2021-05-01": explanation_png})
    assert NOTICE in page
    assert "P-0123456789abcdef" in page and "ms_activity_pretrained_resnet2d" in page and "0.1.0" in page
    assert "73 %" in page and "0.73 ± 0.08" in page
    assert page.count("<tr>") == 1 + 3 + 1 + 3  # EDSS header + 3 visits, performance header + 3 metrics
    assert "0.81" in page and "0.70–0.90" in page and "103 observations of 40 patients" in page
    assert "not a fair test" not in page
    assert "data:image/png;base64," in page
    assert not re.search(r"<script|<link|@import|(src|href)=\"(?!data:)", page)


def test_every_text_is_escaped():
    hostile = "<img src=x onerror=alert(1)>"
    report = {**REPORT, "patient_key": hostile, "notes": [hostile], "model": {"name": hostile, "version": "1"}}
    page = render_report_html(report, {hostile: b"\x89PNG\r\n\x1a\nrest"})
    assert hostile not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_minimal_report_renders_gracefully():
    page = render_report_html({"patient_key": "P-0000000000000001"}, {})
    for placeholder in ("No prediction available", "No per-visit risk", "No EDSS subscores", "No explanation images", "carries no validated performance"):
        assert placeholder in page


def test_a_patient_the_model_was_trained_on_is_flagged():
    page = render_report_html({**REPORT, "in_training_data": True}, {})
    assert "was among the patients this model was trained or validated on" in page and "not a fair test" in page


def test_rejects_images_that_are_not_png_or_jpeg():
    with pytest.raises(ValueError, match="PNG or JPEG"):
        render_report_html(REPORT, {"x": b"GIF89a..."})


def test_screenshot_in_headless_chromium_is_not_blank(tmp_path, explanation_png):
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium); cannot render the report headless")
    page = tmp_path / "report.html"
    page.write_text(render_report_html(REPORT, {"explanation": explanation_png}), encoding="utf-8")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri()],
        check=True, capture_output=True, timeout=120,
    )
    pixels = matplotlib.image.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[2]), axis=0)) > 200
    # the red notice banner is drawn at the top
    top = pixels[5:40, :, :3].reshape(-1, 3)
    assert ((top[:, 0] > 0.6) & (top[:, 1] < 0.3) & (top[:, 2] < 0.3)).mean() > 0.5
