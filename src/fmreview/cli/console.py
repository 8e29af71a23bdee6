"""The consoles every command prints through: 80 columns unless a terminal says otherwise.

Rich sizes a console from the terminal it finds on *any* of stdin, stdout or stderr, so
``fmreview find | less`` in a 200-column window, or a test run from a wide terminal, used
the window's width, and the same command wrapped differently in CI. Here a console that
does not write to a terminal is 80 columns wide (``COLUMNS`` still wins when set), so
output to a pipe, a file, CI or a test is the same everywhere.
"""

from __future__ import annotations

import os

from rich.console import Console, ConsoleDimensions

#: Width of output that does not go to a terminal (pipes, files, CI, tests).
PIPE_WIDTH = 80


class CliConsole(Console):
    """A rich console that is :data:`PIPE_WIDTH` wide when it does not write to a terminal."""

    @property  # type: ignore[override]
    def size(self) -> ConsoleDimensions:
        dims = super().size
        if self._width is None and not self.is_terminal and not os.environ.get("COLUMNS"):
            return ConsoleDimensions(PIPE_WIDTH, dims.height)
        return dims

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        width, height = new_size
        self._width = width
        self._height = height


def make_console(*, stderr: bool = False) -> Console:
    """A console for command output (stdout) or messages (``stderr=True``)."""
    return CliConsole(stderr=stderr)
