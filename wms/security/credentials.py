"""The credentials of one partition's fleet: generated, written to a directory, read back to build URLs."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from wms.bus.mqtt import with_credentials
from wms.config import WarehouseConfig
from wms.security.accounts import Account, Role, fleet_accounts, robot_serials, service_user
from wms.security.acl import mosquitto_acl, rules_by_user
from wms.security.passwd import new_password, password_file

SECRETS = "secrets.toml"  # user -> role and password: for the clients, never for the broker host
PASSWD = "passwd"  # Mosquitto password_file (hashes only)
ACL = "acl"  # Mosquitto acl_file


@dataclass
class Credentials:
    """User names, roles and passwords of every MQTT client of one partition."""

    partition: str
    manufacturer: str
    accounts: dict[str, Account]
    passwords: dict[str, str] = field(repr=False)

    @classmethod
    def generate(
        cls,
        partition: str,
        manufacturer: str,
        serials: Iterable[str],
        keep: Credentials | None = None,
    ) -> Credentials:
        """Fresh random passwords for every account; those of ``keep`` are kept for users it already has."""
        accounts = {a.user: a for a in fleet_accounts(partition, serials)}
        old = keep.passwords if keep is not None else {}
        passwords = {u: old.get(u) or new_password() for u in accounts}
        return cls(partition, manufacturer, accounts, passwords)

    @classmethod
    def for_config(
        cls, cfg: WarehouseConfig, extra_serials: Iterable[str] = (), keep: Credentials | None = None
    ) -> Credentials:
        """Credentials for the partition, manufacturer and robots of a warehouse config, plus extra robots."""
        serials = [*robot_serials(cfg), *extra_serials]
        return cls.generate(cfg.site.partition, cfg.site.manufacturer, serials, keep)

    @classmethod
    def load(cls, path: str | Path) -> Credentials:
        """Read a credentials directory (or its ``secrets.toml``) written by `write`."""
        path = Path(path)
        file = path / SECRETS if path.is_dir() else path
        try:
            data = tomllib.loads(file.read_text())
            users = data["users"]
            accounts = {u: Account(u, Role(v["role"])) for u, v in users.items()}
            passwords = {u: str(v["password"]) for u, v in users.items()}
            return cls(str(data["partition"]), str(data["manufacturer"]), accounts, passwords)
        except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{file}: not a credentials file ({exc})") from exc

    def user_for(self, name: str) -> str:
        """The user name of a client: a robot serial, a user name, or a service role (``controller``…)."""
        if name in self.accounts:
            return name
        try:
            user = service_user(self.partition, Role(name))
        except ValueError:
            user = ""
        if user not in self.accounts:
            known = ", ".join(r.value for r in Role if r is not Role.ROBOT)
            raise KeyError(f"no MQTT account for {name!r} (a robot serial, a user name, or one of {known})")
        return user

    def url(self, base_url: str, name: str) -> str:
        """``base_url`` (``mqtt[s]://host:port[?ca=…]``) with the user and password of client ``name``."""
        user = self.user_for(name)
        return with_credentials(base_url, user, self.passwords[user])

    def acl_text(self) -> str:
        """The Mosquitto ``acl_file``."""
        return mosquitto_acl(self.accounts.values(), self.partition, self.manufacturer)

    def passwd_text(self) -> str:
        """The Mosquitto ``password_file`` (freshly salted hashes)."""
        return password_file(self.passwords)

    def publish_acl(self) -> dict[str, list[str]]:
        """Per user, the topics it may publish to (``%u`` expanded)."""
        rules = rules_by_user(self.accounts.values(), self.partition, self.manufacturer)
        return {u: [r.topic for r in rs if r.access in ("write", "readwrite")] for u, rs in rules.items()}

    def subscribe_acl(self) -> dict[str, list[str]]:
        """Per user, the topic filters it may subscribe to (``%u`` expanded)."""
        rules = rules_by_user(self.accounts.values(), self.partition, self.manufacturer)
        return {u: [r.topic for r in rs if r.access in ("read", "readwrite")] for u, rs in rules.items()}

    def secrets_text(self) -> str:
        """The ``secrets.toml`` that `load` reads."""
        lines = [
            f"# MQTT credentials of partition {self.partition}, written by `wms security creds`.",
            "# Secret (mode 0600): the clients read it; the broker needs only passwd and acl.",
            f"partition = {json.dumps(self.partition)}",
            f"manufacturer = {json.dumps(self.manufacturer)}",
        ]
        for user, account in self.accounts.items():
            lines += ["", f"[users.{json.dumps(user)}]", f"role = {json.dumps(account.role.value)}"]
            lines.append(f"password = {json.dumps(self.passwords[user])}")
        return "\n".join(lines) + "\n"

    def write(self, directory: str | Path, *, secrets: bool = True) -> dict[str, Path]:
        """Write ``passwd``, ``acl`` and (unless ``secrets`` is False) ``secrets.toml``, owner-only (0600)."""
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        files = {PASSWD: self.passwd_text(), ACL: self.acl_text()}
        if secrets:
            files[SECRETS] = self.secrets_text()
        return {name: _write_private(directory / name, text) for name, text in files.items()}


def _write_private(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` with mode 0600 from the start (never briefly world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)  # O_CREAT's mode does not apply to a file that already existed
    os.replace(tmp, path)
    return path
