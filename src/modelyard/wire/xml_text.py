"""Text inside the XML documents the query and rest-xml protocols write.

``xml.sax.saxutils.escape`` handles ``& < >`` only: a control character (NUL, ESC …), a lone surrogate
or U+FFFE/U+FFFF from a request would pass through raw and make the whole document ill-formed XML 1.0,
so the client's parser fails instead of reading the answer. Two forms:

- ``xml_text`` — a stored value (an S3 key in a listing): characters XML 1.0 forbids are written as
  numeric character references, as S3 does; clients that expect such keys ask for ``EncodingType=url``.
- ``xml_message`` — an error message or field: those characters become ``\\xNN`` / ``\\uNNNN``, so
  every error document stays well-formed and says what was wrong.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` escaped for element content; forbidden characters as ``&#xN;``."""
    escaped = escape(value)
    if _NOT_XML.search(escaped) is None:
        return escaped
    return _NOT_XML.sub(lambda found: f"&#x{ord(found.group()):X};", escaped)


def xml_message(value: str) -> str:
    """``value`` escaped for element content, forbidden characters spelled out so the document parses."""
    escaped = escape(value)
    if _NOT_XML.search(escaped) is None:
        return escaped
    return _NOT_XML.sub(lambda found: _spelled(ord(found.group())), escaped)


def _spelled(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
