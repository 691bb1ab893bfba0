"""The processing runner: one CreateProcessingJob, end to end, in a worker thread.

    ProcessingInputs  S3Input.S3Uri ─► its LocalPath (under /opt/ml/processing, inside the /opt/ml bind)
    /opt/ml/config/processingjobconfig.json + resourceconfig.json
    AppSpecification  ContainerEntrypoint + ContainerArguments, with the job's Environment; output live in
                      /aws/sagemaker/ProcessingJobs  <job>/algo-1-<epoch>
    ProcessingOutputs each LocalPath ─► its S3Uri, after the container succeeded (S3UploadMode EndOfJob;
                      Continuous is treated as EndOfJob)
    Completed | Failed (reason from /opt/ml/output/failure or the last log line) | Stopped

Outputs are uploaded only for a job that succeeded, so a failed or stopped job never leaves output
that looks complete.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import PurePosixPath
from typing import Any

from modelyard.controllers.jobs.controller import JobRun, StopRequested
from modelyard.controllers.jobs.data import JobDataError, stage, upload_directory
from modelyard.controllers.jobs.tools import (
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
from modelyard.jobs.failures import algorithm_error, last_meaningful_line, truncate
from modelyard.jobs.training_config import resource_config_file
from modelyard.log_groups import PROCESSING_JOBS
from modelyard.runtime.errors import ContainerStartError, EnvironmentBuildError, UnknownImageError

KIND = "processing-job"
CONFIG_DIR = PurePosixPath("/opt/ml/config")
FAILURE_FILE = PurePosixPath("/opt/ml/output/failure")


class ProcessingRunner(ScriptRunner):
    """Runs processing jobs (``JobRunner`` for kind ``processing-job``)."""

    kind = KIND
    status_field = "ProcessingJobStatus"

    def terminal(self, document: dict[str, Any], status: str, reason: str | None, now: float) -> dict[str, Any]:
        """Changes that end the job as ``status``."""
        changes: dict[str, Any] = {"ProcessingJobStatus": status, "ProcessingEndTime": now}
        if "ProcessingStartTime" not in document:
            changes["ProcessingStartTime"] = now
        if reason:
            changes["FailureReason"] = truncate(reason)
        return changes

    def run(self, job: JobRun) -> None:
        """Run the job to its end."""
        workspace = new_workspace(self.tools.data_dir, "processing", job.account, job.region, job.name)
        tap = open_log(self.tools.logs.scoped(job.account, job.region), PROCESSING_JOBS, job.name)
        job.update(lambda d: {"ProcessingStartTime": time.time()} if d["ProcessingJobStatus"] == "InProgress" else {})
        try:
            self._run(job, workspace, tap)
        except JobDataError as exc:
            self._finish(job, "Failed", str(exc))
        except StopRequested as stop:
            if stop.reason == "shutdown":
                raise
            reason = None
            if stop.reason == "timeout":
                reason = (f"The job exceeded its MaxRuntimeInSeconds "
                          f"({job.document['StoppingCondition']['MaxRuntimeInSeconds']}) and was stopped")
            self._finish(job, "Stopped", reason)
        finally:
            tap.close()
            shutil.rmtree(workspace.root, ignore_errors=True)

    def _run(self, job: JobRun, workspace: Workspace, tap: LogTap) -> None:
        document = job.document
        app = document["AppSpecification"]
        try:
            image = self.tools.images.resolve(app["ImageUri"])
        except UnknownImageError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        for item in document.get("ProcessingInputs") or []:
            job.check()
            source = item["S3Input"]
            tap.note(f"downloading input {item['InputName']} from {source['S3Uri']} to {source['LocalPath']}")
            stage(self.tools.store, uri=source["S3Uri"], data_type=source["S3DataType"],
                  dest=workspace.host_path(source["LocalPath"]), compression=source.get("S3CompressionType"),
                  what=f"processing input '{item['InputName']}'")
        for output in _outputs(document):
            workspace.host_path(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
        workspace.host_path(FAILURE_FILE).parent.mkdir(parents=True, exist_ok=True)
        self._write_config(workspace, document)
        job.check()
        try:
            environment = build_environment(self.tools, image, None, tap)
        except EnvironmentBuildError as exc:
            raise JobDataError(f"ClientError: could not build the processing environment: {exc}") from None
        entrypoint = list(app.get("ContainerEntrypoint") or [])
        if not entrypoint:
            raise JobDataError(f"ClientError: AppSpecification.ContainerEntrypoint is required to run {image.uri} "
                               "with modelyard (for example [\"python3\", \"/opt/ml/processing/input/code/job.py\"])")
        argv = environment.command(entrypoint + list(app.get("ContainerArguments") or []))
        env = {**image.env, **(document.get("Environment") or {}), **environment.env_vars(),
               "AWS_REGION": job.region, "PROCESSING_JOB_NAME": job.name}
        network = bool((document.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
        spec = container_spec(self.tools, workspace, name=f"processing/{job.name}", argv=argv, env=env,
                              environment=environment, image=image, network_isolated=network,
                              instance_type=document["ProcessingResources"]["ClusterConfig"].get("InstanceType"),
                              volume_gb=document["ProcessingResources"]["ClusterConfig"].get("VolumeSizeInGB"))
        if not self.tools.backend.sandboxed:
            tap.note(f"sandbox is off ({self.tools.backend.sandbox_problem}); /opt/ml paths do not exist")
        job.check()
        try:
            process, pumping = start_container(self.tools, spec, tap)
        except ContainerStartError as exc:
            raise JobDataError(f"ClientError: the processing container could not start: {exc}") from None
        code = job.wait(process)
        pumping.join(10)
        job.check()
        breach = limit_failure(process, "processing")
        if code != 0 or breach:
            failure = workspace.host_path(FAILURE_FILE)
            text = failure.read_text(errors="replace") if failure.is_file() else None
            reason = breach or algorithm_error(
                failure_text=text, exit_code=int(code or 0), lines=tap.lines(), command=argv)
            self._finish(job, "Failed", reason, exit_message=(text or last_meaningful_line(tap.lines()) or ""))
            return
        for output in _outputs(document):
            job.check()
            s3 = output["S3Output"]
            tap.note(f"uploading output {output['OutputName']} from {s3['LocalPath']} to {s3['S3Uri']}")
            upload_directory(self.tools.store, workspace.host_path(s3["LocalPath"]), s3["S3Uri"],
                             f"processing output '{output['OutputName']}'")
        self._finish(job, "Completed", None)

    @staticmethod
    def _write_config(workspace: Workspace, document: dict[str, Any]) -> None:
        config = workspace.host_path(CONFIG_DIR)
        config.mkdir(parents=True, exist_ok=True)
        public = {k: v for k, v in document.items() if not k.startswith("_")}
        (config / "processingjobconfig.json").write_text(json.dumps(public, default=str))
        cluster = document["ProcessingResources"]["ClusterConfig"]
        resources = resource_config_file(current_host="algo-1", hosts=["algo-1"],
                                         instance_type=cluster.get("InstanceType", "local"))
        (config / "resourceconfig.json").write_text(json.dumps(resources))

    def _finish(self, job: JobRun, outcome: str, reason: str | None, exit_message: str | None = None) -> None:
        def change(document: dict[str, Any]) -> dict[str, Any]:
            current = document.get("ProcessingJobStatus")
            if current not in ("InProgress", "Stopping"):
                return {}
            name = "Stopped" if current == "Stopping" and outcome == "Completed" else outcome
            changes = self.terminal(document, name, reason, time.time())
            if exit_message:
                changes["ExitMessage"] = truncate(exit_message)
            return changes

        job.update(change)


def _outputs(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for o in (document.get("ProcessingOutputConfig") or {}).get("Outputs", []) if "S3Output" in o]
