"""The scale scenario: its shape always; running it only when ASR_SIM_SCALE=1 (it is heavy)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest

from simcluster.scenarios.loader import load_scenario
from tests.polling import wait_until
from tests.scenarios.conftest import NS, World


def test_scale_scenario_loads_with_the_promised_shape() -> None:
    s = load_scenario("scale")
    assert len(s.nodes) == 30
    kinds: dict[str, int] = {}
    replicas = 0
    downloading = 0
    for spec in s.objects:
        copies = len(spec.repeat.values()) if spec.repeat else 1
        kinds[spec.obj["kind"]] = kinds.get(spec.obj["kind"], 0) + copies
        if spec.obj["kind"] == "Deployment":
            replicas += spec.obj["spec"]["replicas"] * copies
            pod = spec.obj["spec"]["template"]["spec"]
            if "emptyDir" in pod["volumes"][0]:
                downloading += spec.obj["spec"]["replicas"] * copies
            assert spec.obj["spec"]["template"]["metadata"]["labels"]["app"] == "lightning-asr"
    assert kinds["PersistentVolumeClaim"] == 30
    assert replicas == 300 and downloading == 20
    seeded = sum(len(v.repeat.values()) if v.repeat else 1 for v in s.volumes)
    assert seeded == 28
    assert all(src.kind == "sparse" for v in s.volumes for _path, src in v.files)


def _downloaders() -> int:
    me = str(os.getpid())
    count = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read()
            with open(f"/proc/{pid}/stat", "rb") as fh:
                ppid = fh.read().rsplit(b")", 1)[-1].split()[1].decode()
        except OSError:
            continue
        if ppid == me and b"actions.downloader" in cmd:
            count += 1
    return count


@pytest.mark.skipif(os.environ.get("ASR_SIM_SCALE") != "1", reason="heavy: set ASR_SIM_SCALE=1")
def test_scale_scenario_starts_fast_and_stays_light(start: Callable[..., World]) -> None:
    began = time.monotonic()
    w = start("scale", model_size=4 * 1024 * 1024, speed=64 * 1024)
    wait_until(lambda: len(w.ready()) >= 280, 20, "the 280 cached pods to be ready")
    assert time.monotonic() - began < 20
    assert len(w.pods()) == 300
    assert len(w.core.list_node().items) == 30
    assert len(w.core.list_namespaced_persistent_volume_claim(NS).items) == 30
    burst = w.pods("shard=burst")
    assert len(burst) == 20
    assert _downloaders() <= 20  # only the burst pods run a real downloader
    t0 = time.monotonic()
    w.core.list_namespaced_pod(NS)
    assert time.monotonic() - t0 < 1.0
