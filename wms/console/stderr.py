"""The console every command writes its errors and progress to: stderr, with lines never folded."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.text import Text

EXIT_USAGE = 2  # a usage or input problem: the command did nothing
# commands that ask the running controller: it refused the request, or nothing answered in time
EXIT_REFUSED, EXIT_NO_ANSWER = 1, 3

# Folded at the terminal's width, a long path in an error was cut mid-word ("picks.cs v"): scripts and
# tests reading stderr get each message on one line. A table printed here passes soft_wrap=False.
err = Console(stderr=True, soft_wrap=True)


def problem(label: str, message: object) -> None:
    """Print ``label: message`` on stderr: the label in bold red, the message exactly as it is.

    The message is never read as Rich markup: a path or a value in it holding ``[/x]`` or ``[bold]``
    would otherwise be swallowed, or end the command with a MarkupError instead of the error.
    """
    err.print(Text.assemble((f"{label}:", "bold red"), " ", str(message)), highlight=False)


def fail(message: object) -> typer.Exit:
    """Print ``error: message`` (see `problem`); the exit (code 2) to raise."""
    problem("error", message)
    return typer.Exit(EXIT_USAGE)
