"""Our ``$7$`` hashes are Mosquitto's: the same algorithm as ``mosquitto_passwd``, checked both ways."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from wms.security.passwd import hash_password, new_password, password_file, verify_password


def test_hash_format_and_roundtrip() -> None:
    hashed = hash_password("s3cret")
    empty, scheme, iterations, salt, digest = hashed.split("$")
    assert (empty, scheme, iterations) == ("", "7", "101")
    assert len(salt) == 16 and len(digest) == 88  # base64 of 12 and 64 bytes
    assert verify_password("s3cret", hashed)
    assert not verify_password("s3cret!", hashed)
    assert hash_password("s3cret") != hashed  # a fresh salt every time


def test_more_iterations_are_read_from_the_hash() -> None:
    assert verify_password("pw", hash_password("pw", iterations=20_000))


def test_malformed_hashes_never_verify() -> None:
    for bad in ("", "$6$abc$def", "$7$x$AAAA$AAAA", "$7$101$!!$AAAA", "plain"):
        assert not verify_password("pw", bad)


def test_new_passwords_are_long_random_and_url_safe() -> None:
    pws = {new_password() for _ in range(100)}
    assert len(pws) == 100
    assert all(len(p) >= 43 and p.replace("-", "").replace("_", "").isalnum() for p in pws)


def test_password_file_lines() -> None:
    text = password_file({"b": "pw-b", "a": "pw-a"})
    lines = text.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["a", "b"]
    assert verify_password("pw-a", lines[0].split(":", 1)[1])
    with pytest.raises(ValueError, match="password file"):
        password_file({"a:b": "pw"})


@pytest.mark.skipif(not shutil.which("mosquitto_passwd"), reason="mosquitto_passwd not installed")
def test_we_verify_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    """The other direction (Mosquitto accepting ours) is test_broker_auth / test_mosquitto_config."""
    file = tmp_path / "passwd"
    subprocess.run(["mosquitto_passwd", "-c", "-b", str(file), "alice", "wonder land"], check=True)
    user, hashed = file.read_text().strip().split(":", 1)
    assert user == "alice" and hashed.startswith("$7$")
    assert verify_password("wonder land", hashed)
    assert not verify_password("wonderland", hashed)
