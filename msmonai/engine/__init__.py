"""Glue between datalists, the preprocessing preset, the networks and MONAI/ignite workflows.

Bundle configs instantiate these components by ``_target_``; no logic lives in the configs.
"""

from msmonai.engine.batch import SequenceBatch
from msmonai.engine.datalist import load_datalist, select_fold
from msmonai.engine.dataset import VisitSequenceDataset, VisitVolumes, collate_sequences
from msmonai.engine.features import FeatureBatch, FeatureClassifier, VisitFeatureDataset, collate_features
from msmonai.engine.handlers import BestCheckpoint, EpochSeeder, LastCheckpoint, PredictionWriter, load_checkpoint, loss_value, predicted_and_true
from msmonai.engine.mc_dropout import mc_dropout_probabilities

__all__ = [
    "BestCheckpoint",
    "EpochSeeder",
    "FeatureBatch",
    "FeatureClassifier",
    "LastCheckpoint",
    "PredictionWriter",
    "SequenceBatch",
    "VisitFeatureDataset",
    "VisitSequenceDataset",
    "VisitVolumes",
    "collate_features",
    "collate_sequences",
    "load_checkpoint",
    "load_datalist",
    "loss_value",
    "mc_dropout_probabilities",
    "predicted_and_true",
    "select_fold",
]
