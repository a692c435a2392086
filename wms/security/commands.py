"""Commands ``wms security creds`` and ``wms security url``; `register` adds them to the ``wms`` app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from wms.config import ConfigError, load_warehouse
from wms.console.stderr import err, fail
from wms.security.credentials import ACL, PASSWD, SECRETS, Credentials

security_app = typer.Typer(help="MQTT accounts and ACLs: credentials for a fleet, client URLs.")


@security_app.command("creds")
def creds(
    out: Annotated[Path, typer.Option("--out", help="directory for secrets.toml, passwd and acl")],
    config: Annotated[
        Path | None, typer.Option("--config", help="warehouse TOML (default config/warehouse.toml)")
    ] = None,
    serial: Annotated[
        list[str] | None, typer.Option("--serial", help="one more robot serial number (repeatable)")
    ] = None,
    rotate: Annotated[bool, typer.Option(help="new passwords for every account, not just new ones")] = False,
) -> None:
    """Generate MQTT credentials for the fleet of a warehouse config: accounts, passwords, ACL.

    Writes ``secrets.toml`` (user, role and password per client, for the clients), and the Mosquitto
    ``passwd`` (hashes) and ``acl`` files (for the broker), all mode 0600. Run again after the fleet grew:
    existing accounts keep their passwords unless ``--rotate`` is given.
    """
    try:
        cfg = load_warehouse(config)
    except ConfigError as exc:
        raise fail(f"config: {exc}") from None
    keep = None
    if (out / SECRETS).exists() and not rotate:
        try:
            keep = Credentials.load(out)
        except ValueError as exc:
            raise fail(str(exc)) from None
        if keep.partition != cfg.site.partition:
            raise fail(f"{out} holds the credentials of partition {keep.partition!r}; use another --out")
    try:
        new = Credentials.for_config(cfg, serial or (), keep=keep)
    except ValueError as exc:
        raise fail(str(exc)) from None
    files = new.write(out)
    table = Table(title=f"MQTT accounts of partition {new.partition}", show_edge=False)
    for column in ("user", "role", "password"):
        table.add_column(column)
    for user, account in new.accounts.items():
        kept = keep is not None and keep.passwords.get(user) == new.passwords[user]
        table.add_row(user, account.role.value, "kept" if kept else "new")
    err.print(table, soft_wrap=False)
    err.print(
        f"wrote {files[SECRETS]} (for the clients), {files[PASSWD]} and {files[ACL]} (for Mosquitto); "
        "see docs/security.md"
    )


@security_app.command("url")
def url(
    name: Annotated[str, typer.Argument(help="robot serial, user name or role (controller, console, cli…)")],
    creds_dir: Annotated[Path, typer.Option("--creds", help="directory written by `wms security creds`")],
    mqtt: Annotated[
        str, typer.Option("--mqtt", help="broker URL without credentials, e.g. mqtts://host:8883?ca=ca.crt")
    ] = "mqtt://127.0.0.1:1883",
) -> None:
    """Print the broker URL with one client's user name and password, for --mqtt of other commands."""
    try:
        print(Credentials.load(creds_dir).url(mqtt, name))
    except (ValueError, KeyError) as exc:
        raise fail(str(exc).strip('"')) from None


def register(app: typer.Typer, bench: typer.Typer) -> None:
    """Add the ``security`` group to ``app`` (``bench`` gets nothing)."""
    app.add_typer(security_app, name="security")
