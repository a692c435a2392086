"""Picking: stock allocation, batching orders onto carts, and pick routes."""
