"""Tools around packaged bundles: export, verification, cross-validation and prediction runs."""
