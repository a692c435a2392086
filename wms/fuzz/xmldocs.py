"""Structure-aware mutation of XML messages, plus the classic attacks: XXE, entity bombs, DTDs, deep trees."""

from __future__ import annotations

import copy

from hypothesis import strategies as st
from lxml import etree

from wms.fuzz.values import TEXT_VALUES, damaged, pick
from wms.inspection.safexml import parser

XXE_FILE = b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
XXE_HTTP = b'<!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/x">]>'
XXE_PARAM = b'<!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>'
EXTERNAL_DTD = b'<!DOCTYPE r SYSTEM "file:///etc/passwd">'
LAUGHS = (
    b'<!DOCTYPE r [<!ENTITY xxe "lol">'
    + b"".join(
        b'<!ENTITY l%d "%s">' % (i, (b"&l%d;" % (i - 1) if i > 1 else b"&xxe;") * 10) for i in range(1, 10)
    )
    + b"]>"
)
QUADRATIC = b'<!DOCTYPE r [<!ENTITY xxe "' + b"A" * 50_000 + b'">]>'
DOCTYPES = [XXE_FILE, XXE_HTTP, XXE_PARAM, EXTERNAL_DTD, LAUGHS, QUADRATIC]
ENCODINGS = ["UTF-8"] * 6 + ["UTF-16", "GB18030", "ISO-8859-1", "ASCII"]
MAX_ELEMENTS = 5_000  # no further edits of a tree with more elements than this


def _elements(root: etree._Element) -> list[etree._Element]:
    """The elements of a tree (comments and processing instructions left out)."""
    return [el for el in root.iter() if isinstance(el.tag, str)]


def _set_text(el: etree._Element, text: str) -> None:
    """Set an element's text, or empty it when lxml refuses the text."""
    try:
        el.text = text
    except ValueError:  # not XML-compatible (control characters, lone surrogates)
        el.text = ""


@st.composite
def _mutate(draw: st.DrawFn, root: etree._Element) -> None:
    """One random edit of the tree (in place)."""
    el = pick(draw, _elements(root))
    parent = el.getparent()
    op = draw(
        st.sampled_from(
            ["text", "text", "text", "delete", "repeat", "rename", "empty", "deep", "move", "comment", "attr"]
        )
    )
    if op == "text":
        _set_text(el, draw(TEXT_VALUES))
    elif op == "delete" and parent is not None:
        parent.remove(el)
    elif op == "repeat" and parent is not None:
        for _ in range(pick(draw, [1, 2, 120])):
            parent.insert(parent.index(el), copy.deepcopy(el))
    elif op == "rename":
        local = etree.QName(el).localname
        el.tag = pick(draw, [local, local.upper(), "{urn:other}" + local, "CEB999Message", "x"])
    elif op == "empty":
        for child in list(el):
            el.remove(child)
    elif op == "deep":
        node = el
        for _ in range(pick(draw, [10, 250, 300])):
            node = etree.SubElement(node, el.tag)
    elif op == "move" and parent is not None:
        root.append(el)
    elif op == "comment":
        el.insert(0, etree.Comment("c") if draw(st.booleans()) else etree.ProcessingInstruction("pi", "x"))
    else:
        el.set(pick(draw, ["guid", "{http://www.w3.org/XML/1998/namespace}lang", "a"]), "1")


def _with_doctype(data: bytes, doctype: bytes, reference: bool) -> bytes:
    """``doctype`` after the XML declaration, and maybe ``&xxe;`` in the first element's text."""
    head, body = data.split(b"?>", 1) if data.startswith(b"<?xml") else (b"", data)
    if reference and b"</" in body:
        at = body.index(b"</")
        body = body[:at] + b"&xxe;" + body[at:]
    return (head + b"?>" if head else b"") + doctype + body


@st.composite
def xml_payloads(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A mutated seed message, re-encoded, sometimes with a hostile DOCTYPE, maybe damaged."""
    root = etree.fromstring(pick(draw, seeds), parser())
    for _ in range(draw(st.integers(0, 4))):
        if sum(1 for _ in root.iter()) > MAX_ELEMENTS:  # repeats of repeats multiply: stop in time
            break
        draw(_mutate(root))
    data = etree.tostring(root, encoding=pick(draw, ENCODINGS), xml_declaration=draw(st.booleans()))
    if draw(st.integers(0, 5)) == 0:
        data = _with_doctype(data, pick(draw, DOCTYPES), draw(st.booleans()))
    if draw(st.integers(0, 9)) == 0:
        data = data.replace(b'encoding="UTF-8"', pick(draw, [b'encoding="UTF-16"', b'encoding="x"']))
    return draw(damaged(data))
