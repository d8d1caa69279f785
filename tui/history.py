"""Bounded per-pod download-rate history, so a pod's sparkline has data the moment it opens."""

from __future__ import annotations

from collections import deque

from collectors.model import ClusterSnapshot

RATE_SAMPLES = 120  # points per pod; older ones fall off


class RateHistory:
    """One bounded deque of rates per pod; pods that leave the snapshot are forgotten."""

    def __init__(self, samples: int = RATE_SAMPLES) -> None:
        self.samples = samples
        self._rates: dict[str, deque[float]] = {}
        self._seen: dict[str, float] = {}

    def update(self, snapshot: ClusterSnapshot) -> None:
        """Record each pod's rate once per progress update (not once per snapshot)."""
        alive = set()
        for pod in snapshot.pods:
            alive.add(pod.name)
            progress = pod.progress
            if progress is None or progress.rate is None:
                continue
            if self._seen.get(pod.name) == progress.updated_at:
                continue
            self._seen[pod.name] = progress.updated_at
            self._rates.setdefault(pod.name, deque(maxlen=self.samples)).append(progress.rate)
        for name in set(self._rates) - alive:
            del self._rates[name]
            self._seen.pop(name, None)

    def rates(self, pod: str) -> list[float]:
        return list(self._rates.get(pod, ()))
