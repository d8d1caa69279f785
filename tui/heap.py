"""Keeps the garbage collector's full passes short while the dashboard runs.

A full pass visits every object the collector tracks. Most of them (Textual, Rich, the styles,
the screens, the first rows) live as long as the process, and visiting them made a full pass
take 30 to 150 ms on the 2-core development machine, every few seconds while downloads stream:
a key pressed then waited for it. Once the first data is on screen they are collected once and
frozen (``gc.freeze``), so later passes only visit what came after.
"""

from __future__ import annotations

import gc

_settled = False


def settle() -> None:
    """Collect once, then move every surviving object out of the collector's sight.

    Once per process: what comes later (data, renders) stays collectable. The one collection
    is a single pause (tens of ms) right after the first full frame.
    """
    global _settled
    if _settled:
        return
    _settled = True
    gc.collect()
    gc.freeze()
