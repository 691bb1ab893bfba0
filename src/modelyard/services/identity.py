"""STS ``GetCallerIdentity`` and IAM ``GetRole``: enough identity for the sagemaker SDK's
``get_execution_role()`` and for scripts that ask who they are.

modelyard has one execution role per account, ``arn:aws:iam::<account>:role/modelyard``; roles are not
enforced (a job's RoleArn is stored as given). Every caller is a session of that role, named by its access
key, as code on a SageMaker notebook instance is::

    GetCallerIdentity -> Account <account>, Arn arn:aws:sts::<account>:assumed-role/modelyard/<access key>
    GetRole(RoleName="modelyard") -> the role;  any other name -> NoSuchEntity (404)
"""

from __future__ import annotations

import json
import os
from hashlib import sha256
from typing import Any
from urllib.parse import quote

from modelyard.context import RequestContext
from modelyard.services.dispatch import operation
from modelyard.wire.errors import NoSuchEntity

EXECUTION_ROLE_NAME = "modelyard"
TRUST_POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def execution_role_arn(account: str) -> str:
    """The account's execution role."""
    return f"arn:aws:iam::{account}:role/{EXECUTION_ROLE_NAME}"


def role_id(account: str) -> str:
    """A stable IAM-style unique id of the account's role (``AROA`` + 17 characters)."""
    digest = sha256(f"{account}:{EXECUTION_ROLE_NAME}".encode()).hexdigest().upper()
    return "AROA" + digest[:17]


@operation("sts", "GetCallerIdentity")
def get_caller_identity(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The caller as a session of the account's execution role."""
    session = ctx.access_key or "anonymous"
    return {"UserId": f"{role_id(ctx.account)}:{session}", "Account": ctx.account,
            "Arn": f"arn:aws:sts::{ctx.account}:assumed-role/{EXECUTION_ROLE_NAME}/{session}"}


@operation("iam", "GetRole")
def get_role(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The account's execution role; NoSuchEntity for any other name."""
    name = request["RoleName"]
    if name != EXECUTION_ROLE_NAME:
        raise NoSuchEntity(f"The role with name {name} cannot be found. modelyard has one role per account, "
                           f"{execution_role_arn(ctx.account)}.")
    try:
        created = os.stat(ctx.settings.data_dir).st_ctime
    except OSError:
        created = ctx.now
    return {"Role": {
        "Path": "/", "RoleName": EXECUTION_ROLE_NAME, "RoleId": role_id(ctx.account),
        "Arn": execution_role_arn(ctx.account), "CreateDate": created,
        "AssumeRolePolicyDocument": quote(json.dumps(TRUST_POLICY, separators=(",", ":"))),
        "Description": "modelyard's execution role (roles are recorded, not enforced)",
        "MaxSessionDuration": 3600}}
