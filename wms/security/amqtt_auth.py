"""Authentication and ACLs for the amqtt fallback broker: amqtt's own plugins plus a last-will check."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from amqtt.plugins.base import BaseAuthPlugin
from amqtt.plugins.topic_checking import TopicAccessControlListPlugin
from amqtt.session import Session
from pwdlib.hashers.argon2 import Argon2Hasher

from wms.security.credentials import Credentials

log = logging.getLogger(__name__)

# amqtt's FileAuthPlugin takes argon2 (not Mosquitto's $7$). Light parameters: the passwords are random
# 256-bit tokens, so stretching adds nothing, while amqtt checks each CONNECT on its event loop.
_HASHER = Argon2Hasher(time_cost=1, memory_cost=8192, parallelism=1)


class WillTopicPlugin(BaseAuthPlugin):
    """Refuses a CONNECT whose last will goes to a topic the user may not publish to.

    amqtt publishes wills without its topic check, so without this a robot could leave a forged
    ``connection`` message on another robot's topic.
    """

    @dataclass
    class Config:
        """Per user, the topic filters it may publish to."""

        publish_acl: dict[str, list[str]] = field(default_factory=dict)

    async def authenticate(self, *, session: Session) -> bool | None:
        """False for a will outside the user's publish ACL; None (no opinion) otherwise."""
        if not session or not session.will_flag:
            return None
        allowed = self.config.publish_acl.get(session.username or "", [])
        topic = session.will_topic or ""
        if any(TopicAccessControlListPlugin.topic_ac(topic, a) for a in allowed):
            return None
        log.warning("amqtt: %s refused: last will on %r not allowed", session.username, topic)
        return False


def amqtt_plugins(creds: Credentials, directory: Path) -> dict[str, Any]:
    """The amqtt ``plugins`` config enforcing ``creds``; its argon2 password file goes into ``directory``."""
    passwd = directory / "passwd.argon2"
    lines = (f"{u}:{_HASHER.hash(p)}\n" for u, p in sorted(creds.passwords.items()))
    passwd.write_text("".join(lines))
    passwd.chmod(0o600)
    publish = creds.publish_acl()
    return {
        "amqtt.plugins.authentication.FileAuthPlugin": {"password_file": str(passwd)},
        # amqtt 0.12 reads subscribe rights from `acl`; `publish_acl` turns publish checking on.
        "amqtt.plugins.topic_checking.TopicAccessControlListPlugin": {
            "acl": creds.subscribe_acl(),
            "publish_acl": publish,
        },
        f"{__name__}.WillTopicPlugin": {"publish_acl": publish},
    }
