"""What CreateModel, CreateEndpointConfig, CreateEndpoint and the endpoint updates refuse until implemented.

Members left out of these tables are either acted on, or recorded only because they change nothing a
SageMaker user could observe here (names, tags, roles, KMS key ids, instance types and volume sizes,
which are recorded and not emulated, ``InferenceAmiVersion``).
"""

from __future__ import annotations

from modelyard.services.unsupported import Activity, Unsupported, enabled, other_than, present, with_any

_VPC = ("modelyard has no VPCs: containers use the host's network, or none with EnableNetworkIsolation on the "
        "model; remove VpcConfig")


def _container_rules(prefix: str) -> tuple[Unsupported, ...]:
    return (
        Unsupported(f"{prefix}.ImageConfig", "images are resolved by modelyard's image catalogue, not pulled "
                    "from a private registry; remove ImageConfig (register your own image with "
                    "`modelyard images register`)",
                    lambda value: value.get("RepositoryAccessMode") == "Vpc" or "RepositoryAuthConfig" in value),
        Unsupported(f"{prefix}.AdditionalModelDataSources", "only the model's own ModelDataUrl or "
                    "ModelDataSource is staged (at /opt/ml/model); remove AdditionalModelDataSources"),
        Unsupported(f"{prefix}.ContainerMetricsConfig", "modelyard collects no container metrics; remove it"),
        Unsupported(f"{prefix}.ModelDataSource.S3DataSource", "give only S3Uri, S3DataType, CompressionType "
                    "(and ModelAccessConfig); hub access, manifests and ETag pinning are not implemented",
                    with_any("HubAccessConfig", "ManifestS3Uri", "ETag", "ManifestEtag")),
    )


CREATE_MODEL = (
    *_container_rules("PrimaryContainer"),
    *_container_rules("Containers[]"),
    Unsupported("VpcConfig", _VPC),
)

def _variant(member: str, advice: str, active: Activity = present) -> Unsupported:
    return Unsupported(f"ProductionVariants[].{member}", advice, active)


_VARIANTS = (
    _variant("AcceleratorType", "there are no Elastic Inference accelerators; remove AcceleratorType"),
    _variant("CoreDumpConfig", "modelyard does not collect core dumps; remove CoreDumpConfig"),
    _variant("EnableSSMAccess", "there is no SSM agent to connect to; read the instances' output with "
             "`modelyard logs` or CloudWatch Logs GetLogEvents", enabled),
    _variant("ManagedInstanceScaling", "instance counts are not scaled automatically; change them with "
             "UpdateEndpointWeightsAndCapacities", lambda value: value.get("Status") != "DISABLED"),
    _variant("RoutingConfig.RoutingStrategy", "modelyard sends each request to the instance with the fewest "
             "outstanding requests; use LEAST_OUTSTANDING_REQUESTS or omit RoutingConfig",
             other_than("LEAST_OUTSTANDING_REQUESTS")),
    _variant("ModelDataDownloadTimeoutInSeconds", "model downloads are not timed; remove it"),
    _variant("ContainerStartupHealthCheckTimeoutInSeconds", "instances get the server's health-check timeout "
             "(MODELYARD_HEALTH_CHECK_TIMEOUT_SECONDS, 240 s by default) to answer /ping; remove it"),
    _variant("VariantInstanceProvisionTimeoutInSeconds", "instances are local processes with no provisioning "
             "step; remove it"),
    _variant("CapacityReservationConfig", "there is no capacity to reserve; remove it"),
    _variant("InstancePools", "instance pools are not implemented; give one InstanceType"),
    _variant("AcceleratorPartitionLayouts", "accelerator partitions are not implemented; remove it"),
)

CREATE_ENDPOINT_CONFIG = (
    Unsupported("DataCaptureConfig.KmsKeyId", "captured data is written without KMS encryption (modelyard has "
                "no KMS); remove KmsKeyId, and use a bucket with default encryption if you need it"),
    Unsupported("AsyncInferenceConfig.OutputConfig.KmsKeyId", "asynchronous outputs are written without KMS "
                "encryption (modelyard has no KMS); remove KmsKeyId"),
    Unsupported("AsyncInferenceConfig.OutputConfig.NotificationConfig.IncludeInferenceResponseIn",
                "notifications carry the output's location, not the response itself; read it from "
                "S3OutputPath and remove IncludeInferenceResponseIn", lambda value: bool(value)),
    Unsupported("ExplainerConfig", "online explanations (SageMaker Clarify) are not implemented; remove it"),
    Unsupported("MetricsConfig", "modelyard publishes no CloudWatch metrics yet; remove MetricsConfig",
                lambda value: any(value.values())),
    Unsupported("CrossRegionTrafficConfig", "there is one region per server; remove it"),
    Unsupported("EnableNetworkIsolation", "modelyard isolates the network per model: set EnableNetworkIsolation "
                "on CreateModel instead", enabled),
    Unsupported("VpcConfig", _VPC),
    *_VARIANTS,
)

CREATE_ENDPOINT = ()

UPDATE_ENDPOINT = (
    Unsupported("RetainAllVariantProperties", "variant weights and instance counts come from the new endpoint "
                "configuration; set them there and omit RetainAllVariantProperties", enabled),
    Unsupported("ExcludeRetainedVariantProperties", "variant properties are never retained (see "
                "RetainAllVariantProperties); remove it"),
)

UPDATE_WEIGHTS_AND_CAPACITIES = ()
