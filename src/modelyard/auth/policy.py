"""Which actions a key may call: IAM-style patterns such as ``sagemaker:Describe*`` or ``logs:*``.

The action of a call is ``<IAM prefix>:<operation>``; the prefix is the service's IAM prefix (its signing
name unless ``AuthRules.action_prefix`` says otherwise), so the runtime's InvokeEndpoint is
``sagemaker:InvokeEndpoint`` and CloudWatch's GetMetricData ``cloudwatch:GetMetricData``, as in IAM.
Matching is case-insensitive, ``*`` matches any run of characters and ``?`` one character.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

ACTION_PATTERN = re.compile(r"^(\*|[a-z0-9-]+:[A-Za-z0-9*?]+)$")


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns, refused with ValueError unless each is ``*`` or ``service:Action`` (wildcards allowed)."""
    checked = tuple(patterns)
    for pattern in checked:
        if not ACTION_PATTERN.match(pattern):
            raise ValueError(f"{pattern!r} is not an action pattern like sagemaker:InvokeEndpoint, "
                             "sagemaker:Describe* or logs:*")
    return checked


def allows(patterns: tuple[str, ...] | None, action: str) -> bool:
    """Whether ``action`` matches one of ``patterns`` (None: every action)."""
    return patterns is None or _compiled(patterns).match(action) is not None


@cache
def _compiled(patterns: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(p).replace(r"\*", ".*").replace(r"\?", ".") for p in patterns)
    return re.compile(f"^(?:{alternatives})$", re.IGNORECASE)
