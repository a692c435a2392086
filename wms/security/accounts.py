"""Who connects to the broker: one MQTT account per robot and per service of a partition."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from wms.config import WarehouseConfig

# The characters VDA 5050 allows in a serial number; also safe in ACL %u substitution and in URLs.
NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


class Role(StrEnum):
    """What an account is for; its role decides its ACL (see `wms.security.acl`)."""

    CONTROLLER = "controller"
    ROBOT = "robot"
    CONVEYOR = "conveyor"
    XRAY = "xray"
    HOLD_LANE = "hold-lane"
    ORDER_FEED = "order-feed"
    CUSTOMS = "customs"
    CONSOLE = "console"
    CLI = "cli"


SERVICE_ROLES = tuple(r for r in Role if r is not Role.ROBOT)


@dataclass(frozen=True)
class Account:
    """One MQTT user name and its role."""

    user: str
    role: Role


def service_user(partition: str, role: Role) -> str:
    """User name of a service account: ``{partition}-{role}``, e.g. ``zz1-controller``."""
    if role is Role.ROBOT:
        raise ValueError("a robot's user name is its serial number")
    return f"{partition}-{role.value}"


def robot_serials(cfg: WarehouseConfig) -> list[str]:
    """Serial numbers of the configured fleet, named as the shift and the controller name them."""
    picking = [f"pick-{k + 1:02d}" for k in range(cfg.fleet.picking.count)]
    return picking + [f"sort-{k + 1:02d}" for k in range(cfg.fleet.sorting.count)]


def fleet_accounts(partition: str, serials: Iterable[str]) -> list[Account]:
    """Every service account of ``partition`` and one account per robot (user name = serial number)."""
    accounts = [Account(service_user(partition, role), role) for role in SERVICE_ROLES]
    services = {a.user for a in accounts}
    seen: set[str] = set()
    for serial in serials:
        if not NAME.fullmatch(serial):
            raise ValueError(f"robot serial {serial!r}: only letters, digits and _ . : - are allowed")
        if serial in services:
            raise ValueError(f"robot serial {serial!r} is the user name of a service account")
        if serial not in seen:
            seen.add(serial)
            accounts.append(Account(serial, Role.ROBOT))
    return accounts
