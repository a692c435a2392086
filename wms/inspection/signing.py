"""Signing of outgoing CEB messages as a pluggable step; the repository holds no keys.

The CEB621 writer emits an unsigned ``ds:Signature`` skeleton (SM2/SM3). A real signer (a hardware key or
the single-window signing service) implements `Signer` and is named on the command line as
``package.module:factory``; without one, `NoSigner` leaves the skeleton, so the message can be stored but
not declared.
"""

from __future__ import annotations

import importlib
from typing import Protocol, runtime_checkable

from lxml import etree

from wms.inspection.ceb import DS
from wms.inspection.safexml import parser


@runtime_checkable
class Signer(Protocol):
    """Turns a message with a signature skeleton into a signed message."""

    def sign(self, xml: bytes) -> bytes:
        """The signed message."""
        ...


class NoSigner:
    """Leaves the unsigned skeleton in place."""

    def sign(self, xml: bytes) -> bytes:
        """``xml`` unchanged."""
        return xml


def load_signer(spec: str | None) -> Signer:
    """The signer named ``module:attribute`` (a class or a no-argument factory), else `NoSigner`."""
    if not spec:
        return NoSigner()
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"signer {spec!r} must be given as module:attribute")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"signer {spec!r} cannot be loaded: {exc}") from None
    if isinstance(factory, type) or (callable(factory) and not isinstance(factory, Signer)):
        signer = factory()
    else:
        signer = factory
    if not isinstance(signer, Signer):
        raise ValueError(f"signer {spec!r} has no sign(xml) method")
    return signer


def is_signed(xml: bytes) -> bool:
    """Whether a message carries a non-empty signature value and digest."""
    root = etree.fromstring(xml, parser())
    value = root.findtext(f".//{{{DS}}}SignatureValue")
    digest = root.findtext(f".//{{{DS}}}DigestValue")
    return bool((value or "").strip()) and bool((digest or "").strip())
