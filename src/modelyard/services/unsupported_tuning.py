"""What CreateHyperParameterTuningJob refuses until implemented (see ``services/unsupported.py``).

"""

from __future__ import annotations

from modelyard.services.unsupported import Unsupported

CREATE_TUNING_JOB = (
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
