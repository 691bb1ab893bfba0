"""Run part of the test suite as a normal (non-root) user, from a test run that is root.

A normal user cannot run the project's own venv (its interpreter may live under /root, 0700), so a
runtime of its own is prepared, readable by everyone and owned by root::

    /var/cache/modelyard-tests/normal-user/<key>/venv     the locked dependencies (``uv export --frozen``)
        on a system interpreter; built once per uv.lock, interpreter and uv (``key``), kept across runs
    /tmp/modelyard-normal-user-XXXX/                      one run, removed afterwards
        tree/      a copy of src/modelyard, tests/ and pyproject.toml
        venv/      a bare venv whose .pth puts the cached dependencies and tree/src on sys.path
                   (as the project's editable install does: the sandbox binds what a .pth names)
        home/      the user's HOME and pytest's base temp, the only place it may write

pytest then runs under ``setpriv`` as ``nobody``, with the caller's environment less what names root's
own places. Where /dev/net/tun is not usable by other users (a host without udev keeps it 0600;
distributions make it 0666), the run gets a private mount namespace whose /dev/net holds a 0666
node of the same device, so slirp4netns can run: nothing on the host changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from modelyard.runtime.sandbox import find_bwrap
from modelyard.runtime.uvtool import find_uv

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path("/var/cache/modelyard-tests/normal-user")
USER = "nobody"
SYSTEM_PYTHONS = ("/usr/bin/python3", "/usr/bin/python3.11", "/usr/bin/python3.12", "/usr/bin/python3.13")
TUN = Path("/dev/net/tun")
_DROPPED_VARIABLES = ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP", "UV_CACHE_DIR", "TMPDIR",
                      "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_RUNTIME_DIR", "PYTEST_ADDOPTS",
                      "PYTEST_CURRENT_TEST", "PYTEST_VERSION")
_USERNS_KNOBS = {"/proc/sys/user/max_user_namespaces": "0", "/proc/sys/kernel/unprivileged_userns_clone": "0",
                 "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1"}


@dataclass(frozen=True)
class Unavailable:
    """Why the normal-user run cannot happen here; ``expected``: whether this machine should allow it
    (root, user namespaces enabled), so a CI run fails rather than skips."""

    reason: str
    expected: bool


@dataclass
class InnerRun:
    """What the normal user's pytest did: node ids by outcome, its exit status and its output."""

    returncode: int
    output: str
    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def unavailable() -> Unavailable | None:
    """None when this root process can run tests as ``nobody`` in bwrap's own user namespace."""
    if os.geteuid() != 0:
        return Unavailable("this test run is not root: the sandbox suite itself runs as this normal user", False)
    for knob, off in _USERNS_KNOBS.items():
        with contextlib.suppress(OSError):
            if Path(knob).read_text().strip() == off:
                return Unavailable(f"unprivileged user namespaces are disabled here ({knob} is {off})", False)
    try:
        pwd.getpwnam(USER)
    except KeyError:
        return Unavailable(f"there is no user {USER}", True)
    missing = [tool for tool in ("setpriv", "unshare", "mount", "mknod") if shutil.which(tool) is None]
    bwrap = find_bwrap()
    if bwrap is None:
        missing.append("bwrap")
    if missing:
        return Unavailable(f"{', '.join(missing)} not installed (./scripts/setup installs them)", True)
    if system_python() is None:
        return Unavailable(f"no system Python 3.10 or later at {', '.join(SYSTEM_PYTHONS)} for {USER} to run", True)
    trial = subprocess.run(
        [*as_user(), bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
         "--unshare-user", "--disable-userns", "--cap-drop", "ALL", "--die-with-parent", "true"],
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    if trial.returncode != 0:
        return Unavailable(f"bwrap cannot make a user namespace as {USER}: {trial.stderr.strip()}", True)
    return None


def as_user() -> list[str]:
    """The command prefix that drops this root process to ``nobody`` with no supplementary groups."""
    entry = pwd.getpwnam(USER)
    return ["setpriv", f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups", "--"]


def system_python() -> str | None:
    """A system interpreter everyone may run, of the version pyproject requires (3.10+)."""
    for candidate in SYSTEM_PYTHONS:
        path = os.path.realpath(candidate)
        if not os.path.isfile(path) or not os.stat(path).st_mode & stat.S_IXOTH:
            continue
        version = subprocess.run([path, "-c", "import sys; print(sys.version_info >= (3, 10))"],
                                 capture_output=True, text=True, timeout=30)
        if version.stdout.strip() == "True":
            return path
    return None


def dependencies_venv(python: str) -> Path:
    """The cached, world-readable venv of the locked dependencies (test extra, not the project) for
    ``python``; built when uv.lock, the interpreter or uv changed, older ones removed."""
    uv = find_uv()
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout
    key = hashlib.sha256((ROOT / "uv.lock").read_bytes() + f"\0{python}\0{version}".encode()).hexdigest()[:16]
    final = CACHE / key
    if (final / "venv" / ".complete").exists():
        return final / "venv"
    CACHE.mkdir(parents=True, exist_ok=True)
    for directory in (CACHE.parent, CACHE):
        directory.chmod(0o755)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=CACHE))
    try:
        requirements = building / "requirements.txt"
        _run([uv, "export", "--frozen", "--no-emit-project", "--no-header", "--quiet", "--extra", "test",
              "--output-file", str(requirements)], cwd=ROOT)
        _run([uv, "venv", "--quiet", "--python", python, str(building / "venv")])
        _run([uv, "pip", "install", "--quiet", "--python", str(building / "venv" / "bin" / "python"),
              "-r", str(requirements)])
        _open_up(building)
        (building / "venv" / ".complete").touch()
        os.replace(building, final)
    except OSError:
        if not (final / "venv" / ".complete").exists():
            raise
    finally:
        shutil.rmtree(building, ignore_errors=True)
    for old in CACHE.iterdir():
        if old.name != key and not old.name.startswith(".building-"):
            shutil.rmtree(old, ignore_errors=True)
    return final / "venv"


@contextlib.contextmanager
def run_directory(python: str, dependencies: Path) -> Iterator[Path]:
    """A fresh per-run directory (tree, venv, home; see the module docstring), removed afterwards."""
    base = Path(tempfile.mkdtemp(prefix="modelyard-normal-user-"))
    try:
        tree = base / "tree"
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
        shutil.copytree(ROOT / "src" / "modelyard", tree / "src" / "modelyard", ignore=ignore)
        shutil.copytree(ROOT / "tests", tree / "tests", ignore=ignore)
        shutil.copy2(ROOT / "pyproject.toml", tree / "pyproject.toml")
        _run([find_uv(), "venv", "--quiet", "--python", python, str(base / "venv")])
        site = next((base / "venv" / "lib").glob("python*/site-packages"))
        dependency_site = next((dependencies / "lib").glob("python*/site-packages"))
        (site / "modelyard_normal_user.pth").write_text(f"{dependency_site}\n{tree / 'src'}\n")
        _open_up(base)
        home = base / "home"
        home.mkdir(mode=0o700)
        entry = pwd.getpwnam(USER)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


def run_pytest(base: Path, arguments: Sequence[str], *, deselect: Mapping[str, str] | None = None,
               timeout: float) -> InnerRun:
    """Run ``pytest arguments`` in ``base``'s tree as ``nobody`` and read its JUnit report; ``deselect``
    maps node ids left out to the reason."""
    home = base / "home"
    report = home / "report.xml"
    command = [*as_user(), str(base / "venv" / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-rfEs", f"--basetemp={home / 'pytest'}", f"--junitxml={report}",
               *[f"--deselect={node}" for node in deselect or {}], *arguments]
    if not _usable_by_others(TUN):
        command = _with_open_tun(command)
    environment = {name: value for name, value in os.environ.items() if name not in _DROPPED_VARIABLES}
    environment.update(HOME=str(home), USER=USER, LOGNAME=USER, PYTHONDONTWRITEBYTECODE="1")
    process = subprocess.Popen(command, cwd=base / "tree", env=environment, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        output += f"\n(killed after {timeout:.0f} s, with every process of its group: its servers)"
    run = InnerRun(process.returncode, output)
    if report.exists():
        _read_report(report, run)
    return run


def run_python(base: Path, code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -c code`` as ``nobody`` with ``base``'s venv, on the host's own /dev/net/tun."""
    home = base / "home"
    environment = {name: value for name, value in os.environ.items() if name not in _DROPPED_VARIABLES}
    environment.update(HOME=str(home), USER=USER, LOGNAME=USER, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([*as_user(), str(base / "venv" / "bin" / "python"), "-c", code], cwd=home,
                          env=environment, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout)


def tun_usable_by_others() -> bool:
    """Whether every user may open /dev/net/tun (the distributions' 0666)."""
    return _usable_by_others(TUN)


def _with_open_tun(command: list[str]) -> list[str]:
    """``command`` in a private mount namespace whose /dev/net/tun everyone may open."""
    device = os.stat(TUN).st_rdev
    script = (f"mount -t tmpfs -o mode=0755,size=64k modelyard-tun {TUN.parent} && "
              f"mknod -m 0666 {TUN} c {os.major(device)} {os.minor(device)} && exec \"$@\"")
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh", *command]


def _usable_by_others(path: Path) -> bool:
    try:
        return path.stat().st_mode & 0o006 == 0o006
    except OSError:
        return False


def _read_report(report: Path, run: InnerRun) -> None:
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        module = case.get("classname", "").replace(".", "/")
        node = f"{module}.py::{case.get('name')}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            run.failed.append(node)
        elif skipped is not None:
            run.skipped[node] = skipped.get("message", "")
        else:
            run.passed.append(node)


def _open_up(directory: Path) -> None:
    """Let everyone read ``directory`` and cross its subdirectories (nothing becomes writable)."""
    directory.chmod(directory.stat().st_mode | 0o755)
    for root, directories, files in os.walk(directory):
        for name in directories:
            path = Path(root) / name
            path.chmod(path.stat().st_mode | 0o755)
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                path.chmod(path.stat().st_mode | 0o044 | (0o011 if path.stat().st_mode & 0o100 else 0))



def _run(argv: Sequence[str], cwd: Path | None = None) -> None:
    done = subprocess.run(list(argv), cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
