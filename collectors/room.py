"""Whether a claim can ever hold the model, from the downloader's own words about room ('4.0
MiB more needed, 2.0 MiB free') and the claim's real size. The header and ``status`` count such
a claim as one that needs room; fix refuses to evict on it and says how much it must grow."""

from __future__ import annotations

import re

from collectors.model import PodInfo, VolumeInfo
from collectors.units import parse_size

QUANTITY = r"(\d+(?:\.\d+)? ?[KMGTPE]?i?B)"
NEEDED = re.compile(rf"{QUANTITY} more needed, {QUANTITY} free")
ELASTIC = 2**60  # EFS reports 8 EiB: a size that means nothing


def needed_and_free(text: str) -> tuple[int, int] | None:
    """(needed, free) bytes from the downloader's '4.0 MiB more needed, 2.0 MiB free'."""
    m = NEEDED.search(text)
    if not m:
        return None
    try:
        return parse_size(m.group(1)), parse_size(m.group(2))
    except ValueError:
        return None


def claim_capacity(vol: VolumeInfo) -> int | None:
    """The claim's real size in all: measured, else provisioned; None for an elastic volume."""
    if vol.usage is not None and vol.usage.capacity_meaningful:
        return vol.usage.capacity_bytes
    if vol.capacity_bytes and vol.capacity_bytes < ELASTIC:
        return vol.capacity_bytes
    return None


def too_small(vol: VolumeInfo, pod: PodInfo, why: str) -> tuple[int, int] | None:
    """(what the model needs, what the claim holds in all) when even an empty claim could not
    hold it. The need is the download's total when known, else what the downloader said it
    still needs (a lower bound: a kept partial comes on top)."""
    capacity = claim_capacity(vol)
    total = pod.progress.bytes_total if pod.progress else None
    needed = needed_and_free(why)
    model = max(total or 0, needed[0] if needed else 0)
    if capacity and model > capacity:
        return model, capacity
    return None
