"""Where an invoke's CPU goes: py-spy over the server and the endpoint's toolkit under wrk load.

    .venv/bin/python bench/invoke_profile.py [--dur 15] [--py-spy PATH] [--out DIR] [--workers N]

Deploys the shared benchmark model (as bench/hosting.py does), drives InvokeEndpoint with wrk at c=8
and records both processes with ``py-spy record --nonblocking --format raw`` (idle threads left out) (collapsed stacks).
Prints the top frames by self time and by inclusive time for each, and the CPU per request from
/proc (bench/proc_cpu.py). py-spy is not a project dependency: install it anywhere
(``uv pip install py-spy`` into a scratch venv) and pass its path.
"""

from __future__ import annotations

import argparse
import collections
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from hosting import build_model, deploy  # noqa: E402
from proc_cpu import matching, one_round  # noqa: E402

from tests.support.server import start_server  # noqa: E402


def top(collapsed: Path, count: int = 25) -> str:
    """The frames with the most self samples and the most inclusive samples, as percentages."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        n = int(samples)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    lines = [f"{total} samples", "self:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(count)]
    lines.append("inclusive:")
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(count)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dur", type=int, default=15)
    parser.add_argument("--py-spy", default="py-spy")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        out = args.out or work
        out.mkdir(parents=True, exist_ok=True)
        build_model(work / "bm")
        server = start_server(work / "data", env={"MODELYARD_AUTH": "off"})
        try:
            sm = boto3.client("sagemaker", endpoint_url=server.url, region_name="us-east-1",
                              aws_access_key_id="bench", aws_secret_access_key="bench")
            environment = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(args.workers)} if args.workers else {}
            deploy(sm, "bench", f"file://{work / 'bm' / 'model.tar.gz'}", environment=environment)
            url = f"{server.url}/endpoints/bench/invocations"
            toolkit = matching(server.process.pid, "-m modelyard.toolkit")
            pythons = [pid for pid in toolkit() if "python" in Path(f"/proc/{pid}/comm").read_text()]
            groups = {"server": lambda: [server.process.pid], "toolkit": toolkit}
            one_round(url, groups, 3, "5.1,3.5,1.4,0.2", "text/csv")
            spies = []
            for name, pid in [("server", server.process.pid)] + [(f"toolkit-{pid}", pid) for pid in pythons]:
                spies.append((name, out / f"{name}.txt", subprocess.Popen(
                    [args.py_spy, "record", "--nonblocking", "--format", "raw", "--rate", "250",
                     "--pid", str(pid), "--output", str(out / f"{name}.txt"), "--duration", str(args.dur + 1)],
                    stdout=subprocess.DEVNULL, stderr=open(out / f"{name}.err", "w"))))
            time.sleep(1)
            row = one_round(url, groups, args.dur, "5.1,3.5,1.4,0.2", "text/csv")
            for _, _, spy in spies:
                spy.wait()
            print(f"under py-spy: {row['req/s']:.0f} req/s, server {row['server']:.1f} µs/req, "
                  f"toolkit {row['toolkit']:.1f} µs/req (kernel: server {row['server (kernel)']:.1f}, toolkit {row['toolkit (kernel)']:.1f})")
            for name, path, _ in spies:
                print(f"\n== {name} ==\n{top(path)}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
