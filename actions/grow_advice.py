"""What to run when a claim cannot hold the model: the ``kubectl patch`` that grows it.

The fix never grows a volume by itself: a claim never shrinks again, the size is paid for
every month, and a class may not allow it. It says by how much and gives the command.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from actions.advice import GiB, kubectl
from collectors.model import VolumeInfo


@dataclass(frozen=True)
class Growth:
    size: str  # the claim's new storage request, e.g. "24Gi"
    note: str  # one sentence after the refusal's own words
    command: str | None  # to run by hand; None when the class does not let the claim grow


def claim_growth(
    namespace: str,
    claim: VolumeInfo,
    missing: int | None,
    model: int | None,
    expands: bool | None,
) -> Growth | None:
    """How to grow ``claim`` so that the download fits: by ``missing`` bytes (the downloader's
    shortfall) when known, else to hold the ``model`` alone. ``expands`` is the StorageClass's
    allowVolumeExpansion (None: not readable). None when nothing says how much."""
    base = claim.requested_bytes or claim.capacity_bytes or 0
    if missing:
        target = base + missing
    elif model:
        target = model
    else:
        return None
    size = f"{max(math.ceil(target / GiB), base // GiB + 1)}Gi"
    if expands is False:
        note = (
            f"Its StorageClass {claim.storage_class} does not allow volume expansion: move the "
            f"cache to a claim of at least {size}."
        )
        return Growth(size, note, None)
    note = f"The command below grows it to {size}"
    if expands is None:
        note += " (its StorageClass must allow volume expansion)"
    return Growth(size, note + ".", grow_command(namespace, claim.name, size))


def grow_command(namespace: str, claim: str, size: str) -> str:
    """``kubectl patch`` of the claim's storage request (online expansion: no pod restarts)."""
    body = {"spec": {"resources": {"requests": {"storage": size}}}}
    patch = json.dumps(body, separators=(",", ":"))
    return kubectl(namespace, "patch", "pvc", claim, "-p", patch)
