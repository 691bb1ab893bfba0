"""What CreateHyperParameterTuningJob refuses until implemented (see ``services/unsupported.py``).

Hyperband needs a resource schedule (epochs per bracket) that cuts training jobs short and resumes the
promising ones; modelyard does not implement it, so it is refused rather than silently run as something else.
"""

from __future__ import annotations

from modelyard.services.unsupported import Unsupported, equals

CREATE_TUNING_JOB = (
    Unsupported("HyperParameterTuningJobConfig.Strategy", "Hyperband needs intermediate objective values and "
                "early cuts of training jobs, which modelyard does not do; use Bayesian, Random or Grid",
                equals("Hyperband")),
    Unsupported("HyperParameterTuningJobConfig.StrategyConfig", "only the Hyperband strategy reads it, and "
                "Hyperband is not implemented; remove it"),
    Unsupported("HyperParameterTuningJobConfig.TuningJobCompletionCriteria.BestObjectiveNotImproving",
                "only TargetObjectiveMetricValue is implemented; remove it"),
    Unsupported("HyperParameterTuningJobConfig.TuningJobCompletionCriteria.ConvergenceDetected",
                "only TargetObjectiveMetricValue is implemented; remove it"),
    Unsupported("TrainingJobDefinitions", "one tuning job tunes one training job definition here; give "
                "TrainingJobDefinition"),
    Unsupported("Autotune", "Autotune is not implemented; give the ranges in ParameterRanges"),
    Unsupported("TrainingJobDefinition.HyperParameterTuningResourceConfig.InstanceConfigs", "training jobs run on "
                "one instance type here; give one InstanceConfig, or InstanceType and InstanceCount",
                lambda value: isinstance(value, list) and len(value) > 1),
)
