"""Clinical tables, labels, manifests (datalists), folds, pseudonyms and the synthetic demo cohort."""
