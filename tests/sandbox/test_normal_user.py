"""The escape suite again with the server as a normal user (``nobody``), from a root test run.

A normal-user server sandboxes differently (``modelyard.runtime.identity``: bwrap's own user namespace,
``--cap-drop ALL``, ``--disable-userns``; rlimits where no cgroup tree is delegated to it), so the
suite runs once more as that user (``tests.support.normal_user``): the backend-level attempts, then
real servers started by that user with models, jobs and images probing for escapes. Every selected
test must pass: a skip would hide what a normal user gets, so the few that need a root server are
left out by name, each with its reason.

Skipped where this run is not root (the whole suite then runs as a normal user already) or where the
kernel disables unprivileged user namespaces; under CI a machine that should allow it and does not fails.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.normal_user import (
    ROOT,
    dependencies_venv,
    run_directory,
    run_pytest,
    run_python,
    system_python,
    tun_usable_by_others,
    unavailable,
)

BACKEND_LEVEL = (
    "tests/sandbox/test_privileges.py", "tests/sandbox/test_view.py", "tests/sandbox/test_network.py",
    "tests/sandbox/test_limits.py", "tests/sandbox/test_cgroup_limits.py", "tests/sandbox/test_build.py",
    "tests/runtime/test_sandbox.py", "tests/runtime/test_writable.py", "tests/runtime/test_process.py",
    "tests/storage/test_local_policy.py",
)  # fmt: skip
SERVER_LEVEL = (
    "tests/sandbox/test_endpoint_escapes.py", "tests/sandbox/test_job_escapes.py",
    "tests/sandbox/test_training_escapes.py", "tests/sandbox/test_transform_escapes.py",
    "tests/sandbox/test_byoc_escapes.py", "tests/sandbox/test_job_limits.py",
)  # fmt: skip
_CGROUPS = ("needs a cgroup tree the server may write (a root server's v1 or v2, or a v2 subtree systemd "
            "delegated to the user); a normal user started from a root run has none and gets rlimits")
NEEDS_ROOT = {
    "tests/sandbox/test_cgroup_limits.py::test_a_busy_container_gets_no_more_than_its_cpu_quota": _CGROUPS,
    "tests/sandbox/test_cgroup_limits.py::test_workers_that_together_pass_the_memory_limit_are_killed_as_one":
        _CGROUPS,
    "tests/sandbox/test_cgroup_limits.py::test_a_fork_bomb_stops_at_the_group_pids_limit": _CGROUPS,
    "tests/sandbox/test_cgroup_limits.py::test_the_group_is_removed_when_the_container_ends": _CGROUPS,
    "tests/sandbox/test_cgroup_limits.py::test_groups_of_a_server_that_died_are_removed_by_the_next_one": _CGROUPS,
    "tests/sandbox/test_job_limits.py::test_training_workers_over_the_memory_limit_fail_the_job_with_the_reason":
        _CGROUPS,
}
"""Left out of the normal user's run, by node id, with the reason. Not run at all: test_limit_breaches.py
(cgroup limits through a server), tests/runtime/test_job_network.py (a multi-host job's network is made
by a root server) and test_uid_leases.py (uids are leased only by a root server)."""


@pytest.fixture(scope="module")
def normal_user_run() -> Iterator[Path]:
    """A per-run directory the normal user can run the suite from (``tests.support.normal_user``)."""
    problem = unavailable()
    if problem is not None:
        if problem.expected and os.environ.get("CI"):
            pytest.fail(f"CI must run the escape suite as a normal user, but: {problem.reason}")
        pytest.skip(f"cannot run the suite as a normal user: {problem.reason}")
    python = system_python()
    assert python is not None
    with run_directory(python, dependencies_venv(python)) as base:
        yield base


@pytest.mark.slow
@pytest.mark.timeout(1200)
@pytest.mark.parametrize("modules", [BACKEND_LEVEL, SERVER_LEVEL], ids=["backend", "server"])
def test_the_escape_suite_passes_as_a_normal_user(normal_user_run: Path, modules: tuple[str, ...]) -> None:
    run = run_pytest(normal_user_run, modules, deselect=NEEDS_ROOT, timeout=1100)
    tail = "\n".join(run.output.splitlines()[-60:])
    assert run.failed == [], f"failed as a normal user: {run.failed}\n{tail}"
    assert run.skipped == {}, f"skipped as a normal user (leave a test out by name in NEEDS_ROOT instead): " \
                              f"{run.skipped}\n{tail}"
    assert run.returncode == 0, tail
    silent = [module for module in modules if not any(node.startswith(f"{module}::") for node in run.passed)]
    assert silent == [], f"no test of {silent} ran as the normal user\n{tail}"
    assert not set(run.passed) & set(NEEDS_ROOT), "a test left out by name ran anyway"


NETWORK = r"""
import json, logging, sys, tempfile
from pathlib import Path
from modelyard.runtime import ContainerSpec, ProcessBackend
logging.basicConfig(level=logging.WARNING)
backend = ProcessBackend(sandbox=True)
work = Path(tempfile.mkdtemp())
spec = ContainerSpec(argv=[sys.executable, "-c", "print(open('/proc/net/dev').read())"], opt_ml=work / "opt_ml",
                     stdout_path=work / "log")
code = backend.start(spec).wait(60)
lines = (work / "log").read_text().splitlines()[2:]
print(json.dumps({"slirp": backend.slirp is not None, "code": code,
                  "interfaces": sorted(line.split(":")[0].strip() for line in lines if ":" in line)}))
"""


@pytest.mark.slow
def test_a_normal_users_containers_get_outbound_network_only_where_it_may_open_tun(normal_user_run: Path) -> None:
    done = run_python(normal_user_run, NETWORK)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["code"] == 0, (seen, done.stderr)
    if tun_usable_by_others():
        assert seen["slirp"] and seen["interfaces"] == ["lo", "tap0"], seen
    else:
        assert not seen["slirp"] and seen["interfaces"] == ["lo"], seen
        assert "this user may not open /dev/net/tun, which slirp4netns needs: containers get no network" in done.stderr


def test_every_test_left_out_by_name_exists() -> None:
    for node, reason in NEEDS_ROOT.items():
        path, _, name = node.partition("::")
        assert path in BACKEND_LEVEL + SERVER_LEVEL and reason, node
        source = (ROOT / path).read_text()
        assert re.search(rf"^def {re.escape(name)}\(", source, re.MULTILINE), f"{node} no longer exists"
