"""Real AWS region names, from botocore's endpoint data (every partition)."""

from __future__ import annotations

from functools import cache


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition botocore knows (us-east-1, eu-west-3, cn-north-1 …)."""
    from botocore.loaders import create_loader

    data = create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def is_region(name: str) -> bool:
    """Whether ``name`` is a real AWS region."""
    return name in known_regions()
