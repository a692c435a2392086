"""The one way inbound XML is parsed: size-limited, no DTD or entities, no network, bounded depth and text."""

from __future__ import annotations

from lxml import etree

from wms.limits import MAX_PAYLOAD_BYTES, check_size


def parser() -> etree.XMLParser:
    """A fresh hardened parser (lxml parsers are not shared between threads)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        dtd_validation=False,
    )


def parse_xml(
    xml: object, what: str, error: type[Exception], limit: int = MAX_PAYLOAD_BYTES
) -> etree._Element:
    """The root element of ``xml`` (bytes, or str as UTF-8); anything unsafe or malformed raises ``error``.

    Refused: over ``limit`` bytes (before parsing), a DOCTYPE (so no entity, external or internal, is ever
    declared, let alone expanded), depth over 256 and text nodes over 10 MB (libxml2 without ``huge_tree``).
    """
    if isinstance(xml, str):
        check_size(xml, what, limit, error)
        try:
            xml = xml.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise error(f"{what}: not encodable as UTF-8: {exc.reason} at {exc.start}") from None
    if not isinstance(xml, bytes | bytearray | memoryview):
        raise error(f"{what}: expected XML bytes, got {type(xml).__name__}")
    check_size(xml, what, limit, error)
    data = bytes(xml)
    if not data.strip():
        raise error(f"{what}: empty message")
    try:
        root = etree.fromstring(data, parser())
    except (etree.LxmlError, ValueError) as exc:
        raise error(f"{what}: not well-formed XML: {exc}") from None
    if root is None:
        raise error(f"{what}: no root element")
    info = root.getroottree().docinfo
    if info.internalDTD is not None or info.doctype or info.system_url or info.public_id:
        raise error(f"{what}: a DOCTYPE is not allowed (no entities or DTDs are accepted)")
    return root
