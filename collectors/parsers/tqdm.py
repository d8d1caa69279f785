"""tqdm bars as huggingface_hub and friends print them:

model.safetensors:  42%|████▏     | 1.23G/2.90G [00:10<00:14, 120MB/s]
"""

from __future__ import annotations

from collectors.parsers.base import Update, duration_text

SOURCE = "tqdm"


def _number(text: str) -> tuple[float, str] | None:
    """``1.23G`` -> (1.23, "G"); ``423`` -> (423.0, ""); units ``B``/``it`` dropped."""
    t = text.strip().removesuffix("B").removesuffix("it")
    unit = t[-1:] if t[-1:] in _UNITS else ""
    if unit:
        t = t[:-1]
    try:
        return float(t), unit
    except ValueError:
        return None


_UNITS = frozenset("kMGTP")
_POWER = {"": 0, "k": 1, "M": 2, "G": 3, "T": 4, "P": 5}


def parse(text: str) -> Update | None:
    """Parsed by hand around the ``%|`` that every tqdm bar has."""
    bar = text.find("%|")
    if bar < 1:
        return None
    end = text.find("|", bar + 2)
    if end < 0:
        return None
    head = text[:bar]
    digits = len(head) - len(head.rstrip("0123456789"))
    if not digits:
        return None
    desc = head[: len(head) - digits].strip().rstrip(":").strip() or None
    counts, _, bracket = text[end + 1 :].strip().partition("[")
    done_text, slash, total_text = counts.strip().partition("/")
    if not slash:
        return None
    done = _number(done_text)
    if done is None:
        return None
    total = _number(total_text) if total_text.strip() != "?" else None
    inside = bracket.partition("]")[0]
    times, _, rate_text = inside.partition(",")
    left = times.partition("<")[2]
    rate: float | None = None
    rate_text = rate_text.strip()
    if rate_text.endswith("/s") and not rate_text.startswith("?"):
        parsed = _number(rate_text[:-2])
        if parsed is not None:
            rate = parsed[0] * 1000 ** _POWER[parsed[1]]
    if desc and desc.startswith("Downloading"):
        desc = desc.removeprefix("Downloading").strip(" ()\u2026") or None
    # tqdm scales by 1000 unless told otherwise; the fraction is what matters.
    return Update(
        "progress",
        SOURCE,
        done=int(done[0] * 1000 ** _POWER[done[1]]),
        total=int(total[0] * 1000 ** _POWER[total[1]]) if total else None,
        rate=rate,
        eta=duration_text(left) if left and "?" not in left else None,
        file=desc,
    )
