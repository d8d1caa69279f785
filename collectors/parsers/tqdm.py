"""tqdm bars as huggingface_hub and friends print them:

model.safetensors:  42%|████▏     | 1.23G/2.90G [00:10<00:14, 120MB/s]
"""

from __future__ import annotations

import re

from collectors.parsers.base import Update, duration_text, scaled

SOURCE = "tqdm"

_BAR = re.compile(
    r"(?:^(?P<desc>.*?):?\s*)?(?P<pct>\d{1,3})%\|[^|]*\|\s*"
    r"(?P<done>[\d.]+)(?P<dunit>[kMGTP]?)(?:B|it)?/(?P<total>[\d.]+|\?)(?P<tunit>[kMGTP]?)(?:B|it)?"
    r"\s*\[(?P<elapsed>[\d:]+)(?:<(?P<left>[\d:?]+))?"
    r"(?:,\s*(?P<rate>[\d.?]+)\s*(?P<runit>[kMGTP]?)(?P<rkind>B/s|it/s|s/it|/s)?)?"
)


def parse(text: str) -> Update | None:
    if "%|" not in text:
        return None
    match = _BAR.search(text)
    if not match:
        return None
    # tqdm scales by 1000 unless told otherwise; the fraction is what matters.
    done = scaled(match["done"], match["dunit"], 1000)
    total = scaled(match["total"], match["tunit"], 1000) if match["total"] != "?" else None
    rate: float | None = None
    if match["rate"] and match["rate"] != "?" and match["rkind"] != "s/it":
        rate = float(scaled(match["rate"], match["runit"], 1000))
    desc = (match["desc"] or "").strip().rstrip(":").strip() or None
    if desc and desc.startswith("Downloading"):
        desc = desc.removeprefix("Downloading").strip(" ()…") or None
    return Update(
        "progress",
        SOURCE,
        done=done,
        total=total,
        rate=rate,
        eta=duration_text(match["left"]) if match["left"] else None,
        file=desc,
    )
