"""msmonai: one-year multiple-sclerosis activity prediction from longitudinal T1 MRI + EDSS, built on MONAI."""

__version__ = "0.1.0"
