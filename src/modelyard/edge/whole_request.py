"""An invocation request that arrived whole in one read, recognised without the HTTP parser.

The lean path's fast lane: when a connection is between requests and one read holds exactly one complete
``POST /endpoints/<name>/invocations`` request, its request line and headers are split here in a few C-level
calls instead of one parser callback per field. Only a strict subset of HTTP/1.1 is recognised::

    POST /endpoints/<letters, digits, hyphens>/invocations HTTP/1.1 CRLF
    (token ":" OWS [visible (visible | SP | HTAB)* visible] CRLF)*      no whitespace after a value
    CRLF
    exactly Content-Length bytes of body, and nothing after them

with every header name at most once, Content-Length present and all digits, and no Transfer-Encoding,
Connection, Expect or Upgrade header. Anything else (another version, obs-fold, a bare CR or LF, bytes
above 0x7E, a body cut short or followed by a next request) is not taken: the read goes to httptools as
before, which stays the judge of every request this module does not take whole.
"""

from __future__ import annotations

import re

_FIELD = r"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*((?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?)\r\n"
FIELD = re.compile(_FIELD)
HEAD = re.compile(r"POST (/endpoints/[A-Za-z0-9-]{1,63}/invocations) HTTP/1\.1\r\n((?:" + _FIELD + r")*)")
LEFT_TO_THE_PARSER = frozenset(("transfer-encoding", "connection", "expect", "upgrade"))
"""Headers whose meaning (framing, keep-alive, interim responses, protocol switch) the parser decides."""


class WholeRequest:
    """The parts of a request taken whole: its path, its headers (names lower-cased) and its body."""

    __slots__ = ("path", "headers", "body")

    def __init__(self, path: str, headers: dict[str, str], body: bytes) -> None:
        self.path = path
        self.headers = headers
        self.body = body


def take_whole(data: bytes, max_head: int) -> WholeRequest | None:
    """``data`` as one complete invocation request of the subset above whose request line and headers
    take at most ``max_head`` bytes, or None (leave it to the parser)."""
    end = data.find(b"\r\n\r\n", 0, max_head + 4)
    if end < 0:
        return None
    match = HEAD.fullmatch(data[:end + 2].decode("latin-1"))
    if match is None:
        return None
    headers: dict[str, str] = {}
    for name, value in FIELD.findall(match[2]):
        name = name.lower()
        if name in headers or name in LEFT_TO_THE_PARSER:
            return None
        headers[name] = value
    length = headers.get("content-length", "")
    if not length.isdigit() or int(length) != len(data) - end - 4:
        return None
    return WholeRequest(match[1], headers, data[end + 4:])
