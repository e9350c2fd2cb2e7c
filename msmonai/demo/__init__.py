"""Synthetic demo cohort: a head phantom with evolving T1-hypointense lesions, written as DICOM + clinical CSV.

Synthetic data for demonstrating and testing the pipeline, never for clinical claims.
"""
