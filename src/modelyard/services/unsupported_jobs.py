"""What CreateTrainingJob, CreateProcessingJob and CreateTransformJob refuse until implemented.

The sagemaker SDK's ``Estimator.fit`` sends ``DebugHookConfig`` (an S3 path and no collections) and
``ProfilerConfig`` (an S3 path, ``DisableProfiler`` false) by default; those stay accepted and are only
recorded - modelyard writes no debugger or profiler output. Asking for more (collections, hook or profiling
parameters, rules) is refused. Members left out of these tables are acted on, or recorded because they change
nothing observable here (roles, tags, KMS key ids, instance types and volume sizes, ExperimentConfig,
EnableManagedSpotTraining and MaxWaitTimeInSeconds - a spot job simply runs and is never interrupted -,
EnableInterContainerTrafficEncryption - the hosts of a multi-instance job talk over a bridge inside this
machine's kernel, never over a wire; on a Ray cluster it is refused for multi-host jobs
(``instance_capacity``) -, SessionChainingConfig, shuffling). S3DataDistributionType is acted on.
"""

from __future__ import annotations

from modelyard.services.unsupported import Unsupported, enabled, equals

_VPC = ("modelyard has no VPCs: job containers use the host's network, or none with EnableNetworkIsolation; "
        "remove VpcConfig")
_PRIVATE_IMAGES = ("images are resolved by modelyard's image catalogue, not pulled from a private registry; "
                   "remove it (register your own image with `modelyard images register`)")

CREATE_TRAINING_JOB = (
    Unsupported("AlgorithmSpecification.TrainingImageConfig", _PRIVATE_IMAGES,
                lambda value: value.get("TrainingRepositoryAccessMode") == "Vpc"
                or "TrainingRepositoryAuthConfig" in value),
    Unsupported("InputDataConfig[].DataSource.S3DataSource.AttributeNames", "augmented manifests are not "
                "implemented; use S3Prefix or ManifestFile"),
    Unsupported("InputDataConfig[].DataSource.S3DataSource.InstanceGroupNames", "there are no instance groups; "
                "remove it"),
    Unsupported("InputDataConfig[].DataSource.S3DataSource.HubAccessConfig", "there is no SageMaker hub; give "
                "the data's S3Uri"),
    Unsupported("OutputDataConfig.CompressionType", "the model is always uploaded as model.tar.gz; use GZIP or "
                "omit CompressionType", equals("NONE")),
    Unsupported("ResourceConfig.KeepAlivePeriodInSeconds", "warm pools are not implemented; remove it",
                lambda value: value > 0),
    Unsupported("ResourceConfig.TrainingPlanArn", "there are no training plans; remove it"),
    Unsupported("ResourceConfig.InstancePlacementConfig", "jobs run on one local instance; remove it"),
    Unsupported("ResourceConfig.InstancePreferences", "give one InstanceType and an InstanceCount"),
    Unsupported("VpcConfig", _VPC),
    Unsupported("CheckpointConfig", "checkpoints are not synced to or restored from S3 yet; remove it (write what "
                "you need to /opt/ml/model or /opt/ml/output/data, which are uploaded)"),
    Unsupported("DebugHookConfig.HookParameters", "SageMaker Debugger is not implemented: no tensors are saved; "
                "remove it (or pass debugger_hook_config=False to the SDK)"),
    Unsupported("DebugHookConfig.CollectionConfigurations", "SageMaker Debugger is not implemented: no tensors "
                "are saved; remove it (or pass debugger_hook_config=False to the SDK)"),
    Unsupported("DebugRuleConfigurations", "Debugger rules are not evaluated; remove them"),
    Unsupported("TensorBoardOutputConfig", "TensorBoard output is not uploaded; remove it (write event files "
                "under /opt/ml/output/data to get them in output.tar.gz)"),
    Unsupported("ProfilerConfig.ProfilingIntervalInMilliseconds", "the profiler is not implemented; remove it "
                "(or pass disable_profiler=True to the SDK)"),
    Unsupported("ProfilerConfig.ProfilingParameters", "the profiler is not implemented; remove it (or pass "
                "disable_profiler=True to the SDK)"),
    Unsupported("ProfilerRuleConfigurations", "profiler rules are not evaluated; remove them"),
    Unsupported("RetryStrategy", "failed jobs are not retried; remove RetryStrategy and start a new job instead"),
    Unsupported("RemoteDebugConfig.EnableRemoteDebug", "there is no remote debugging; read the job's log stream",
                enabled),
    Unsupported("InfraCheckConfig.EnableInfraCheck", "there are no cluster health checks; remove it", enabled),
    Unsupported("ServerlessJobConfig", "serverless model customization jobs are not implemented; give "
                "AlgorithmSpecification.TrainingImage"),
    Unsupported("MlflowConfig", "there is no MLflow tracking server; remove it"),
    Unsupported("ModelPackageConfig", "trained models are not registered automatically; call "
                "CreateModelPackage after the job completes"),
)

CREATE_PROCESSING_JOB = (
    Unsupported("ProcessingInputs[].AppManaged", "modelyard always stages inputs itself; remove it", enabled),
    Unsupported("ProcessingOutputConfig.Outputs[].AppManaged", "modelyard always uploads outputs itself; "
                "remove it", enabled),
    Unsupported("ProcessingOutputConfig.Outputs[].S3Output.S3UploadMode", "outputs are uploaded once, after the "
                "job succeeds; use EndOfJob", equals("Continuous")),
    Unsupported("ProcessingResources.ClusterConfig.InstancePreferences", "give one InstanceType and an "
                "InstanceCount"),
    Unsupported("NetworkConfig.VpcConfig", _VPC),
)

CREATE_TRANSFORM_JOB = (
    Unsupported("DataCaptureConfig", "batch data capture is not implemented; remove DataCaptureConfig (the "
                "outputs are in TransformOutput.S3OutputPath; DataProcessing.JoinSource Input joins the inputs)"),
)
