"""Prediction from a PACS: the patient's MR studies found and retrieved over DICOMweb (headers first, then only the
T1 series the visits use), the same ``predict`` as for a folder, the DICOM SR stored back into the patient's record."""
