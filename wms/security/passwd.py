"""Mosquitto password-file hashes: ``$7$`` is PBKDF2-HMAC-SHA512, the ``mosquitto_passwd`` default."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping

# mosquitto_passwd's own default. The passwords we generate are random 256-bit tokens, so key stretching
# would add nothing; a hash with more iterations is accepted too (Mosquitto reads the count from the hash).
ITERATIONS = 101
SALT_BYTES = 12
DIGEST_BYTES = 64


def new_password() -> str:
    """A random 256-bit password, URL-safe (letters, digits, ``-`` and ``_``), so URLs need no quoting."""
    return secrets.token_urlsafe(32)


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$iterations$salt$digest`` hash Mosquitto 2 checks a CONNECT's password against."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, DIGEST_BYTES)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify_password(password: str, hashed: str) -> bool:
    """Whether ``password`` matches a ``$7$`` hash (as written by us or by ``mosquitto_passwd``)."""
    parts = hashed.split("$")
    if len(parts) != 5 or parts[0] or parts[1] != "7" or not parts[2].isdigit():
        return False
    try:
        salt, digest = base64.b64decode(parts[3], validate=True), base64.b64decode(parts[4], validate=True)
    except ValueError:
        return False
    mine = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(parts[2]), len(digest))
    return hmac.compare_digest(mine, digest)


def password_file(passwords: Mapping[str, str]) -> str:
    """A Mosquitto ``password_file``: one ``user:$7$…`` line per user, sorted by user name."""
    for user in passwords:
        if not user or ":" in user or "\n" in user:
            raise ValueError(f"user name {user!r} cannot go into a Mosquitto password file")
    return "".join(f"{user}:{hash_password(passwords[user])}\n" for user in sorted(passwords))
