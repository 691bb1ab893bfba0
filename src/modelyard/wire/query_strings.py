"""Query strings and form-encoded bodies as the AWS services read them: one value per name."""

from __future__ import annotations

from urllib.parse import parse_qsl


def first_values(text: str) -> dict[str, str]:
    """``name=value&…`` as a dictionary: the first value of a repeated name wins, bare names map to ""."""
    values: dict[str, str] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        values.setdefault(name, value)
    return values
