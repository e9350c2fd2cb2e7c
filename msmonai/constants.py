"""Defaults shared by every layer below the command line; each is written here once."""

DEFAULT_SPATIAL_SIZE = (50, 128, 128)  # (D, H, W) of one preprocessed visit volume (paper section 2.3)
INTENSITY_RANGE = (0.0, 255.0)  # every scan is scaled to this range (paper section 2.3)
EDSS_DIM = 8  # EDSS functional subscores per visit
DEFAULT_THRESHOLD = 0.5  # decision threshold of a network never validated
DEFAULT_MC_SAMPLES = 20  # Monte-Carlo dropout passes behind a prediction's uncertainty
MAX_VISITS = 5  # most recent visits per observation (paper: up to 5 yearly visits); exported graphs take this many
HORIZON_DAYS = 365  # activity is predicted this far after the last visit
LINK_TOLERANCE_DAYS = 60  # a clinical visit links to a DICOM study this close in time, and the horizon is +- this
DEFAULT_FOLDS = 5  # patient-grouped cross-validation folds of a manifest
DEMO_PATIENTS = 40  # size of the synthetic demo cohort (the paper had 28 patients; 40 keep 5 folds informative)
