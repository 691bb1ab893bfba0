"""Worker-count benchmark: a model whose predict is CPU work, on an endpoint left to the toolkit's default
worker count (one per vCPU, as SageMaker's toolkits choose: 2 on ml.m5.large, capped at the machine's cores)
and on one pinned to one worker (``SAGEMAKER_MODEL_SERVER_WORKERS=1``, the default before), paired in one run.

    .venv/bin/python bench/workers.py [--work 20000] [--cycles 3] [--dur 5] [--warmup 5]

One server (auth off, as wrk does not sign) serves the same model twice; ../shared/bench/compare.py runs
paired wrk cycles, ``one-worker`` first (the reference). Each call sums ``--work`` squares in pure Python
(about 0.6 ms of CPU on these 2-core machines), so the model, not the server, is the bottleneck: the default should
approach the core count × one worker's throughput.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hosting import ROOT, compare, deploy, sagemaker_client  # noqa: E402

sys.path.insert(0, str(ROOT))
from tests.support.server import start_server  # noqa: E402

CPU_BOUND = '''
WORK = {work}

def model_fn(model_dir):
    return WORK

def transform_fn(model, body, content_type, accept):
    return str(sum(i * i for i in range(model))), "text/plain"
'''


def package(out: Path, inference: str) -> Path:
    """A model.tar.gz holding only ``code/inference.py``."""
    out.mkdir(parents=True)
    source = inference.encode()
    with tarfile.open(out / "model.tar.gz", "w:gz") as tar:
        entry = tarfile.TarInfo("code/inference.py")
        entry.size = len(source)
        tar.addfile(entry, io.BytesIO(source))
    return out / "model.tar.gz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=int, default=20000, help="squares summed per call")
    parser.add_argument("--cycles", type=int, default=3)
    parser.add_argument("--dur", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=5)
    args = parser.parse_args()
    print(f"cores {len(os.sched_getaffinity(0))}, load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(dir=Path.home()) as tmp:
        work = Path(tmp)
        data = f"file://{package(work / 'model', CPU_BOUND.format(work=args.work))}"
        server = start_server(work / "data", env={"MODELYARD_AUTH": "off"})
        try:
            sm = sagemaker_client(server.url)
            deploy(sm, "one-worker", data, environment={"SAGEMAKER_MODEL_SERVER_WORKERS": "1"})
            deploy(sm, "default", data)
            time.sleep(1)
            compare(args, [f"one-worker={server.url}/endpoints/one-worker/invocations",
                           f"default={server.url}/endpoints/default/invocations"])
        finally:
            server.stop()


if __name__ == "__main__":
    main()
