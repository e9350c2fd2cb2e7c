"""Evaluation: metrics, intervals, calibration, uncertainty, explanations, reports."""
