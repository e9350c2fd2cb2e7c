"""DICOM ingestion: archive scanning, series grouping, weighting classification, T1 choice, volume reading."""
