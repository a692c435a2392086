"""Robots: VDA 5050 messages and the orders the controller sends to AGVs/AMRs."""
