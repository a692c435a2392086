"""Slotting: which storage slot each SKU gets."""
