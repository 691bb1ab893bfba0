"""What SageMaker knows about its built-in algorithms' training jobs: their metric definitions.

A training job of the built-in XGBoost algorithm (an XGBoost image given no script) reports
``validation:<metric>`` and ``train:<metric>`` for XGBoost's evaluation metrics without any
``MetricDefinitions`` of its own, read from the per-round lines the algorithm prints::

    [3]#011train-rmse:0.12345#011validation-rmse:0.23456
"""

from __future__ import annotations

import re

from modelyard.jobs.metrics import MetricDefinition

XGBOOST_MAXIMIZED = ("accuracy", "auc", "aucpr", "balanced_accuracy", "f1", "f1_binary", "f1_macro", "map", "ndcg",
                     "precision", "r2", "recall", "precision_macro", "precision_micro", "recall_macro",
                     "recall_micro")
XGBOOST_MINIMIZED = ("aft-nloglik", "cox-nloglik", "error", "gamma-deviance", "gamma-nloglik",
                     "interval-regression-accuracy", "logloss", "mae", "mape", "merror", "mlogloss", "mphe", "mse",
                     "poisson-nloglik", "rmse", "rmsle", "tweedie-nloglik")
CHANNELS = ("validation", "train")
NUMBER = r"([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)"


def xgboost_metric_definitions() -> list[MetricDefinition]:
    """The built-in XGBoost algorithm's metrics (``validation:rmse``, ``train:auc``, ...)."""
    return [MetricDefinition(f"{channel}:{metric}",
                             re.compile(rf"\[[0-9]+\].*#011{channel}-{re.escape(metric)}:{NUMBER}"))
            for channel in CHANNELS for metric in XGBOOST_MAXIMIZED + XGBOOST_MINIMIZED]

