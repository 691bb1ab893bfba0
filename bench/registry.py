"""Registry benchmark: CreateModelPackage and DescribeModelPackage per second through boto3, and
ListModelPackages latency (server-side, from the Server-Timing header) on a group of 10,000 versions;
Search latency over those versions and over training jobs (jobs with an unregistered image, which
fail at once without a sandbox but are stored as any job), for SQLite and PostgreSQL.

    .venv/bin/python bench/registry.py [--versions 10000] [--jobs 2000] [--seconds 10] [--threads 8] [--json]
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


def median_ms(call) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(server_ms(call()) for _ in range(15))


def package_search_latency(url: str, group: str) -> dict[str, float]:
    """Search(ModelPackage) as the SDK's registry helpers send it, and an unnarrowed text filter."""
    c = client(url)
    in_group = {"Filters": [{"Name": "ModelPackageGroupName", "Value": group},
                            {"Name": "ModelApprovalStatus", "Value": "Approved"}]}
    every = {"Filters": [{"Name": "ModelPackageVersion", "Operator": "GreaterThan", "Value": "0"}]}
    return {"search_packages_group_ms_p50": median_ms(
                lambda: c.search(Resource="ModelPackage", SearchExpression=in_group)),
            "search_packages_all_ms_p50": median_ms(
                lambda: c.search(Resource="ModelPackage", SearchExpression=every, SortBy="CreationTime"))}


def job_search_latency(url: str, args: argparse.Namespace) -> dict[str, float]:
    """Fill the store with ``args.jobs`` training jobs, then time Search(TrainingJob)."""
    counter = [0]
    lock = threading.Lock()

    def fill(cl) -> None:  # type: ignore[no-untyped-def]
        while True:
            with lock:
                if counter[0] >= args.jobs:
                    return
                counter[0] += 1
                index = counter[0]
            cl.create_training_job(
                TrainingJobName=f"bench-job-{index}", RoleArn="arn:aws:iam::000000000000:role/bench",
                AlgorithmSpecification={"TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/bench:1",
                                        "TrainingInputMode": "File"},
                HyperParameters={"epochs": str(index % 50), "learning_rate": "0.1", "tag": f"run-{index}"},
                OutputDataConfig={"S3OutputPath": f"s3://bench/out/{index}"},
                ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 30},
                StoppingCondition={"MaxRuntimeInSeconds": 600})

    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(fill, [client(url) for _ in range(args.threads)]))
    c = client(url)
    while c.list_training_jobs(StatusEquals="InProgress", MaxResults=1)["TrainingJobSummaries"]:
        time.sleep(0.5)
    artifact = {"Filters": [{"Name": "ModelArtifacts.S3ModelArtifacts", "Value": "s3://bench/out/7/model.tar.gz"}]}
    hyper = {"Filters": [{"Name": "HyperParameters.epochs", "Value": "7"}]}
    failed = {"Filters": [{"Name": "TrainingJobStatus", "Value": "Failed"}]}
    return {"search_jobs_artifact_ms_p50": median_ms(
                lambda: c.search(Resource="TrainingJob", SearchExpression=artifact)),
            "search_jobs_hyperparameter_ms_p50": median_ms(
                lambda: c.search(Resource="TrainingJob", SearchExpression=hyper)),
            "search_jobs_all_ms_p50": median_ms(
                lambda: c.search(Resource="TrainingJob", SearchExpression=failed, SortBy="CreationTime"))}


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
            **list_latency(url, group, args.versions), **package_search_latency(url, group),
            **job_search_latency(url, args)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--jobs", type=int, default=2_000)
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
    print(f"\nSearch, server ms p50 ({args.versions} versions in one group, {args.jobs} training jobs)")
    print(f"{'store':10} {'pkg group':>10} {'pkg all':>9} {'job artifact':>13} {'job hyperparam':>15} "
          f"{'job all':>9}")
    for store, r in results.items():
        print(f"{store:10} {r['search_packages_group_ms_p50']:10.2f} {r['search_packages_all_ms_p50']:9.2f} "
              f"{r['search_jobs_artifact_ms_p50']:13.2f} {r['search_jobs_hyperparameter_ms_p50']:15.2f} "
              f"{r['search_jobs_all_ms_p50']:9.2f}")


if __name__ == "__main__":
    main()
