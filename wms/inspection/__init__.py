"""Customs side of the warehouse: cross-border tax, inspection rules at the gate and CEB message I/O."""
