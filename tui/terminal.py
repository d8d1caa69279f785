"""Noticing that the terminal is gone: an SSH session dropped, tmux killed, a laptop closed.

The kernel tells only the session's leader (SIGHUP). Started as the leader, the app gets it
and leaves; under ``make demo`` the leader is make, which waits for its child and passes
nothing on, and Textual's input thread then reads end-of-file from the hung-up terminal again
and again, at full CPU, for ever. So the app also asks the terminal itself, once a second: a
hung-up terminal answers every question with EIO.
"""

from __future__ import annotations

import sys
import termios

EXIT_HANGUP = 129  # 128 + SIGHUP, as a shell reports a process the hangup ended


class TerminalWatch:
    """The terminal the app reads keys from, and whether it is still there."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd  # None: no terminal to watch (piped, headless)

    @classmethod
    def of_stdin(cls) -> TerminalWatch:
        stream = sys.__stdin__
        try:
            fd = stream.fileno() if stream is not None and stream.isatty() else None
        except (OSError, ValueError):  # closed, or not a real file
            fd = None
        return cls(fd)

    def gone(self) -> bool:
        if self.fd is None:
            return False
        try:
            termios.tcgetattr(self.fd)
        except (termios.error, OSError):
            return True
        return False
