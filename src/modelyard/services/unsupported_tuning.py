"""What CreateHyperParameterTuningJob refuses until implemented (see ``services/unsupported.py``).

Hyperband and early stopping need intermediate objective values reported while a training job runs and a
scheduler that cuts jobs short on them; modelyard reads only a job's final metrics, so both are refused
rather than silently run as something else.
"""

from __future__ import annotations

from modelyard.services.unsupported import Unsupported, equals

CREATE_TUNING_JOB = (
    Unsupported("HyperParameterTuningJobConfig.Strategy", "Hyperband needs intermediate objective values and "
                "early cuts of training jobs, which modelyard does not do; use Bayesian, Random or Grid",
                equals("Hyperband")),
    Unsupported("HyperParameterTuningJobConfig.StrategyConfig", "only the Hyperband strategy reads it, and "
                "Hyperband is not implemented; remove it"),
    Unsupported("HyperParameterTuningJobConfig.TrainingJobEarlyStoppingType", "early stopping (Auto) needs "
                "intermediate objective values, which modelyard does not collect; use Off", equals("Auto")),
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
