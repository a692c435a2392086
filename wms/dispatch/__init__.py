"""Dispatch: carrier departures by cut-off, manifests, the 24-hour promise."""
