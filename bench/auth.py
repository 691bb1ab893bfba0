"""What signature verification costs: CPU per request with auth on, paired with auth off.

    .venv/bin/python bench/auth.py [--requests 20000] [--rounds 5] [--json]

Two measurements, each alternating auth on and off round by round (the pairs cancel drift):

- verify: the authenticate stage alone (``SigV4Authenticator.verify`` vs ``AnyCredentials.verify``)
  on botocore-signed InvokeEndpoint (rest-json, 64-byte CSV body) and DescribeModelPackage (JSON 1.1)
  requests: parse, key lookup, scope and clock checks, canonical request, payload hash, one HMAC with
  the cached signing key, constant-time compare.
- pipeline: the whole in-process request (ASGI scope -> route -> body -> auth -> decode -> dispatch ->
  encode) of the same two requests against a server built by ``app.build_app`` with auth on and off
  (InvokeEndpoint of an endpoint that does not exist; DescribeModelPackage of a missing version, which
  reads the store).

CPU time is ``time.process_time``, so threads the pipeline's control-plane calls use count too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from modelyard.app import build_app  # noqa: E402
from modelyard.auth.authenticator import AnyCredentials, SigV4Authenticator  # noqa: E402
from modelyard.auth.keys import KeyRing, KeyStore  # noqa: E402
from modelyard.auth.secrets import SecretBox, load_server_secret  # noqa: E402
from modelyard.settings import settings_from_env  # noqa: E402
from modelyard.store.database import Database  # noqa: E402
from modelyard.wire.auth import AuthRequest, AuthRules  # noqa: E402

HOST = "127.0.0.1:8080"
PACKAGE = "arn:aws:sagemaker:us-east-1:000000000000:model-package/bench/1"


def signed(key: dict[str, str], service: str, method: str, path: str, headers: dict[str, str],
           body: bytes) -> dict[str, str]:
    request = AWSRequest(method=method, url=f"http://{HOST}{path}", data=body, headers=headers)
    SigV4Auth(Credentials(key["AccessKeyId"], key["SecretAccessKey"]), service, "us-east-1").add_auth(request)
    return {name.lower(): value for name, value in request.headers.items()} | {"host": HOST}


def requests(key: dict[str, str]) -> dict[str, tuple[str, str, dict[str, str], bytes, AuthRules, str]]:
    invoke_body = b"5.1,3.5,1.4,0.2\n" * 4
    describe_body = json.dumps({"ModelPackageName": PACKAGE}).encode()
    return {
        "InvokeEndpoint": ("POST", "/endpoints/bench/invocations",
                           signed(key, "sagemaker", "POST", "/endpoints/bench/invocations",
                                  {"Content-Type": "text/csv"}, invoke_body),
                           invoke_body, AuthRules("sagemaker", 403), "sagemaker:InvokeEndpoint"),
        "DescribeModelPackage": ("POST", "/",
                                 signed(key, "sagemaker", "POST", "/",
                                        {"Content-Type": "application/x-amz-json-1.1",
                                         "X-Amz-Target": "SageMaker.DescribeModelPackage"}, describe_body),
                                 describe_body, AuthRules("sagemaker"), "sagemaker:DescribeModelPackage"),
    }


def cpu_per_call(call: Callable[[], Any], count: int) -> float:
    started = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - started) / count


def paired(on: Callable[[], Any], off: Callable[[], Any], count: int, rounds: int) -> dict[str, float]:
    on(), off()
    ons, offs = [], []
    for _ in range(rounds):
        ons.append(cpu_per_call(on, count))
        offs.append(cpu_per_call(off, count))
    on_us, off_us = statistics.median(ons) * 1e6, statistics.median(offs) * 1e6
    return {"on_us": round(on_us, 2), "off_us": round(off_us, 2), "added_us": round(on_us - off_us, 2),
            "on_rounds_us": [round(x * 1e6, 2) for x in ons], "off_rounds_us": [round(x * 1e6, 2) for x in offs]}


def verify_stage(data_dir: Path, count: int, rounds: int) -> dict[str, Any]:
    settings = settings_from_env(data_dir=data_dir)
    db = Database.connect(settings.resolved_database_url)
    store = KeyStore(db, SecretBox(load_server_secret(data_dir)))
    key = store.create("bench", "000000000000").document()
    on, off = SigV4Authenticator(KeyRing(store)), AnyCredentials()
    results = {}
    for name, (method, path, headers, body, rules, action) in requests({k: str(v) for k, v in key.items()}).items():
        request = AuthRequest(method, path, "", headers, body, rules, action)
        results[name] = paired(lambda r=request: on.verify(r), lambda r=request: off.verify(r), count, rounds)
    db.dispose()
    return results


async def drive(app: Any, method: str, path: str, headers: dict[str, str], body: bytes) -> int:
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]}
    await app(scope, receive, send)
    return int(sent[0]["status"])


def pipeline(root: Path, count: int, rounds: int) -> dict[str, Any]:
    apps = {}
    for mode in ("on", "off"):
        settings = settings_from_env(data_dir=root / mode, auth=mode == "on", sandbox=False)
        apps[mode] = build_app(settings)
    key = json.loads((root / "on" / "admin-key.json").read_text())
    loop = asyncio.new_event_loop()
    results = {}
    for name, (method, path, headers, body, _, _) in requests(key).items():
        statuses = {mode: loop.run_until_complete(drive(app, method, path, headers, body))
                    for mode, app in apps.items()}
        assert statuses["on"] == statuses["off"] and statuses["on"] in (400, 404), statuses
        def one(mode: str, method: str = method, path: str = path, headers: dict[str, str] = headers,
                body: bytes = body) -> int:
            return loop.run_until_complete(drive(apps[mode], method, path, headers, body))

        results[name] = paired(lambda: one("on"), lambda: one("off"), count, rounds)
        results[name]["status"] = statuses["on"]
    loop.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {"verify": verify_stage(Path(tmp) / "keys", args.requests, args.rounds),
                   "pipeline": pipeline(Path(tmp) / "apps", max(args.requests // 10, 100), args.rounds)}
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for part, rows in results.items():
        for name, row in rows.items():
            print(f"{part:9} {name:21} auth on {row['on_us']:8.2f} µs  off {row['off_us']:8.2f} µs  "
                  f"added {row['added_us']:7.2f} µs CPU per request")


if __name__ == "__main__":
    main()
