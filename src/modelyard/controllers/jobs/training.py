"""The training runner: one CreateTrainingJob, end to end, in a worker thread.

    Downloading  image ─► channels ─► /opt/ml/input/data/<channel>, config files, source dir ─► environment
    Training     the container (script mode or the image's ``train``), output live in the log stream
                 /aws/sagemaker/TrainingJobs  <job>/algo-1-<epoch>; MetricDefinitions read every line
    Uploading    /opt/ml/output/data ─► <S3OutputPath>/<job>/output/output.tar.gz, then
                 /opt/ml/model       ─► <S3OutputPath>/<job>/output/model.tar.gz (last: it marks success)
    Completed | Failed (reason from /opt/ml/output/failure or the last log line) | Stopped / MaxRuntimeExceeded

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
from modelyard.controllers.jobs.tools import (
    JobTools,
    LogTap,
    ScriptRunner,
    Workspace,
    build_environment,
    container_spec,
    limit_failure,
    new_workspace,
    open_log,
    start_container,
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
from modelyard.jobs import training_status as status
from modelyard.jobs.builtin_algorithms import xgboost_metric_definitions
from modelyard.jobs.failures import algorithm_error, truncate
from modelyard.jobs.metrics import MetricDefinition, MetricTracker, compile_definitions
from modelyard.log_groups import TRAINING_JOBS
from modelyard.metrics.buffer import MetricBuffer
from modelyard.metrics.training import training_metric_listener
from modelyard.runtime.environments import toolkit_pythonpath
from modelyard.runtime.errors import (
    ContainerStartError,
    EnvironmentBuildError,
    ImageRegistrationError,
    UnknownImageError,
)
from modelyard.runtime.process import reveal_host_paths

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
        algorithm = document["AlgorithmSpecification"]
        listener = None if self.metrics is None else training_metric_listener(self.metrics, job.account, job.region,
                                                                              job.name)
        metrics = MetricTracker(compile_definitions(algorithm.get("MetricDefinitions"))
                                or self._builtin_metrics(document), listener)
        workspace = new_workspace(self.tools.data_dir, "training", job.account, job.region, job.name)
        tap = open_log(self.tools.logs.scoped(job.account, job.region), TRAINING_JOBS, job.name, metrics)
        try:
            self._run(job, workspace, tap)
        except JobDataError as exc:
            self._finish(job, "Failed", str(exc), metrics)
        except StopRequested as stop:
            if stop.reason == "shutdown":
                raise
            self._finish(job, "Stopped", None, metrics, timeout=stop.reason == "timeout")
        finally:
            tap.close()
            shutil.rmtree(workspace.root, ignore_errors=True)

    def _run(self, job: JobRun, workspace: Workspace, tap: LogTap) -> None:
        job.update(lambda d: status.progress(d, "Downloading", time.time()))
        document = job.document
        job.check()
        try:
            image = self.tools.images.resolve(document["AlgorithmSpecification"]["TrainingImage"])
        except UnknownImageError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        self._stage_channels(job, workspace, tap)
        configs = write_config(workspace, document)
        program, submit = script_source(document)
        if image.kind == "toolkit" and submit:
            fetch_code(self.tools, workspace, submit)
        job.check()
        try:
            environment = build_environment(self.tools, image, requirements_of(workspace), tap)
        except EnvironmentBuildError as exc:
            raise JobDataError(f"ClientError: could not build the training environment: {exc}") from None
        try:
            launch = plan_launch(document=document, image=image, configs=configs, workspace=workspace,
                                 sandboxed=self.tools.backend.sandboxed, region=job.region)
        except ImageRegistrationError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        argv = resolve_argv(environment, launch.argv, launch.workdir)
        env = {**launch.env, **environment.env_vars()}
        if launch.algorithm_mode:
            env["PYTHONPATH"] = toolkit_pythonpath(self.tools.data_dir / "toolkit-path")
        workdir = workspace.host_path(PATHS.code_dir) if launch.workdir else None
        spec = container_spec(self.tools, workspace, name=f"training/{job.name}", argv=argv, env=env,
                              environment=environment, image=image, workdir=workdir,
                              network_isolated=bool(document.get("EnableNetworkIsolation")),
                              instance_type=(document.get("ResourceConfig") or {}).get("InstanceType"),
                              volume_gb=(document.get("ResourceConfig") or {}).get("VolumeSizeInGB"))
        if launch.algorithm_mode:
            reveal_host_paths(spec, env["PYTHONPATH"])
        job.check()
        job.update(lambda d: status.progress(d, "Training", time.time()))
        if not self.tools.backend.sandboxed:
            tap.note(f"sandbox is off ({self.tools.backend.sandbox_problem}); paths are host paths")
        try:
            process, pumping = start_container(self.tools, spec, tap)
        except ContainerStartError as exc:
            raise JobDataError(f"ClientError: the training container could not start: {exc}") from None
        code = job.wait(process)
        pumping.join(10)
        if code is None:
            self._save_model(job, workspace, tap)
            job.check()
        failure = workspace.host_path(PATHS.failure_file)
        breach = limit_failure(process, "training")
        if code != 0 or breach:
            text = failure.read_text(errors="replace") if failure.is_file() else None
            reason = breach or algorithm_error(
                failure_text=text, exit_code=int(code or 0), lines=tap.lines(), command=argv)
            self._finish(job, "Failed", reason, tap.metrics)
            return
        job.update(lambda d: status.progress(d, "Uploading", time.time()))
        output = join_uri(job.document["OutputDataConfig"]["S3OutputPath"], job.name, "output")
        upload_tarball(self.tools.store, workspace.host_path(PATHS.output_data_dir), workspace.work,
                       join_uri(output, "output.tar.gz"))
        model_uri = join_uri(output, "model.tar.gz")
        upload_tarball(self.tools.store, workspace.host_path(PATHS.model_dir), workspace.work, model_uri)
        self._finish(job, "Completed", None, tap.metrics, model=model_uri)

    def _builtin_metrics(self, document: dict[str, Any]) -> list[MetricDefinition]:
        """The metric definitions of the image's built-in algorithm, when the job trains with it."""
        try:
            image = self.tools.images.resolve(document["AlgorithmSpecification"]["TrainingImage"])
        except UnknownImageError:
            return []
        return xgboost_metric_definitions() if algorithm_mode(document, image) else []

    def _stage_channels(self, job: JobRun, workspace: Workspace, tap: LogTap) -> None:
        for channel in job.document.get("InputDataConfig") or []:
            job.check()
            source = channel["DataSource"]["S3DataSource"]
            name = channel["ChannelName"]
            tap.note(f"downloading channel {name} from {source['S3Uri']}")
            files = stage(self.tools.store, uri=source["S3Uri"], data_type=source["S3DataType"],
                          dest=workspace.host_path(PATHS.channel_dir(name)),
                          compression=channel.get("CompressionType"), what=f"channel '{name}'")
            tap.note(f"channel {name}: {len(files)} file(s)")

    def _save_model(self, job: JobRun, workspace: Workspace, tap: LogTap) -> None:
        """After a stop or timeout: upload what the job saved in /opt/ml/model, if anything."""
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

