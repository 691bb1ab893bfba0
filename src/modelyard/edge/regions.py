"""The region a request names, checked before it reaches a service or the store.

``check_region`` is the one place a region is accepted: today a cheap syntactic guard (AWS's
``<area>-<subarea>-<number>`` shape, at most 32 characters, the store's column); the authentication
work extends it to the real partitions' regions.
"""

from __future__ import annotations

import re

from modelyard.wire.errors import ServiceError

MAX_REGION_CHARS = 32
_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}")


class InvalidRegion(ServiceError):
    """A credential scope naming something that is not an AWS region (AWS answers 403)."""

    code = "InvalidSignatureException"
    status = 403


def check_region(region: str) -> str:
    """``region`` if it is spelled like an AWS region name; else ``InvalidRegion`` saying why."""
    shown = region if len(region) <= 40 else region[:40] + "..."
    if len(region) > MAX_REGION_CHARS or _REGION.fullmatch(region) is None:
        raise InvalidRegion(f"Credential should be scoped to a valid region, not '{shown}' "
                            "(expected a region name such as us-east-1)")
    return region
