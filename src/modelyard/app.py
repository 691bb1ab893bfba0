"""The composition root: every long-lived part of the server is built here, once, and handed down.

    settings -> Database, own S3 (catalog + blob files; ObjectStore's s3:// unless AWS_ENDPOINT_URL_S3),
                LogStore, ImageRegistry, EnvironmentBuilder, ObjectStore, ArtifactCache,
                ProcessBackend -> Preparer, Launcher, JobTools, Router, CaptureService
             -> EndpointController, TransformController, JobController
             -> async inference: Backlog, Notifier (when an SNS endpoint is set), AsyncDrainer
             -> server secret (data dir) -> page-token key; access keys -> SigV4Authenticator
             -> AppState (what operation handlers see)
             -> MetricsHub (CloudWatch metrics: buffer, endpoint meter, flush loop)
             -> ServiceTable (sagemaker, logs, application-autoscaling: JSON 1.1; cloudwatch: JSON 1.0;
                sagemaker-runtime: rest-json)
             -> AlarmEvaluator, Autoscaler (runs the scaling policies alarms name, through EndpointController)
             -> Pipeline
             -> ModelyardApp (ASGI), with start/stop hooks in dependency order
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass

from modelyard import page_tokens
from modelyard.auth.admin import ensure_admin_key
from modelyard.auth.authenticator import AnyCredentials, SigV4Authenticator
from modelyard.auth.keys import KeyRing, KeyStore
from modelyard.auth.secrets import PAGE_TOKEN_LABEL, SecretBox, derive, load_server_secret
from modelyard.context import AppState
from modelyard.controllers.autoscaling.scaler import Autoscaler
from modelyard.controllers.endpoints.backoff import RestartBackoff
from modelyard.controllers.endpoints.controller import EndpointController
from modelyard.controllers.jobs.controller import JobController
from modelyard.controllers.jobs.processing import ProcessingRunner
from modelyard.controllers.jobs.tools import JobTools
from modelyard.controllers.jobs.training import TrainingRunner
from modelyard.controllers.launcher import Launcher
from modelyard.controllers.multimodel.metrics import LoadedModelSampler
from modelyard.controllers.placement import InstancePlacement
from modelyard.controllers.preparation import Preparer
from modelyard.controllers.server_paths import ServerPaths
from modelyard.controllers.transform.controller import TransformController
from modelyard.controllers.tuning.children import Children
from modelyard.controllers.tuning.early_stopping import ObjectiveSeries
from modelyard.controllers.tuning.tuner import Tuner
from modelyard.edge import prometheus
from modelyard.edge.admission import AdmissionGate
from modelyard.edge.in_workers import in_worker_processes, install
from modelyard.edge.pipeline import Pipeline
from modelyard.edge.services import OperationHandler, Service, ServiceTable
from modelyard.edge.threaded import SyncHandler, in_thread_pool
from modelyard.edge.worker_pool import WorkerPool
from modelyard.edge.worker_throttle import WorkerThrottle
from modelyard.hosting import invoke
from modelyard.hosting.activity import InvokeActivity
from modelyard.hosting.asynchronous.backlog import Backlog
from modelyard.hosting.asynchronous.backlog_metrics import BacklogSampler
from modelyard.hosting.asynchronous.drain import AsyncDrainer
from modelyard.hosting.asynchronous.notifications import Notifier
from modelyard.hosting.asynchronous.submit import InvokeEndpointAsync
from modelyard.hosting.capture.service import CaptureService
from modelyard.hosting.router import Router
from modelyard.hosting.streaming import InvokeEndpointWithResponseStream
from modelyard.logstore import LogStore
from modelyard.metrics.alarm_evaluator import AlarmEvaluator
from modelyard.metrics.endpoint_meter import EndpointMeter
from modelyard.metrics.hub import MetricsHub
from modelyard.metrics.instance_usage import InstanceUsageSampler
from modelyard.ports import ClusterJobs
from modelyard.runtime.cgroups import CgroupError, CgroupTree, ContainerGroup
from modelyard.runtime.environments import EnvironmentBuilder
from modelyard.runtime.images import ImageRegistry
from modelyard.runtime.process import ProcessBackend
from modelyard.s3 import errors as s3_errors
from modelyard.s3.blobs import BlobFiles
from modelyard.s3.body_encoding import body_decoder
from modelyard.s3.catalog import Catalog
from modelyard.s3.local_objects import LocalS3Backend
from modelyard.s3.service import MAX_PUT_BYTES, STREAMED, S3Service
from modelyard.server import ModelyardApp
from modelyard.services.catalog import load_services
from modelyard.services.dispatch import handlers
from modelyard.settings import Settings
from modelyard.storage import ArtifactCache, ObjectStore
from modelyard.storage.limits import CopyLimits
from modelyard.storage.local_policy import LocalPathPolicy
from modelyard.storage.private_files import secure_data_dir, secure_sqlite_file
from modelyard.store.database import Database
from modelyard.wire.auth import Authenticator, AuthRules
from modelyard.wire.errors import RuntimeValidationError
from modelyard.wire.json_protocol import JsonProtocol
from modelyard.wire.query_protocol import QueryProtocol
from modelyard.wire.rest_json import RestJsonProtocol
from modelyard.wire.rest_xml import RestXmlProtocol

EXTERNAL_S3_VARIABLE = "AWS_ENDPOINT_URL_S3"
"""When set in the server's environment, ``s3://`` goes there (MinIO, AWS) through boto3; otherwise the
server reads and writes its own S3 on disk."""
log = logging.getLogger("modelyard.server")

CONTROL_WORKERS = 16
WORKER_OPERATIONS = {"sagemaker": frozenset({"Search"})}
"""Read-only operations heavy enough in Python to run in the control worker processes."""
STOP_GRACE_SECONDS = 30.0
RAY_SCOPE = ("Ray places single-container instances of endpoints and transform jobs, and training and processing "
             "jobs of framework images (a multi-host job's hosts spread over nodes on one job network); "
             "bring-your-own images, multi-model and multi-container endpoints and multi-container transform jobs "
             "run on this machine")


@dataclass(frozen=True)
class RuntimeKit:
    """The runtime parts endpoints, transform jobs and training/processing jobs share."""

    logs: LogStore
    objects: ObjectStore
    preparer: Preparer
    launcher: Launcher
    job_tools: JobTools
    images: ImageRegistry


def build_runtime_kit(settings: Settings, s3_backend: LocalS3Backend | None = None) -> RuntimeKit:
    """One log store, image registry, environment builder, object store, artifact cache and process backend
    (``s3://`` served by ``s3_backend`` when given)."""
    data_dir = settings.data_dir
    logs = LogStore(data_dir / "logs")
    images = ImageRegistry(data_dir / "images")
    backend = ProcessBackend(sandbox=settings.sandbox)
    builder = EnvironmentBuilder(data_dir / "envs", backend=backend)
    objects = ObjectStore(policy=LocalPathPolicy.from_settings(settings),
                          limits=CopyLimits.from_settings(settings.data_limits), s3_backend=s3_backend)
    cache = ArtifactCache(data_dir / "artifacts", objects, budget_bytes=settings.data_limits.artifact_cache_bytes)
    tools = JobTools(images=images, builder=builder, store=objects, cache=cache, backend=backend, logs=logs,
                     data_dir=data_dir)
    return RuntimeKit(logs, objects, Preparer(images, builder, cache), Launcher(backend, logs, data_dir), tools,
                      images)


def place_server(cgroups: CgroupTree | None) -> None:
    """Where the containers have cgroups, the server process moves into its own leaf beside them and its
    control workers (``CgroupTree.place_server``), so the workers' weight is measured against the
    server's; without that the server runs where it was started."""
    if cgroups is None:
        return
    try:
        cgroups.place_server()
    except CgroupError as exc:
        log.warning("the server stays in its own cgroup, so its control workers weigh against its "
                    "containers only: %s", exc)


def worker_pool(settings: Settings, executor: ThreadPoolExecutor, token_key: bytes,
                cgroups: CgroupTree | None = None) -> tuple[Executor, ContainerGroup | None]:
    """Where large control-plane bodies are decoded and ``WORKER_OPERATIONS`` run: the control worker
    processes (in a cgroup beside the server's at a tenth of its CPU weight when the containers have
    cgroups), or the thread pool when ``decode_workers`` is 0."""
    workers = settings.edge.decode_workers
    if workers <= 0:
        return executor, None
    group: ContainerGroup | None = None
    if cgroups is not None:
        try:
            group = cgroups.background("control-workers")
        except CgroupError as exc:
            log.warning("control workers run without a cgroup of their own: %s", exc)
    join_files = group.join_files if group is not None else ()
    return WorkerPool(workers, start_control_worker, (settings, token_key), join_files), group


def start_control_worker(settings: Settings, token_key: bytes) -> None:
    """In a control worker process: its own store connection and the handlers it may run."""
    page_tokens.use_secret(token_key)
    load_services()
    state = AppState(settings=settings, db=Database.connect(settings.resolved_database_url, migrate=False),
                     logs=LogStore(settings.data_dir / "logs"), endpoints=_ServerOnlyReconciler(),
                     transforms=_ServerOnlyReconciler(), jobs=_ServerOnlyJobs())
    install(state, {(service, name): handlers(service)[name]
                    for service, names in WORKER_OPERATIONS.items() for name in names})


class _ServerOnlyReconciler:
    """A control worker's endpoint and transform port: the controllers run in the server process."""

    def notify(self, account: str, region: str, name: str) -> None:
        raise RuntimeError("a control worker cannot notify controllers; run this operation in the server")


class _ServerOnlyJobs:
    """A control worker's job port: the job controller runs in the server process."""

    def notify(self, kind: str, account: str, region: str, name: str) -> None:
        raise RuntimeError("a control worker cannot notify the job controller; run this operation in the server")

    def request_stop(self, kind: str, account: str, region: str, name: str) -> None:
        raise RuntimeError("a control worker cannot stop jobs; run this operation in the server")


def control_handlers(service: str, executor: ThreadPoolExecutor,
                     workers: Executor | None) -> dict[str, OperationHandler]:
    """A control-plane service's handlers: ``WORKER_OPERATIONS`` in the worker processes when there
    are any, the rest in the thread pool."""
    sync: dict[str, SyncHandler] = dict(handlers(service))
    sent = WORKER_OPERATIONS.get(service, frozenset()) & sync.keys()
    if workers is None or workers is executor or not sent:
        return in_thread_pool(sync, executor)
    local = in_thread_pool({name: h for name, h in sync.items() if name not in sent}, executor)
    return {**local, **in_worker_processes(service, set(sent), workers)}


def service_table(router: Router, settings: Settings, executor: ThreadPoolExecutor,
                  workers: Executor | None = None, s3: S3Service | None = None,
                  meter: EndpointMeter | None = None,
                  runtime_extra: dict[str, OperationHandler] | None = None,
                  activity: InvokeActivity | None = None) -> ServiceTable:
    """The services the server speaks, each with its protocol, body limit and handlers (S3's when
    ``s3`` is given; the coverage table lists them without a store); invocations counted by ``meter``
    and marked on ``activity``.
    ``runtime_extra``: the runtime operations the server process adds (InvokeEndpointAsync, which needs
    the drainer); without it the table still names them, for the coverage table."""
    limits, edge = settings.limits, settings.edge
    runtime: dict[str, OperationHandler] = {
        "InvokeEndpoint": invoke.InvokeEndpoint(router, limits, meter, activity),
        "InvokeEndpointWithResponseStream": InvokeEndpointWithResponseStream(router, limits)}
    runtime.update(runtime_extra if runtime_extra is not None else _async_placeholder(router))

    def gate() -> AdmissionGate:
        return AdmissionGate(edge.control_concurrency, edge.control_queue, workers or executor,
                             edge.decode_offload_bytes)

    return ServiceTable([
        Service("sagemaker", JsonProtocol("sagemaker"), limits.control_body_bytes,
                control_handlers("sagemaker", executor, workers), gate=gate()),
        Service("logs", JsonProtocol("logs"), limits.control_body_bytes,
                control_handlers("logs", executor, workers), gate=gate()),
        Service("cloudwatch", JsonProtocol("cloudwatch"), limits.control_body_bytes,
                control_handlers("cloudwatch", executor, None), gate=gate(),
                auth=AuthRules("monitoring", action_prefix="cloudwatch")),
        Service("application-autoscaling", JsonProtocol("application-autoscaling"), limits.control_body_bytes,
                control_handlers("application-autoscaling", executor, None), gate=gate()),
        Service("sts", QueryProtocol("sts"), limits.control_body_bytes, control_handlers("sts", executor, workers),
                gate=gate()),
        Service("iam", QueryProtocol("iam"), limits.control_body_bytes, control_handlers("iam", executor, workers),
                gate=gate()),
        Service("s3", RestXmlProtocol("s3", s3_errors.InvalidArgument, codes=s3_errors.AUTH_CODES),
                limits.control_body_bytes, s3.operations() if s3 else S3Service.placeholder_operations(),
                too_large=s3_errors.too_large, internal_error=s3_errors.internal_error,
                not_implemented=s3_errors.not_implemented,
                auth=AuthRules("s3", error_status=403, unsigned_payload=True, streaming_payload=True,
                               uri_as_sent=True),
                streamed=STREAMED, stream_limit=MAX_PUT_BYTES, body_transform=body_decoder),
        Service("sagemaker-runtime", RestJsonProtocol("sagemaker-runtime", "/endpoints/", RuntimeValidationError),
                limits.invoke_body_bytes, runtime,
                too_large=invoke.payload_too_large, internal_error=invoke.routing_failed,
                not_implemented=invoke.not_implemented, auth=AuthRules("sagemaker", error_status=403)),
    ])


def _async_placeholder(router: Router) -> dict[str, OperationHandler]:
    """InvokeEndpointAsync with nothing behind it (the coverage table; tests of the edge alone)."""
    return {"InvokeEndpointAsync": InvokeEndpointAsync(router, Backlog(), lambda: None)}


def instance_placement(settings: Settings, kit: RuntimeKit) -> tuple[
        InstancePlacement, ClusterJobs | None, Callable[[], Awaitable[None]] | None]:
    """Where endpoint and transform instances and jobs run: on this machine (the launcher, the job tools'
    host groups), or with ``ray_address`` on the Ray cluster it names (joined here; Ray is imported only
    then; ``kit.job_tools.remote`` is set, and is what the services ask about capacity at create), with
    the hook that leaves it at shutdown. Multi-container and multi-model instances and bring-your-own
    images run on this machine either way."""
    if not settings.ray_address:
        return kit.launcher, None, None
    from modelyard.controllers.ray import cluster
    from modelyard.controllers.ray.jobs import RayJobs
    from modelyard.controllers.ray.placement import RayPlacement

    joined = cluster.join(settings.ray_address)
    log.warning("joined the %s. %s", joined, RAY_SCOPE)
    placement = RayPlacement(kit.launcher, node_root=settings.ray_node_dir, sandbox=settings.sandbox)
    jobs = RayJobs(node_root=settings.ray_node_dir, sandbox=settings.sandbox, stop_grace=STOP_GRACE_SECONDS,
                   images=kit.images)
    kit.job_tools.remote = jobs

    async def leave() -> None:
        placement.close()
        cluster.leave()

    return placement, jobs, leave


def build_authenticator(settings: Settings, db: Database, secret: bytes) -> Authenticator:
    """SigV4 against the stored keys (the default account's admin key made on first start), or with
    ``auth`` off any credentials."""
    if not settings.auth:
        return AnyCredentials()
    keys = KeyStore(db, SecretBox(secret))
    ensure_admin_key(settings.data_dir, keys, settings.account_id)
    return SigV4Authenticator(KeyRing(keys))


def build_app(settings: Settings, *, authenticator: Authenticator | None = None) -> ModelyardApp:
    """Connect and migrate the store, build every long-lived part once, and assemble the ASGI app."""
    secure_data_dir(settings.data_dir)
    secure_sqlite_file(settings.resolved_database_url)
    db = Database.connect(settings.resolved_database_url)
    load_services()
    s3_files = BlobFiles(settings.data_dir / "s3")
    s3_files.clean_temporary()
    s3_catalog = Catalog(db, s3_files)
    own_s3 = None if os.environ.get(EXTERNAL_S3_VARIABLE) else LocalS3Backend(s3_catalog, s3_files)
    kit = build_runtime_kit(settings, own_s3)
    router = Router()
    server_paths = ServerPaths(settings.data_dir)
    captures = CaptureService(kit.objects, settings.data_dir / "capture", settings.capture)
    metrics = MetricsHub(db, settings.metrics)
    placement, cluster_jobs, leave_cluster = instance_placement(settings, kit)
    endpoints = EndpointController(db, settings.limits, router, kit.preparer, kit.launcher, placement=placement,
                                   backoff=RestartBackoff(reset_after_seconds=settings.restart_reset_seconds),
                                   server_paths=server_paths, captures=captures, metrics=metrics.buffer,
                                   multi_model=settings.multi_model)
    transforms = TransformController(db, settings.limits, kit.preparer, kit.launcher, kit.objects,
                                     server_paths=server_paths, placement=placement)
    jobs = JobController(db, [TrainingRunner(kit.job_tools, metrics.buffer), ProcessingRunner(kit.job_tools)],
                         workers=settings.job_workers, stop_grace=STOP_GRACE_SECONDS, server_paths=server_paths)
    tuner = Tuner(db, Children(db, jobs), ObjectiveSeries(kit.logs))
    jobs.watch(tuner.wake)
    executor = ThreadPoolExecutor(max_workers=CONTROL_WORKERS, thread_name_prefix="control")
    metrics.samplers.append(InstanceUsageSampler(endpoints.running_instances))
    metrics.samplers.append(LoadedModelSampler(endpoints.loaded_models))
    state = AppState(settings=settings, db=db, logs=kit.logs, endpoints=endpoints, transforms=transforms,
                     jobs=jobs, images=kit.images, buckets=own_s3, metrics=metrics, tuning=tuner,
                     cluster=cluster_jobs)
    secret = load_server_secret(settings.data_dir)
    token_key = derive(secret, PAGE_TOKEN_LABEL)
    page_tokens.use_secret(token_key)
    place_server(kit.launcher.backend.cgroups)
    workers, workers_group = worker_pool(settings, executor, token_key, kit.launcher.backend.cgroups)
    activity = InvokeActivity()
    if authenticator is None:
        authenticator = build_authenticator(settings, db, secret)
    s3 = S3Service(s3_catalog, s3_files, executor)
    meter = metrics.meter if settings.metrics.endpoint_metrics else None
    backlog = Backlog()
    notifier = Notifier(settings.sns_endpoint_url) if settings.sns_endpoint_url else None
    drainer = AsyncDrainer(db, router, kit.objects, backlog, settings.data_dir / "async" / "work", notifier)
    async_invoke = InvokeEndpointAsync(router, backlog, drainer.wake)
    metrics.samplers.append(BacklogSampler(
        lambda: [(account, region, routes.name) for account, region, routes in router.published()
                 if routes.asynchronous is not None], drainer.backlog_figures))
    pipeline = Pipeline(service_table(router, settings, executor, workers, s3, meter,
                                      {"InvokeEndpointAsync": async_invoke}, activity), authenticator, state)
    app = ModelyardApp(pipeline)
    app.routes.append((prometheus.claims, prometheus.PrometheusEndpoint(db, settings, authenticator)))

    async def close_executor() -> None:
        executor.shutdown(wait=False, cancel_futures=True)
        if workers is not executor:
            workers.shutdown(wait=False, cancel_futures=True)

    async def close_db() -> None:
        db.dispose()

    async def start_workers() -> None:
        if workers is not executor:
            workers.submit(os.getpid)

    app.on_startup.append(start_workers)
    if workers_group is not None:
        throttle = WorkerThrottle(workers_group, activity)
        app.on_startup.append(throttle.start)
        app.on_shutdown.append(throttle.stop)

    async def recover_captures() -> None:
        captures.recover()

    app.on_startup.append(recover_captures)
    app.on_shutdown += [close_executor, close_db]
    alarms = AlarmEvaluator(db, settings.metrics)
    alarms.after_round.append(Autoscaler(db, endpoints, alarms).run_once)
    if leave_cluster is not None:
        app.on_shutdown.append(leave_cluster)
    for controller in (metrics, alarms, endpoints, transforms, jobs, tuner):
        app.on_startup.append(controller.start)
        app.on_shutdown.append(controller.stop)
    app.on_startup.append(drainer.start)
    app.on_shutdown.append(drainer.stop)
    return app
