"""The training runner: one CreateTrainingJob, end to end, in a worker thread.

    Downloading  image ─► channels ─► /opt/ml/input/data/<channel>, config files, source dir ─► environment
    Training     the containers algo-1 … algo-N (``hosts``: InstanceCount of them, sharded channels, a job
                 network), each in script mode or running the image's ``train``, output live in the log
                 streams /aws/sagemaker/TrainingJobs  <job>/algo-K-<epoch>; MetricDefinitions read every
                 line (published per host; FinalMetricDataList is algo-1's)
    Uploading    algo-1's /opt/ml/output/data ─► <S3OutputPath>/<job>/output/output.tar.gz, then
                 algo-1's /opt/ml/model       ─► <S3OutputPath>/<job>/output/model.tar.gz (last: it marks success)
    Completed | Failed (the first failing host's reason, from /opt/ml/output/failure or its last log line)
              | Stopped / MaxRuntimeExceeded

A stopped or timed-out job gets the SIGTERM grace SageMaker gives to save its model, and the model it
saved is uploaded (ModelArtifacts is set only when that upload succeeded).
"""

from __future__ import annotations

import logging
import shutil
import time
from typing import Any

from modelyard.controllers.jobs.controller import JobRun, StopRequested
from modelyard.controllers.jobs.data import JobDataError, join_uri, stage, upload_tarball
from modelyard.controllers.jobs.hosts import copy_tree, host_workspaces, on_host, spread
from modelyard.controllers.jobs.placement import JobLaunch, host_group
from modelyard.controllers.jobs.tools import (
    OPT_ML,
    JobTools,
    LogTap,
    ScriptRunner,
    Workspace,
    build_environment,
    container_spec,
    limit_failure,
    new_workspace,
    open_log,
)
from modelyard.controllers.jobs.training_launch import (
    PATHS,
    algorithm_mode,
    fetch_code,
    plan_launch,
    requirements_of,
    resolve_argv,
    script_source,
    write_config,
)
from modelyard.controllers.launcher import InstanceProcess
from modelyard.jobs import training_status as status
from modelyard.jobs.builtin_algorithms import xgboost_metric_definitions
from modelyard.jobs.failures import algorithm_error, truncate
from modelyard.jobs.metrics import MetricDefinition, MetricListener, MetricTracker, compile_definitions
from modelyard.jobs.training_config import host_names
from modelyard.log_groups import TRAINING_JOBS
from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.training import training_metric_listener
from modelyard.runtime.environments import Environment, toolkit_pythonpath
from modelyard.runtime.errors import (
    EnvironmentBuildError,
    ImageRegistrationError,
    UnknownImageError,
)
from modelyard.runtime.images import ImageSpec
from modelyard.runtime.limits import limits_for
from modelyard.runtime.process import ContainerSpec, reveal_host_paths

log = logging.getLogger("modelyard.controllers.jobs.training")
KIND = "training-job"


class TrainingRunner(ScriptRunner):
    """Runs training jobs (``JobRunner`` for kind ``training-job``)."""

    kind = KIND
    status_field = "TrainingJobStatus"

    def __init__(self, tools: JobTools, metrics: MetricBuffer | None = None) -> None:
        super().__init__(tools)
        self.metrics = metrics

    def terminal(self, document: dict[str, Any], status_name: str, reason: str | None, now: float) -> dict[str, Any]:
        """Changes that end the job (used for crashes and server restarts)."""
        return status.terminal(document, status_name, reason, now)

    def run(self, job: JobRun) -> None:
        """Run the job to its end."""
        document = job.document
        hosts = host_names(int(document["ResourceConfig"].get("InstanceCount", 1)))
        definitions = (compile_definitions(document["AlgorithmSpecification"].get("MetricDefinitions"))
                       or self._builtin_metrics(document))
        logs = self.tools.logs.scoped(job.account, job.region)
        taps = [open_log(logs, TRAINING_JOBS, job.name, MetricTracker(definitions, self._listener(job, host)), host)
                for host in hosts]
        metrics = taps[0].metrics
        workspace = new_workspace(self.tools.data_dir, "training", job.account, job.region, job.name)
        try:
            self._run(job, host_workspaces(workspace, hosts), taps)
        except JobDataError as exc:
            self._finish(job, "Failed", str(exc), metrics)
        except StopRequested as stop:
            if stop.reason == "shutdown":
                raise
            self._finish(job, "Stopped", None, metrics, timeout=stop.reason == "timeout")
        finally:
            for tap in taps:
                tap.close()
            shutil.rmtree(workspace.root, ignore_errors=True)

    def _listener(self, job: JobRun, host: str) -> MetricListener | None:
        if self.metrics is None:
            return None
        return training_metric_listener(self.metrics, job.account, job.region, job.name, host)

    def _run(self, job: JobRun, workspaces: list[Workspace], taps: list[LogTap]) -> None:
        job.update(lambda d: status.progress(d, "Downloading", time.time()))
        document = job.document
        hosts = host_names(len(workspaces))
        primary, tap = workspaces[0], taps[0]
        job.check()
        try:
            image = self.tools.images.resolve(document["AlgorithmSpecification"]["TrainingImage"])
        except UnknownImageError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        self._stage_channels(job, workspaces, tap)
        configs = [write_config(workspace, document, host) for workspace, host in zip(workspaces, hosts, strict=True)]
        program, submit = script_source(document)
        if image.kind == "toolkit" and submit:
            fetch_code(self.tools, primary, submit)
            copy_tree(primary.host_path(PATHS.code_dir), [w.host_path(PATHS.code_dir) for w in workspaces[1:]])
        job.check()
        try:
            environment = build_environment(self.tools, image, requirements_of(primary), tap)
        except EnvironmentBuildError as exc:
            raise JobDataError(f"ClientError: could not build the training environment: {exc}") from None
        specs = []
        for workspace, config in zip(workspaces, configs, strict=True):
            specs.append(self._spec(job, workspace, config, image, environment))
        job.check()
        job.update(lambda d: status.progress(d, "Training", time.time()))
        if not self.tools.backend.sandboxed:
            tap.note(f"sandbox is off ({self.tools.backend.sandbox_problem}); paths are host paths")
        launch = JobLaunch(image, requirements_of(primary), environment,
                           (document.get("ResourceConfig") or {}).get("InstanceType"),
                           (str(PATHS.input_data_dir.relative_to(OPT_ML)),),
                           specs[0].env.get("PYTHONPATH") if algorithm_mode(document, image) else None)
        group = host_group(self.tools, job, hosts, "training", launch)
        end = group.run(specs, taps)
        if end.stopped:
            self._save_model(job, primary, tap)
            job.check()
        if end.failed is not None:
            index = end.failed
            self._finish(job, "Failed", on_host(self._failure(group.processes[index], workspaces[index],
                                                              taps[index], specs[index].argv), hosts[index],
                                                 len(hosts)), tap.metrics)
            return
        job.update(lambda d: status.progress(d, "Uploading", time.time()))
        output = join_uri(job.document["OutputDataConfig"]["S3OutputPath"], job.name, "output")
        upload_tarball(self.tools.store, primary.host_path(PATHS.output_data_dir), primary.work,
                       join_uri(output, "output.tar.gz"))
        model_uri = join_uri(output, "model.tar.gz")
        upload_tarball(self.tools.store, primary.host_path(PATHS.model_dir), primary.work, model_uri)
        self._finish(job, "Completed", None, tap.metrics, model=model_uri)

    def _spec(self, job: JobRun, workspace: Workspace, configs: dict[str, Any], image: ImageSpec,
              environment: Environment) -> ContainerSpec:
        document = job.document
        resources = document.get("ResourceConfig") or {}
        try:
            launch = plan_launch(document=document, image=image, configs=configs, workspace=workspace,
                                 sandboxed=self.tools.backend.sandboxed, region=job.region,
                                 num_cpus=limits_for(resources.get("InstanceType")).vcpus)
        except ImageRegistrationError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        argv = resolve_argv(environment, launch.argv, launch.workdir)
        env = {**launch.env, **environment.env_vars()}
        if launch.algorithm_mode:
            env["PYTHONPATH"] = toolkit_pythonpath(self.tools.data_dir / "toolkit-path")
        workdir = workspace.host_path(PATHS.code_dir) if launch.workdir else None
        spec = container_spec(self.tools, workspace, name=f"training/{job.name}/{configs['resource']['current_host']}",
                              argv=argv, env=env, environment=environment, image=image, workdir=workdir,
                              network_isolated=bool(document.get("EnableNetworkIsolation")),
                              instance_type=resources.get("InstanceType"), volume_gb=resources.get("VolumeSizeInGB"))
        if launch.algorithm_mode:
            reveal_host_paths(spec, env["PYTHONPATH"])
        return spec

    @staticmethod
    def _failure(process: InstanceProcess, workspace: Workspace, tap: LogTap, argv: list[str]) -> str:
        failure = workspace.host_path(PATHS.failure_file)
        breach = limit_failure(process, "training")
        if breach:
            return breach
        text = failure.read_text(errors="replace") if failure.is_file() else None
        return algorithm_error(failure_text=text, exit_code=int(process.returncode or 0), lines=tap.lines(),
                               command=argv)

    def _builtin_metrics(self, document: dict[str, Any]) -> list[MetricDefinition]:
        """The metric definitions of the image's built-in algorithm, when the job trains with it."""
        try:
            image = self.tools.images.resolve(document["AlgorithmSpecification"]["TrainingImage"])
        except UnknownImageError:
            return []
        return xgboost_metric_definitions() if algorithm_mode(document, image) else []

    def _stage_channels(self, job: JobRun, workspaces: list[Workspace], tap: LogTap) -> None:
        for channel in job.document.get("InputDataConfig") or []:
            job.check()
            source = channel["DataSource"]["S3DataSource"]
            name = channel["ChannelName"]
            tap.note(f"downloading channel {name} from {source['S3Uri']}")
            staged = workspaces[0].host_path(PATHS.channel_dir(name))
            files = stage(self.tools.store, uri=source["S3Uri"], data_type=source["S3DataType"], dest=staged,
                          compression=channel.get("CompressionType"), what=f"channel '{name}'")
            held = spread(files, staged, [w.host_path(PATHS.channel_dir(name)) for w in workspaces],
                          source.get("S3DataDistributionType"))
            tap.note(f"channel {name}: {len(files)} file(s)" + (
                f", {source.get('S3DataDistributionType')}: " + ", ".join(
                    f"algo-{i + 1} {n}" for i, n in enumerate(held)) if len(workspaces) > 1 else ""))

    def _save_model(self, job: JobRun, workspace: Workspace, tap: LogTap) -> None:
        """After a stop or timeout: upload what the job saved in algo-1's /opt/ml/model, if anything."""
        model_dir = workspace.host_path(PATHS.model_dir)
        if job.stop_reason == "shutdown" or not any(model_dir.iterdir()):
            return
        uri = join_uri(job.document["OutputDataConfig"]["S3OutputPath"], job.name, "output", "model.tar.gz")
        try:
            upload_tarball(self.tools.store, model_dir, workspace.work, uri)
        except JobDataError as exc:
            tap.note(f"the model saved before the stop could not be uploaded: {exc}")
            return
        job.update({"ModelArtifacts": {"S3ModelArtifacts": uri}})

    def _finish(self, job: JobRun, outcome: str, reason: str | None, metrics: MetricTracker | None,
                model: str | None = None, timeout: bool = False) -> None:
        final_metrics = metrics.final() if metrics is not None else []

        def change(document: dict[str, Any]) -> dict[str, Any]:
            current = document.get("TrainingJobStatus")
            if current not in ("InProgress", "Stopping"):
                return {}
            name = outcome
            if current == "Stopping" and outcome == "Completed":
                name = "Stopped"
            secondary = "MaxRuntimeExceeded" if timeout else None
            changes = status.terminal(document, name, truncate(reason) if reason else None, time.time(), secondary)
            if final_metrics:
                changes["FinalMetricDataList"] = final_metrics
            if model is not None:
                changes["ModelArtifacts"] = {"S3ModelArtifacts": model}
            return changes

        job.update(change)

