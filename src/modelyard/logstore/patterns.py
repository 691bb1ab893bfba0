"""CloudWatch filter patterns, the subset that applies to unstructured log lines.

Supported: the empty pattern (everything); terms and ``"quoted phrases"``, all of which must appear
(case-sensitive substrings); ``?term`` alternatives, at least one of which must appear; ``-term``
exclusions. Not supported, answered as an error: JSON patterns ``{ $.x = ... }``, space-delimited
patterns ``[a, b, ...]`` and regular expressions ``%...%``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from modelyard.logstore.errors import UnsupportedPattern

Matcher = Callable[[str], bool]


@dataclass(frozen=True)
class Terms:
    """A parsed pattern: required, alternative and excluded substrings."""

    required: tuple[str, ...] = ()
    any_of: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()

    def matches(self, message: str) -> bool:
        """Whether ``message`` satisfies the pattern."""
        return (all(term in message for term in self.required)
                and (not self.any_of or any(term in message for term in self.any_of))
                and not any(term in message for term in self.excluded))


def compile_pattern(pattern: str | None) -> Matcher:
    """A predicate over messages for ``pattern``; raises UnsupportedPattern for other syntax."""
    text = (pattern or "").strip()
    if not text:
        return lambda message: True
    if text[0] in "{[" or (text[0] == "%" and text.endswith("%") and len(text) > 1):
        kind = {"{": "JSON", "[": "space-delimited", "%": "regular-expression"}[text[0]]
        raise UnsupportedPattern(
            f"{kind} filter patterns are not supported by modelyard; use terms, \"quoted phrases\", "
            "?alternatives and -exclusions")
    required: list[str] = []
    any_of: list[str] = []
    excluded: list[str] = []
    for marker, term in _tokens(text):
        {"": required, "?": any_of, "-": excluded}[marker].append(term)
    return Terms(tuple(required), tuple(any_of), tuple(excluded)).matches


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens = []
    index = 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        marker = ""
        if text[index] in "?-":
            marker = text[index]
            index += 1
        if index < len(text) and text[index] == '"':
            term, index = _quoted(text, index + 1)
        else:
            start = index
            while index < len(text) and not text[index].isspace():
                if text[index] == '"':
                    raise UnsupportedPattern(f"Invalid filter pattern {text!r}: a quote inside a term")
                index += 1
            term = text[start:index]
        if not term:
            raise UnsupportedPattern(f"Invalid filter pattern {text!r}: an empty term")
        tokens.append((marker, term))
    return tokens


def _quoted(text: str, index: int) -> tuple[str, int]:
    chars = []
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            chars.append(text[index + 1])
            index += 2
        elif char == '"':
            return "".join(chars), index + 1
        else:
            chars.append(char)
            index += 1
    raise UnsupportedPattern(f"Invalid filter pattern {text!r}: unterminated quoted phrase")
