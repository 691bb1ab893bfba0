"""The processing runner: one CreateProcessingJob, end to end, in a worker thread.

    ProcessingInputs  S3Input.S3Uri ─► its LocalPath (under /opt/ml/processing, inside the /opt/ml bind) of
                      every host (ShardedByS3Key: each host its share of the objects; see ``hosts``)
    /opt/ml/config/processingjobconfig.json + resourceconfig.json (current_host algo-K of hosts)
    AppSpecification  ContainerEntrypoint + ContainerArguments, with the job's Environment, on the
                      ClusterConfig.InstanceCount hosts; output live in
                      /aws/sagemaker/ProcessingJobs  <job>/algo-K-<epoch>
    ProcessingOutputs each host's LocalPath ─► its S3Uri, after every container succeeded (S3UploadMode
                      EndOfJob; Continuous is treated as EndOfJob)
    Completed | Failed (the first failing host's reason, from /opt/ml/output/failure or its last log line)
              | Stopped

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
from modelyard.controllers.jobs.hosts import host_workspaces, on_host, spread
from modelyard.controllers.jobs.placement import JobLaunch, host_group
from modelyard.controllers.jobs.tools import (
    OPT_ML,
    LogTap,
    ScriptRunner,
    Workspace,
    build_environment,
    container_spec,
    limit_failure,
    new_workspace,
    open_log,
)
from modelyard.jobs.failures import algorithm_error, last_meaningful_line, truncate
from modelyard.jobs.training_config import host_names, resource_config_file
from modelyard.log_groups import PROCESSING_JOBS
from modelyard.runtime.errors import EnvironmentBuildError, UnknownImageError

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
        hosts = host_names(int(job.document["ProcessingResources"]["ClusterConfig"].get("InstanceCount", 1)))
        workspace = new_workspace(self.tools.data_dir, "processing", job.account, job.region, job.name)
        logs = self.tools.logs.scoped(job.account, job.region)
        taps = [open_log(logs, PROCESSING_JOBS, job.name, host=host) for host in hosts]
        job.update(lambda d: {"ProcessingStartTime": time.time()} if d["ProcessingJobStatus"] == "InProgress" else {})
        try:
            self._run(job, host_workspaces(workspace, hosts), taps)
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
            for tap in taps:
                tap.close()
            shutil.rmtree(workspace.root, ignore_errors=True)

    def _run(self, job: JobRun, workspaces: list[Workspace], taps: list[LogTap]) -> None:
        document = job.document
        hosts = host_names(len(workspaces))
        app = document["AppSpecification"]
        tap = taps[0]
        try:
            image = self.tools.images.resolve(app["ImageUri"])
        except UnknownImageError as exc:
            raise JobDataError(f"ClientError: {exc}") from None
        for item in document.get("ProcessingInputs") or []:
            job.check()
            source = item["S3Input"]
            tap.note(f"downloading input {item['InputName']} from {source['S3Uri']} to {source['LocalPath']}")
            staged = workspaces[0].host_path(source["LocalPath"])
            files = stage(self.tools.store, uri=source["S3Uri"], data_type=source["S3DataType"], dest=staged,
                          compression=source.get("S3CompressionType"), what=f"processing input '{item['InputName']}'")
            spread(files, staged, [w.host_path(source["LocalPath"]) for w in workspaces],
                   source.get("S3DataDistributionType"))
        for workspace, host in zip(workspaces, hosts, strict=True):
            for output in _outputs(document):
                workspace.host_path(output["S3Output"]["LocalPath"]).mkdir(parents=True, exist_ok=True)
            workspace.host_path(FAILURE_FILE).parent.mkdir(parents=True, exist_ok=True)
            self._write_config(workspace, document, host, hosts)
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
        cluster = document["ProcessingResources"]["ClusterConfig"]
        specs = [container_spec(self.tools, workspace, name=f"processing/{job.name}/{host}", argv=argv, env=env,
                                environment=environment, image=image, network_isolated=network,
                                instance_type=cluster.get("InstanceType"), volume_gb=cluster.get("VolumeSizeInGB"))
                 for workspace, host in zip(workspaces, hosts, strict=True)]
        if not self.tools.backend.sandboxed:
            tap.note(f"sandbox is off ({self.tools.backend.sandbox_problem}); /opt/ml paths do not exist")
        job.check()
        inputs = tuple(str(PurePosixPath(i["S3Input"]["LocalPath"]).relative_to(OPT_ML))
                       for i in document.get("ProcessingInputs") or [])
        launch = JobLaunch(image, None, environment, cluster.get("InstanceType"), inputs)
        group = host_group(self.tools, job, hosts, "processing", launch)
        end = group.run(specs, taps)
        job.check()
        if end.failed is not None:
            index = end.failed
            process = group.processes[index]
            failure = workspaces[index].host_path(FAILURE_FILE)
            text = failure.read_text(errors="replace") if failure.is_file() else None
            reason = limit_failure(process, "processing") or algorithm_error(
                failure_text=text, exit_code=int(process.returncode or 0), lines=taps[index].lines(), command=argv)
            self._finish(job, "Failed", on_host(reason, hosts[index], len(hosts)),
                         exit_message=(text or last_meaningful_line(taps[index].lines()) or ""))
            return
        for output in _outputs(document):
            s3 = output["S3Output"]
            for workspace in workspaces:
                job.check()
                tap.note(f"uploading output {output['OutputName']} from {s3['LocalPath']} to {s3['S3Uri']}")
                upload_directory(self.tools.store, workspace.host_path(s3["LocalPath"]), s3["S3Uri"],
                                 f"processing output '{output['OutputName']}'")
        self._finish(job, "Completed", None)

    @staticmethod
    def _write_config(workspace: Workspace, document: dict[str, Any], host: str, hosts: list[str]) -> None:
        config = workspace.host_path(CONFIG_DIR)
        config.mkdir(parents=True, exist_ok=True)
        public = {k: v for k, v in document.items() if not k.startswith("_")}
        (config / "processingjobconfig.json").write_text(json.dumps(public, default=str))
        cluster = document["ProcessingResources"]["ClusterConfig"]
        resources = resource_config_file(current_host=host, hosts=hosts,
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
