"""The key store and the server's key ring, in process: sealed secrets, new keys at once, deleted
keys within the refresh time, a flood of unknown keys bounded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from modelyard.auth.keys import KeyRing, KeyStore
from modelyard.auth.policy import allows, check_patterns
from modelyard.auth.secrets import SecretBox, SecretUnreadable, load_server_secret
from modelyard.store.database import Database


@pytest.fixture()
def store(tmp_path: Path) -> KeyStore:
    return KeyStore(Database.connect(f"sqlite:///{tmp_path / 'db.sqlite'}"), SecretBox(load_server_secret(tmp_path)))


def test_secrets_are_sealed_and_bound_to_their_key(store: KeyStore, tmp_path: Path) -> None:
    made = store.create("a", "123456789012")
    sealed = store.box.seal(made.key.access_key_id, made.secret)
    assert made.secret not in sealed and store.box.open(made.key.access_key_id, sealed) == made.secret
    with pytest.raises(SecretUnreadable):
        store.box.open("AKIAOTHERKEY00000000", sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox(b"\0" * 32).open(made.key.access_key_id, sealed)
    assert (tmp_path / "server-secret").stat().st_mode & 0o777 == 0o600
    with pytest.raises(ValueError):
        store.create("a", "12345")


def test_the_ring_sees_new_keys_at_once_and_deleted_ones_within_the_refresh(store: KeyStore) -> None:
    ring = KeyRing(store, refresh_seconds=0.5, miss_seconds=0.05)
    assert ring.lookup("AKIANOTHERE000000000") is None
    time.sleep(0.06)
    made = store.create("b", "123456789012", ("logs:*",))
    found = ring.lookup(made.key.access_key_id)
    assert found is not None and found[1] == made.secret and found[0].allow == ("logs:*",)
    store.delete(made.key.access_key_id)
    assert ring.lookup(made.key.access_key_id) is not None
    time.sleep(0.55)
    assert ring.lookup(made.key.access_key_id) is None
    reads = []
    ring.refresh = lambda: reads.append(1)  # type: ignore[method-assign]
    for index in range(1000):
        ring.lookup(f"AKIAUNKNOWN{index:09d}")
    assert len(reads) <= 1


def test_action_patterns() -> None:
    patterns = check_patterns(["sagemaker:Describe*", "sagemaker:InvokeEndpoint", "logs:*"])
    assert allows(patterns, "sagemaker:DescribeModelPackage") and allows(patterns, "sagemaker:invokeendpoint")
    assert allows(patterns, "logs:FilterLogEvents") and not allows(patterns, "sagemaker:CreateModel")
    assert not allows(patterns, "sagemaker:InvokeEndpointAsync") and allows(None, "sagemaker:CreateModel")
    assert allows(check_patterns(["*"]), "logs:GetLogEvents")
    for bad in ("", "sagemaker", "sage maker:X", "sagemaker:Create Model"):
        with pytest.raises(ValueError):
            check_patterns([bad])
