"""Sentences made of the cluster's own words: evidence quoted from an event or a message often
ends with its own full stop, and a sentence built around it must not end with two."""

from __future__ import annotations

_STOPS = (".", "!", "?")


def upper_first(text: str) -> str:
    """Not str.capitalize: it lowercases the evidence."""
    return text[:1].upper() + text[1:]


def lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def unstopped(text: str) -> str:
    """``text`` without the full stop it may end with, to go inside a sentence (a quoted
    scheduler message ends with one: "... not helpful for scheduling.")."""
    text = text.rstrip()
    return text[:-1] if text.endswith(".") and not text.endswith("..") else text


def sentence(text: str) -> str:
    """``text`` as a sentence: its first letter upper case, one full stop at its end."""
    text = upper_first(text.rstrip())
    return text if not text or text.endswith(_STOPS) else text + "."
