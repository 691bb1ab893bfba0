"""Every log group name modelyard writes or reads, in one place.

    /aws/sagemaker/Endpoints/<endpoint>   an endpoint's instances (stream per instance), as SageMaker
    /modelyard/Endpoints/<endpoint>       modelyard's own deployment steps (stream per variant)
    /aws/sagemaker/TrainingJobs           streams <job>/algo-1-<epoch>
    /aws/sagemaker/ProcessingJobs         streams <job>/algo-1-<epoch>
    /aws/sagemaker/TransformJobs          streams <job>/<instance>, and .../data-log
"""

from __future__ import annotations

TRAINING_JOBS = "/aws/sagemaker/TrainingJobs"
PROCESSING_JOBS = "/aws/sagemaker/ProcessingJobs"
TRANSFORM_JOBS = "/aws/sagemaker/TransformJobs"
MODELYARD_PREFIX = "/modelyard/"
"""Groups under this prefix hold modelyard's own messages, not a container's output."""

JOB_GROUPS = {"training": TRAINING_JOBS, "processing": PROCESSING_JOBS, "transform": TRANSFORM_JOBS}
"""The group of each job family, by the family's short name."""


def endpoint_group(endpoint: str) -> str:
    """The group of an endpoint's instance output."""
    return f"/aws/sagemaker/Endpoints/{endpoint}"


def deployment_group(endpoint: str) -> str:
    """The group of modelyard's deployment log of an endpoint."""
    return f"{MODELYARD_PREFIX}Endpoints/{endpoint}"


MODEL_SNAPSHOT_SUFFIX = "/models"
"""In an endpoint's deployment group, the stream ``<variant>/<instance>/models`` of a multi-model
instance holds snapshots of its loaded models, each a line ``MODEL_SNAPSHOT_MARK`` + JSON."""
MODEL_SNAPSHOT_MARK = "modelyard-models: "
