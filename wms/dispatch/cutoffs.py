"""Carrier cut-offs in local time turned into absolute instants."""

from __future__ import annotations

from wms.config import Carrier

DAY = 86400.0


def next_daily(minutes: list[int], now: float, utc_offset_h: float) -> float:
    """The first of some daily local times (minutes after midnight, sorted) strictly after ``now``."""
    offset = utc_offset_h * 3600.0
    local = now + offset
    midnight = local - (local % DAY)
    for day in (0.0, DAY):
        for m in minutes:
            t = midnight + day + m * 60.0
            if t > local:
                return t - offset
    raise ValueError("no daily times given")


def next_cutoff(carrier: Carrier, now: float, utc_offset_h: float) -> float:
    """The first departure of ``carrier`` strictly after ``now`` (seconds since the epoch)."""
    return next_daily(carrier.cutoff_minutes(), now, utc_offset_h)


def local_hhmm(ts: float, utc_offset_h: float) -> str:
    """``HH:MM`` local time of an instant."""
    secs = int((ts + utc_offset_h * 3600.0) % DAY)
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}"


def local_minute(ts: float, utc_offset_h: float) -> int:
    """Minutes since local midnight of an instant."""
    return int((ts + utc_offset_h * 3600.0) % DAY) // 60
