"""Sortation: the grid the sorting robots drive on, the chute plan, and their routes."""
