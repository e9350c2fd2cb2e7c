"""Glue between datalists, the preprocessing preset, the networks and MONAI/ignite workflows.

Bundle configs instantiate these components by ``_target_``; no logic lives in the configs.
"""

from msmonai.data.datalist import load_datalist, select_fold
from msmonai.engine.batch import SequenceBatch
from msmonai.engine.batchnorm import BatchNormRecalibration, recalibrate_batchnorm
from msmonai.engine.class_weights import balanced_class_weights
from msmonai.engine.distributed import every_rank_handlers
from msmonai.engine.dataset import VisitSequenceDataset, VisitVolumes, collate_sequences
from msmonai.engine.features import FeatureBatch, FeatureClassifier, VisitFeatureDataset, collate_features
from msmonai.engine.checkpoints import BestCheckpoint, LastCheckpoint, TrainedWeights, load_checkpoint
from msmonai.engine.mc_dropout import mc_dropout_probabilities
from msmonai.engine.outputs import loss_value
from msmonai.engine.prediction_writer import PredictionWriter
from msmonai.engine.seeding import EpochSeeder
from msmonai.engine.selection import EarlyStopping, ValidationAUC, ValidationThreshold, decision_threshold, later_epoch_wins

__all__ = [
    "BatchNormRecalibration",
    "BestCheckpoint",
    "EarlyStopping",
    "EpochSeeder",
    "FeatureBatch",
    "FeatureClassifier",
    "LastCheckpoint",
    "PredictionWriter",
    "SequenceBatch",
    "TrainedWeights",
    "ValidationAUC",
    "ValidationThreshold",
    "VisitFeatureDataset",
    "VisitSequenceDataset",
    "VisitVolumes",
    "balanced_class_weights",
    "collate_features",
    "collate_sequences",
    "decision_threshold",
    "every_rank_handlers",
    "load_checkpoint",
    "later_epoch_wins",
    "load_datalist",
    "loss_value",
    "mc_dropout_probabilities",
    "recalibrate_batchnorm",
    "select_fold",
]
