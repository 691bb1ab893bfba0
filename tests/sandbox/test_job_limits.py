"""Jobs that break their container's limits fail with a FailureReason naming the limit; the server keeps
going. A server of its own gives each job 300 MiB of memory and 64 MiB of disk."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from modelyard.runtime.cgroups import cgroup_tree
from tests.conftest import client_for
from tests.jobs_e2e.jobs_support import BUCKET, put, server_env, sourcedir, stack, training_request, wait_training
from tests.support.server import ServerProcess, start_server

FILL_MODEL_DIR = '''
import os
with open("/opt/ml/model/weights.bin", "wb") as handle:
    for _ in range(1024):
        handle.write(b"w" * (1 << 20))
        handle.flush()
print("wrote 1 GiB")
'''

WORKERS_OVER_MEMORY = '''
import os, time
hold = []
children = []
for _ in range(3):
    child = os.fork()
    if child == 0:
        hold.append(b"m" * (150 << 20))
        time.sleep(60)
        os._exit(0)
    children.append(child)
for child in children:
    os.waitpid(child, 0)
print("all workers done")
'''


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server on the shared moto S3 whose job containers get 300 MiB and 64 MiB of disk."""
    jobs = stack()
    server = start_server(tmp_path_factory.mktemp("job-limits"),
                          env={**server_env(jobs.moto), "MODELYARD_MEMORY_LIMIT_MB": "300",
                               "MODELYARD_DISK_LIMIT_MB": "64"})
    yield server
    server.stop()


def _run(server: ServerProcess, unique: str, name: str, program: str) -> dict[str, Any]:
    sm, s3 = client_for(server, "sagemaker"), stack().s3()
    source = put(s3, f"{unique}/{name}/sourcedir.tar.gz", sourcedir({"train.py": program}))
    sm.create_training_job(**training_request(f"{unique}-{name}", program="train.py", submit=source,
                                              output=f"s3://{BUCKET}/{unique}/{name}/out", max_runtime=300))
    return wait_training(sm, f"{unique}-{name}", timeout=240)


def test_a_training_job_writing_past_its_disk_budget_fails_with_the_reason(
    server: ServerProcess, unique: str
) -> None:
    described = _run(server, unique, "disk", FILL_MODEL_DIR)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("ClientError:") and "disk limit" in reason and "64 MiB" in reason, reason
    assert server.process.poll() is None


def test_training_workers_over_the_memory_limit_fail_the_job_with_the_reason(
    server: ServerProcess, unique: str
) -> None:
    tree, note = cgroup_tree()
    if tree is None:
        pytest.skip(f"no usable cgroups on this host ({note}): each worker stays under its own rlimit")
    described = _run(server, unique, "memory", WORKERS_OVER_MEMORY)
    assert described["TrainingJobStatus"] == "Failed"
    reason = described["FailureReason"]
    assert reason.startswith("OutOfMemoryError:") and "memory limit of 300 MiB" in reason, reason

