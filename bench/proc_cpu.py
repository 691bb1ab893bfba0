"""CPU time per request of each process behind a target, from /proc, around wrk rounds.

    groups = {"server": lambda: [pid], "toolkit": lambda: toolkit_pids()}
    rounds = cpu_rounds({"modelyard": (url, groups), ...}, cycles=3, dur=5)
    print(cpu_table(rounds))

Each round runs ``wrk -t1 -c8`` on one target (the targets in rotating order, as
../shared/bench/compare.py does) and reads utime+stime of every process of each group (threads
included) before and after; the CPU a group spent divided by the requests wrk completed is its
CPU per request. Load on the machine slows the rounds but barely moves these numbers, which is
why they are the instrument and req/s is not. ``wrk`` is wrk's own CPU (the load generator).
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

TICK = os.sysconf("SC_CLK_TCK")
LUA = Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "post.lua"
HEADER_LUA = Path(__file__).resolve().parent / "post_header.lua"
"""post.lua plus one request header (``header="Name: value"``)."""

Pids = Callable[[], list[int]]
Target = tuple[str, dict[str, Pids]]


def ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, stime) of a process (all its threads), in clock ticks; zeros once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[12])


def cmdline(pid: int) -> str:
    """A process's command line, spaces between arguments ('' once it is gone)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def descendants(root: int) -> list[int]:
    """Every live process below ``root`` (not ``root`` itself)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def matching(root: int, *needles: str, include_root: bool = False) -> Pids:
    """A group: the processes below ``root`` (and ``root`` itself if asked) whose command line holds one
    of ``needles`` (every one when none is given)."""
    def pids() -> list[int]:
        candidates = ([root] if include_root else []) + descendants(root)
        return [pid for pid in candidates if not needles or any(n in cmdline(pid) for n in needles)]
    return pids


def anywhere(*needles: str) -> Pids:
    """A group: every process on the machine whose command line holds all of ``needles`` (for servers that
    detach from their parent, as multi-model-server's java frontend and its workers do)."""
    def pids() -> list[int]:
        own = os.getpid()
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != own:
                line = cmdline(int(entry.name))
                if all(needle in line for needle in needles):
                    found.append(int(entry.name))
        return found
    return pids


def others(root: int, *groups: Pids) -> Pids:
    """A group: the processes below ``root`` in none of ``groups``."""
    def pids() -> list[int]:
        taken = {pid for group in groups for pid in group()}
        return [pid for pid in descendants(root) if pid not in taken]
    return pids


def wrk(url: str, conns: int, dur: int, body: str, content_type: str, header: str | None = None) -> dict[str, float]:
    """One wrk round through the shared post.lua (``header``: one more request header, "Name: value");
    its JSON summary."""
    parts = urlsplit(url)
    env = dict(os.environ, WRK_PATH=parts.path or "/", WRK_BODY=body, WRK_CT=content_type, WRK_HEADER=header or "")
    script = HEADER_LUA if header else LUA
    out = subprocess.run(["wrk", "-t1", f"-c{conns}", f"-d{dur}s", "-s", str(script), f"{parts.scheme}://{parts.netloc}"],
                         env=env, capture_output=True, text=True, timeout=dur + 60).stdout
    line = next((text for text in out.splitlines() if text.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result for {url}:\n{out}")
    return dict(json.loads(line[8:]))


def one_round(url: str, groups: dict[str, Pids], dur: int, body: str, content_type: str,
              header: str | None = None) -> dict[str, float]:
    """CPU µs per request of each group (and of wrk) over one c=8 round, with its req/s and wrk's error
    count. A process that ends during the round is not counted; one that starts during it counts whole."""
    before = {name: {pid: ticks(pid) for pid in pids()} for name, pids in groups.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = wrk(url, 8, dur, body, content_type, header)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    requests = max(1, int(result["requests"]))
    row = {}
    for name, pids in groups.items():
        spent = kernel = 0
        for pid in pids():
            total, system = ticks(pid)
            earlier = before[name].get(pid, (0, 0))
            spent, kernel = spent + total - earlier[0], kernel + system - earlier[1]
        row[name] = spent / TICK * 1e6 / requests
        row[f"{name} (kernel)"] = kernel / TICK * 1e6 / requests
    row["wrk"] = ((after_children.ru_utime + after_children.ru_stime) -
                  (children.ru_utime + children.ru_stime)) * 1e6 / requests
    row["req/s"] = result["rps"]
    row["errors"] = result["errors"]
    return row


def cpu_rounds(targets: dict[str, Target], cycles: int = 3, dur: int = 5, body: str = "5.1,3.5,1.4,0.2",
               content_type: str = "text/csv") -> dict[str, dict[str, float]]:
    """The median over ``cycles`` rotating rounds of each target's per-group CPU µs per request."""
    names = list(targets)
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for cycle in range(cycles):
        start = cycle % len(names)
        for name in names[start:] + names[:start]:
            url, groups = targets[name]
            rows[name].append(one_round(url, groups, dur, body, content_type))
    return {name: {key: statistics.median(row[key] for row in rows[name]) for key in rows[name][0]}
            for name in names}


def cpu_table(medians: dict[str, dict[str, float]]) -> str:
    """A markdown table: target, process group, CPU µs per request; a total per target (wrk apart)."""
    lines = ["| target | process | CPU µs / request | of which kernel |", "|---|---|---|---|"]
    for name, row in medians.items():
        served = [key for key in row if key not in ("wrk", "req/s", "errors") and not key.endswith(" (kernel)")]
        for group in served:
            lines.append(f"| {name} | {group} | {row[group]:.1f} | {row[f'{group} (kernel)']:.1f} |")
        total = sum(row[group] for group in served)
        kernel = sum(row[f"{group} (kernel)"] for group in served)
        lines.append(f"| {name} | **total (serving)** | **{total:.1f}** | {kernel:.1f} |")
        lines.append(f"| {name} | wrk (load generator) | {row['wrk']:.1f} | |")
    return "\n".join(lines)
