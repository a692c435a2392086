"""MQTT security: one account per client, per-robot ACLs, Mosquitto files and the embedded broker's auth.

``Credentials.load(dir).url(base_url, name)`` gives a client its ``mqtt://user:pass@host:port`` URL;
``EmbeddedBroker(auth=dir)`` enforces the same accounts and rights. See docs/security.md.
"""

from wms.security.accounts import Account, Role, fleet_accounts, robot_serials, service_user
from wms.security.credentials import Credentials

__all__ = ["Account", "Credentials", "Role", "fleet_accounts", "robot_serials", "service_user"]
