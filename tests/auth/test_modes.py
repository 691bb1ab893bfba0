"""``--auth off`` accepts any credentials but not a made-up region; auth on makes the file:// policy
an allow-list by default."""

from __future__ import annotations

import pytest

from modelyard.auth.authenticator import AnyCredentials
from modelyard.settings import settings_from_env
from modelyard.wire.auth import AuthRequest, AuthRules
from modelyard.wire.errors import ServiceError

JSON_RULES = AuthRules("sagemaker")


def request(authorization: str | None, rules: AuthRules = JSON_RULES) -> AuthRequest:
    headers = {"authorization": authorization} if authorization else {}
    return AuthRequest("POST", "/", "", headers, b"{}", rules, "sagemaker:ListModels")


def scoped(region: str) -> str:
    return f"AWS4-HMAC-SHA256 Credential=anything/20261130/{region}/sagemaker/aws4_request, SignedHeaders=host, " \
           "Signature=00"


def test_auth_off_accepts_any_credentials_in_a_real_region() -> None:
    off = AnyCredentials()
    assert off.verify(request(None)).region is None
    assert off.verify(request("garbage")).access_key is None
    assert off.verify(request(scoped("ap-southeast-2"))).region == "ap-southeast-2"
    for region, status in (("us-moon-1", 400), ("x" * 40, 400), ("eu-west-1'--", 403)):
        rules = AuthRules("sagemaker", 403) if status == 403 else AuthRules("sagemaker")
        with pytest.raises(ServiceError) as refused:
            off.verify(request(scoped(region), rules))
        assert (refused.value.code, refused.value.status) == ("InvalidSignatureException", status)


def test_auth_mode_and_the_file_uri_default() -> None:
    assert settings_from_env({}).auth is True and settings_from_env({}).file_uri_mode == "allow-list"
    off = settings_from_env({"MODELYARD_AUTH": "off"})
    assert off.auth is False and off.file_uri_mode == "any"
    assert settings_from_env({}, auth=False).file_uri_mode == "any"
    assert settings_from_env({"MODELYARD_FILE_URIS": "off"}).file_uri_mode == "off"
    assert settings_from_env({"MODELYARD_FILE_URIS": "any"}).file_uri_mode == "any"
    with pytest.raises(ValueError, match="MODELYARD_AUTH must be on or off"):
        settings_from_env({"MODELYARD_AUTH": "maybe"})
