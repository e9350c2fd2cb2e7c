"""Defaults shared by every layer below the command line; each is written here once."""

DEFAULT_SPATIAL_SIZE = (50, 128, 128)  # (D, H, W) of one preprocessed visit volume (paper section 2.3)
INTENSITY_RANGE = (0.0, 255.0)  # every scan is scaled to this range (paper section 2.3)
EDSS_DIM = 8  # EDSS functional subscores per visit
DEFAULT_THRESHOLD = 0.5  # decision threshold of a network never validated
DEMO_PATIENTS = 40  # size of the synthetic demo cohort (the paper had 28 patients; 40 keep 5 folds informative)
