"""Text in the XML documents: forbidden characters never make a document ill-formed."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from modelyard.wire.errors import ValidationException
from modelyard.wire.query_protocol import encode_error as query_error
from modelyard.wire.rest_xml import encode_error as rest_xml_error
from modelyard.wire.xml_text import xml_message, xml_text

HOSTILE = "a\x00b\x1bc\ud800d\ufffee<&>\tf\n"


def test_messages_spell_out_what_xml_cannot_hold() -> None:
    assert xml_message(HOSTILE) == "a\\x00b\\x1bc\\ud800d\\ufffee&lt;&amp;&gt;\tf\n"
    assert xml_message("plain <text>") == "plain &lt;text&gt;"


def test_values_carry_forbidden_characters_as_references_as_s3_does() -> None:
    assert xml_text("k\x01ey&") == "k&#x1;ey&amp;"
    assert xml_text("caf\u00e9") == "caf\u00e9"


def test_error_documents_of_both_protocols_parse_whatever_the_message_holds() -> None:
    error = ValidationException(f"Value '{HOSTILE}' at 'roleName' failed to satisfy constraint")
    _, _, body = query_error(error, "https://iam.amazonaws.com/doc/2010-05-08/", "req-1")
    message = ET.fromstring(body).find(".//{*}Message")
    assert message is not None and message.text is not None and "a\\x00b" in message.text
    _, _, body = rest_xml_error(error, "req-2")
    message = ET.fromstring(body).find("Message")
    assert message is not None and message.text is not None and "\\ud800" in message.text
