"""The console every command writes its errors and progress to: stderr, with lines never folded."""

from __future__ import annotations

from rich.console import Console

# Folded at the terminal's width, a long path in an error was cut mid-word ("picks.cs v"): scripts and
# tests reading stderr get each message on one line. A table printed here passes soft_wrap=False.
err = Console(stderr=True, soft_wrap=True)
