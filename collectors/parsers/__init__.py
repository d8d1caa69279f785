"""Progress parsers: one small pure function per log format, each ``str -> Update | None``.

A parser sees one segment of a log (text between two ``\\n``/``\\r``, ANSI codes removed) and
says what it means, or ``None`` when the text is not its format. ``collectors.progress`` picks
the parser and merges the updates of one pod into a ``DownloadProgress``.
"""

from collectors.parsers.base import Update, UpdateKind

__all__ = ["Update", "UpdateKind"]
