"""``asr-cache-tui status`` against the simulated cluster: output shapes and exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from collectors.model import ModelState
from simcluster.modelserver import Faults
from tests.collectors.setups import MiB, asr_deployment, job, pvc
from tui.cli import build_parser
from tui.status_cmd import run as run_status

POD_KEYS = {
    "name",
    "namespace",
    "uid",
    "node",
    "phase",
    "ready",
    "restarts",
    "created_at",
    "owner",
    "release",
    "containers",
    "model",
    "cache_volume",
    "cache_claim",
    "cache_kind",
    "model_state",
    "evidence",
    "progress",
    "verification",
    "deleting",
}
TOP_KEYS = {
    "schema",
    "context",
    "namespace",
    "server",
    "taken_at",
    "pods",
    "volumes",
    "rollouts",
    "jobs",
    "events",
    "serving_url",
    "stale_since",
    "error",
    "trouble",
    "stale",
    "attention",
}


def _status(sim, tmp: Path, *argv: str, watch_seconds: float | None = None) -> tuple[int, str, str]:
    kc = sim.write_kubeconfig(tmp / "kc")
    args = build_parser().parse_args(["status", "--kubeconfig", str(kc), *argv])
    out, err = io.StringIO(), io.StringIO()
    code = run_status(args, out=out, err=err, watch_seconds=watch_seconds)
    return code, out.getvalue(), err.getvalue()


def _wait_ready(sim, n: int) -> None:
    def ready() -> bool:
        pods = sim.store.list("pods", "smallest")[0]
        return len(pods) == n and all(
            any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in p.get("status", {}).get("conditions", [])
            )
            for p in pods
        )

    sim.run(sim.wait_for(ready, timeout=20))


def test_all_ready_exits_0_with_the_documented_json(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=7)
    sim.apply(
        [
            pvc(sc="standard"),
            asr_deployment(
                sim.model_server.url(f.path), f.sha256, replicas=2, MODEL_CACHE_MAX_SIZE="1GiB"
            ),
        ]
    )
    _wait_ready(sim, 2)
    code, out, err = _status(sim, tmp_path, "-o", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert set(doc) >= TOP_KEYS and doc["schema"] == 1 and doc["attention"] == []
    assert doc["namespace"] == "smallest" and doc["stale"] is False and doc["trouble"] is None
    assert len(doc["pods"]) == 2
    for pod in doc["pods"]:
        assert set(pod) >= POD_KEYS
        assert pod["model_state"] == "ready" and pod["evidence"][0] == "pod is Ready"
        assert pod["model"]["max_cache_size"] == 1024**3
        assert pod["created_at"].endswith("Z")
    (vol,) = doc["volumes"]
    assert vol["name"] == "models-aws-efs-pvc" and vol["usage"]["source"] == "kubelet"
    assert vol["usage"]["used_bytes"] >= 1 * MiB and vol["used_fraction"] is not None
    assert {r["name"] for r in doc["rollouts"]} == {"lightning-asr"}

    code, out, _ = _status(sim, tmp_path)
    assert code == 0 and "All fine." in out and "MODEL" in out and "ready" in out
    code, out, _ = _status(sim, tmp_path, "-o", "yaml")
    assert code == 0 and yaml.safe_load(out)["pods"][0]["model_state"] == "ready"


def test_corrupt_download_exits_1_and_says_why(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=1 * MiB, seed=8)
    env = {
        "MODEL_URL": sim.model_server.url(f.path),
        "MODEL_CHECKSUM": "sha256:" + "0" * 64,
        "MODEL_CACHE_DIR": "/app/models",
    }
    sim.apply([job("model-preload", ["asr-cache-download"], env)])

    def failed() -> bool:
        jobs = sim.store.list("jobs", "smallest")[0]
        return any(
            c.get("type") == "Failed" and c.get("status") == "True"
            for j in jobs
            for c in j.get("status", {}).get("conditions", [])
        )

    sim.run(sim.wait_for(failed, timeout=20))
    code, out, _ = _status(sim, tmp_path, "-o", "json")
    doc = json.loads(out)
    assert code == 1
    (pod,) = doc["pods"]
    assert pod["model_state"] == ModelState.CORRUPT.value
    assert "checksum" in pod["evidence"][0].lower()
    assert any("corrupt" in a for a in doc["attention"])
    assert any(a.startswith("job model-preload: Failed") for a in doc["attention"])
    (j,) = doc["jobs"]
    assert j["state"] == "Failed" and j["pods"] == [pod["name"]]
    code, out, _ = _status(sim, tmp_path)
    assert code == 1 and "NEEDS ATTENTION" in out


def test_watch_prints_json_lines_until_told_to_stop(make_sim, tmp_path: Path) -> None:
    sim = make_sim()
    f = sim.model_server.add_file("/models/v1/model.bin", size=2 * MiB, seed=9)
    sim.model_server.set_faults(f.path, Faults(rate_limit=2 * MiB))
    sim.apply(
        [
            pvc(sc="standard"),
            asr_deployment(
                sim.model_server.url(f.path), f.sha256, replicas=1, MODEL_DOWNLOAD_WORKERS="1"
            ),
        ]
    )
    code, out, err = _status(sim, tmp_path, "-o", "json", "--watch", watch_seconds=4.0)
    assert err == ""
    docs = [json.loads(line) for line in out.splitlines()]
    assert len(docs) >= 2
    states = [d["pods"][0]["model_state"] for d in docs if d["pods"]]
    assert "ready" in states and states[-1] == "ready"
    assert code == 0


def test_a_namespace_that_does_not_exist_is_said_so_not_shown_empty(make_sim, tmp_path) -> None:
    sim = make_sim()
    code, out, err = _status(sim, tmp_path, "-n", "prod")
    assert (code, out) == (2, "")
    assert err.startswith('asr-cache-tui status: namespace "prod" does not exist (context '), err
    code, out, err = _status(sim, tmp_path, "-n", "smallest", "-o", "json")
    assert (code, err) == (0, "") and json.loads(out)["pods"] == []  # there and empty
