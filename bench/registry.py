"""Registry benchmark: CreateModelPackage and DescribeModelPackage per second through boto3, and
ListModelPackages latency (server-side, from the Server-Timing header) on a group of 10,000 versions,
for SQLite and PostgreSQL.

    .venv/bin/python bench/registry.py [--versions 10000] [--seconds 10] [--threads 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support.server import create_pg_database, drop_pg_database, start_server  # noqa: E402

CONFIG = Config(retries={"max_attempts": 1}, max_pool_connections=32)


CREDENTIALS: dict[str, str] = {}
"""The admin key of the server being measured (signatures are verified, as in production)."""


def client(url: str):  # type: ignore[no-untyped-def]
    return boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1", config=CONFIG, **CREDENTIALS)


def rate(url: str, threads: int, seconds: float, call) -> float:  # type: ignore[no-untyped-def]
    """Calls per second of ``call(client)`` from ``threads`` threads for ``seconds``."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def worker(i: int) -> None:
        c = client(url)
        while time.monotonic() < stop:
            call(c)
            counts[i] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    return sum(counts) / (time.monotonic() - started)


def server_ms(response) -> float:  # type: ignore[no-untyped-def]
    timing = response["ResponseMetadata"]["HTTPHeaders"]["server-timing"]
    return float(timing.split("dur=")[1])


def list_latency(url: str, group: str, versions: int) -> dict[str, float]:
    c = client(url)
    first = [server_ms(c.list_model_packages(ModelPackageGroupName=group, MaxResults=100)) for _ in range(30)]
    token, pages = None, 0
    while pages < versions // 100 - 1:
        kwargs = {"NextToken": token} if token else {}
        token = c.list_model_packages(ModelPackageGroupName=group, MaxResults=100, **kwargs)["NextToken"]
        pages += 1
    deep = [server_ms(c.list_model_packages(ModelPackageGroupName=group, MaxResults=100, NextToken=token))
            for _ in range(30)]
    newest = [server_ms(c.list_model_packages(ModelPackageGroupName=group, MaxResults=100, SortOrder="Descending",
                                              ModelApprovalStatus="Approved")) for _ in range(30)]
    return {"first_page_ms_p50": statistics.median(first), "deep_page_ms_p50": statistics.median(deep),
            "approved_filter_ms_p50": statistics.median(newest)}


def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    c = client(url)
    group = "bench-group"
    c.create_model_package_group(ModelPackageGroupName=group)
    spec = {"Containers": [{"Image": "sagemaker-scikit-learn:1.2-1", "ModelDataUrl": "s3://b/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}
    create_rate = rate(url, args.threads, args.seconds,
                       lambda cl: cl.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec))
    paginator = c.get_paginator("list_model_packages")
    created = [sum(len(p["ModelPackageSummaryList"]) for p in paginator.paginate(
        ModelPackageGroupName=group, PaginationConfig={"PageSize": 100}))]
    lock = threading.Lock()

    def fill(cl) -> None:  # type: ignore[no-untyped-def]
        while True:
            with lock:
                if created[0] >= args.versions:
                    return
                created[0] += 1
            cl.create_model_package(ModelPackageGroupName=group, InferenceSpecification=spec)

    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(fill, [client(url) for _ in range(args.threads)]))
    arn = f"arn:aws:sagemaker:us-east-1:000000000000:model-package/{group}/42"
    c.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    describe_rate = rate(url, args.threads, args.seconds, lambda cl: cl.describe_model_package(ModelPackageName=arn))
    return {"create_per_s": create_rate, "describe_per_s": describe_rate,
            **list_latency(url, group, args.versions)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "sqlite")
        CREDENTIALS.update(server.credentials)
        try:
            results["sqlite"] = measure(server.url, args)
        finally:
            server.stop()
        url, name = create_pg_database()
        server = start_server(Path(tmp) / "pg", database_url=url)
        CREDENTIALS.update(server.credentials)
        try:
            results["postgres"] = measure(server.url, args)
        finally:
            server.stop()
            drop_pg_database(name)
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'store':10} {'create/s':>9} {'describe/s':>11} {'list p1 ms':>11} {'list deep ms':>13} "
          f"{'approved ms':>12}")
    for store, r in results.items():
        print(f"{store:10} {r['create_per_s']:9.0f} {r['describe_per_s']:11.0f} {r['first_page_ms_p50']:11.2f} "
              f"{r['deep_page_ms_p50']:13.2f} {r['approved_filter_ms_p50']:12.2f}")


if __name__ == "__main__":
    main()
