"""The script the multi-instance tests train and process with (plain Python on the generic image).

``host.py`` reports what its host sees (resourceconfig.json, SM_* variables, its hostname, its channel
files, what it can reach) and acts by ``--mode``:

    talk      every host listens on 0.0.0.0:7000 (the same port on every host: each has its own network),
              sends its report to every other host by name and collects theirs; algo-1 saves them all
    fail-2    algo-2 raises ValueError at once; the others sleep (they must be stopped)
    listen    listen on --port and sleep (another job tries to reach it)
    reach     try --targets (host:port,...) and report which connected, then finish as ``talk``
"""

from __future__ import annotations

import json
from typing import Any

from tests.jobs_e2e.jobs_support import BUCKET, put, training_request

HOST_SCRIPT = r'''
import argparse, json, os, socket, sys, threading, time

parser = argparse.ArgumentParser()
parser.add_argument("--mode", default="talk")
parser.add_argument("--port", type=int, default=7000)
parser.add_argument("--targets", default="")
args = parser.parse_args()

config_dir = "/opt/ml/input/config" if os.path.isdir("/opt/ml/input/config") else "/opt/ml/config"
with open(os.path.join(config_dir, "resourceconfig.json")) as handle:
    resource = json.load(handle)
me, hosts = resource["current_host"], resource["hosts"]
files = {}
for root in ("/opt/ml/input/data", "/opt/ml/processing/input"):
    for directory, _, names in os.walk(root):
        for name in names:
            path = os.path.join(directory, name)
            files[os.path.relpath(path, root)] = open(path).read()
report = {"host": me, "hostname": socket.gethostname(), "resource": resource, "files": files,
          "env": {k: v for k, v in os.environ.items() if k.startswith("SM_") and k not in ("SM_TRAINING_ENV",)},
          "address": socket.gethostbyname(me)}
print(f"{me} starting; score={hosts.index(me) + 1}", flush=True)

if args.mode == "fail-2":
    if me == "algo-2":
        raise ValueError("algo-2 broke on purpose")
    time.sleep(600)
if args.mode == "listen":
    server = socket.create_server(("0.0.0.0", args.port))
    print("listening", flush=True)
    time.sleep(600)
if args.mode == "reach":
    reached = {}
    for target in [t for t in args.targets.split(",") if t]:
        host, port = target.rsplit(":", 1)
        try:
            socket.create_connection((host, int(port)), timeout=3).close()
            reached[target] = "connected"
        except OSError as exc:
            reached[target] = type(exc).__name__
    report["reached"] = reached

received = []
server = socket.create_server(("0.0.0.0", 7000))
server.settimeout(60)

def collect():
    for _ in hosts[1:]:
        conn, _ = server.accept()
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        received.append(json.loads(data))

collector = threading.Thread(target=collect)
collector.start()
for other in hosts:
    if other == me:
        continue
    for attempt in range(100):
        try:
            conn = socket.create_connection((other, 7000), timeout=5)
            break
        except OSError:
            time.sleep(0.1)
    else:
        raise SystemExit(f"{me} could not reach {other}")
    conn.sendall(json.dumps(report).encode())
    conn.close()
collector.join()
everything = {"written_by": me, "reports": sorted([report, *received], key=lambda r: r["host"])}
if "SM_MODEL_DIR" in os.environ:
    path = os.path.join(os.environ["SM_MODEL_DIR"], "reports.json")
else:
    os.makedirs("/opt/ml/processing/output", exist_ok=True)
    path = f"/opt/ml/processing/output/{me}.json"
with open(path, "w") as handle:
    json.dump(everything, handle)
print(f"{me} done with {len(received)} peers", flush=True)
'''


def two_hosts(name: str, source: str, mode: str, **extra: Any) -> dict[str, Any]:
    """A CreateTrainingJob request: HOST_SCRIPT on two hosts in ``mode`` (output under s3://BUCKET/mh-out)."""
    request = training_request(name, program="host.py", submit=source, output=f"s3://{BUCKET}/mh-out",
                               hyperparameters={"mode": mode, **extra.pop("hyperparameters", {})}, **extra)
    request["ResourceConfig"]["InstanceCount"] = 2
    return request


def sharded_talk(s3: Any, name: str, source: str, shared: tuple[str, ...]) -> dict[str, Any]:
    """Five files in a ShardedByS3Key channel and ``shared`` ones in a FullyReplicated one, under ``name``/;
    the two-host "talk" request over them, with a ``score`` metric."""
    for index in range(5):
        put(s3, f"{name}/sharded/part-{index}.csv", f"row {index}\n")
    for file in shared:
        put(s3, f"{name}/shared/{file}.csv", f"{file}\n")
    request = two_hosts(name, source, "talk", channels={"sharded": f"s3://{BUCKET}/{name}/sharded/",
                                                        "shared": f"s3://{BUCKET}/{name}/shared/"})
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataDistributionType"] = "ShardedByS3Key"
    request["AlgorithmSpecification"]["MetricDefinitions"] = [{"Name": "score", "Regex": r"score=(\d+)"}]
    return request


def start_sharded_processing(s3: Any, sm: Any, name: str) -> None:
    """A 2-host processing job of ``host.py`` in talk mode on four objects, ShardedByS3Key, each host's
    report uploaded to s3://BUCKET/<name>/out/."""
    code = put(s3, f"{name}/code/host.py", HOST_SCRIPT)
    for index in range(4):
        put(s3, f"{name}/in/part-{index}.csv", f"{index}\n")
    sm.create_processing_job(
        ProcessingJobName=name, RoleArn="arn:aws:iam::000000000000:role/modelyard",
        AppSpecification={"ImageUri": "modelyard/python:3.11",
                          "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/host.py"]},
        ProcessingResources={"ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large",
                                               "VolumeSizeInGB": 5}},
        ProcessingInputs=[
            {"InputName": "code", "S3Input": {"S3Uri": code, "LocalPath": "/opt/ml/processing/input/code",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File"}},
            {"InputName": "data", "S3Input": {"S3Uri": f"s3://{BUCKET}/{name}/in/",
                                              "LocalPath": "/opt/ml/processing/input/data",
                                              "S3DataType": "S3Prefix", "S3InputMode": "File",
                                              "S3DataDistributionType": "ShardedByS3Key"}}],
        ProcessingOutputConfig={"Outputs": [{"OutputName": "reports", "S3Output": {
            "S3Uri": f"s3://{BUCKET}/{name}/out", "LocalPath": "/opt/ml/processing/output",
            "S3UploadMode": "EndOfJob"}}]},
        StoppingCondition={"MaxRuntimeInSeconds": 300})


def check_sharded_processing(s3: Any, name: str) -> None:
    """Every host of ``start_sharded_processing``'s job uploaded its report, saw its config and its share."""
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{name}/out/")["Contents"])
    assert keys == [f"{name}/out/algo-1.json", f"{name}/out/algo-2.json"]
    written = json.loads(s3.get_object(Bucket=BUCKET, Key=keys[1])["Body"].read())
    assert written["written_by"] == "algo-2"
    reports = {report["host"]: report for report in written["reports"]}
    for host in ("algo-1", "algo-2"):
        assert reports[host]["resource"]["current_host"] == host
        assert reports[host]["resource"]["hosts"] == ["algo-1", "algo-2"]
    assert sorted(k for k in reports["algo-1"]["files"] if k.startswith("data/")) == ["data/part-0.csv",
                                                                                        "data/part-2.csv"]
    assert sorted(k for k in reports["algo-2"]["files"] if k.startswith("data/")) == ["data/part-1.csv",
                                                                                        "data/part-3.csv"]
