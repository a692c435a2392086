"""Simulated equipment that talks to the controller only through the message bus (never wms.control)."""
