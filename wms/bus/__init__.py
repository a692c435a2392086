"""Message buses: MQTT (paho) for real runs, in-process for virtual-time runs."""

from wms.bus.base import Bus, Handler, Will, encode
from wms.bus.inproc import InProcBroker

__all__ = ["Bus", "Handler", "InProcBroker", "Will", "encode"]
