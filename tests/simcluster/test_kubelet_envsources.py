"""Containers that read Secrets and ConfigMaps: `secretKeyRef`, `configMapKeyRef`, `envFrom`;
a missing object or key leaves the container in CreateContainerConfigError with the kubelet's
message and events until it exists; Secrets as the API server stores them (stringData into
base64 data), and as kubectl creates and lists them."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from simcluster.cluster import SimCluster
from tests.polling import wait_until
from tests.simcluster.conftest import NS, Kubectl, api_client
from tests.simcluster.waiting_helpers import (
    RETRY,
    event_paths,
    events,
    pod,
    status_of,
    waiting,
)


def _core(cluster: SimCluster, tmp_path: Path, user: str = "admin") -> client.CoreV1Api:
    return client.CoreV1Api(api_client(cluster, tmp_path, user=user))


def _echo(script: str, **extra: Any) -> dict[str, Any]:
    """A container that prints `script`'s output, then stays up."""
    return {
        "name": "main",
        "image": "busybox:1.36",
        "command": ["sh", "-c", f"{script}; sleep 3600"],
        **extra,
    }


def _log(core: client.CoreV1Api, name: str) -> str:
    """The container's log; "" while it waits to start (the API answers 400 then)."""
    try:
        return str(core.read_namespaced_pod_log(name, NS, container="main"))
    except ApiException as exc:
        if exc.status != 400:
            raise
        return ""


def _running(core: client.CoreV1Api, name: str, container: str = "main") -> bool:
    cs = status_of(core, name, container)
    return bool(cs and cs.state and cs.state.running)


def _secret_key_ref(name: str, key: str, optional: bool | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": name, "key": key}
    if optional is not None:
        ref["optional"] = optional
    return {"secretKeyRef": ref}


def test_a_missing_secret_holds_the_container_until_the_secret_and_key_exist(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=RETRY)
    core = _core(sim, tmp_path)
    env = [{"name": "HF_TOKEN", "valueFrom": _secret_key_ref("hf-token", "token")}]
    core.create_namespaced_pod(NS, pod("asr", [_echo("echo token=$HF_TOKEN", env=env)]))
    missing = ("CreateContainerConfigError", 'secret "hf-token" not found')
    wait_until(lambda: waiting(core, "asr", "main") == missing, what=str(missing))
    failed = ("Warning", "Failed", 'Error: secret "hf-token" not found')
    counts = wait_until(
        lambda: (e := events(core, "asr")).get(failed, 0) >= 2 and e, what="retries"
    )
    assert counts[("Normal", "Pulled", 'Container image "busybox:1.36" already present on machine')]
    assert event_paths(core, "asr", "Failed") == {"spec.containers{main}"}
    p = core.read_namespaced_pod("asr", NS)
    cs = status_of(core, "asr", "main")
    assert (p.status.phase, cs.restart_count, cs.ready, cs.image_id) == ("Pending", 0, False, "")

    core.create_namespaced_secret(NS, {"metadata": {"name": "hf-token"}, "data": {"user": "eA=="}})
    no_key = ("CreateContainerConfigError", "couldn't find key token in Secret smallest/hf-token")
    wait_until(lambda: waiting(core, "asr", "main") == no_key, what=str(no_key))

    core.patch_namespaced_secret("hf-token", NS, {"stringData": {"token": "hf_abc"}})
    wait_until(lambda: _running(core, "asr"), what="the container to start")
    wait_until(lambda: "token=hf_abc\n" in _log(core, "asr"), what="the token in the log")
    assert status_of(core, "asr", "main").restart_count == 0


def test_config_map_refs_fail_the_same_way_and_optional_refs_are_skipped(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=RETRY)
    core = _core(sim, tmp_path)
    ref = {"name": "asr-config", "key": "url"}
    url = {"configMapKeyRef": ref}
    core.create_namespaced_pod(
        NS, pod("cm", [_echo("echo url=$MODEL_URL", env=[{"name": "MODEL_URL", "valueFrom": url}])])
    )
    optional = [
        {"name": "A", "valueFrom": _secret_key_ref("nope", "a", optional=True)},
        {"name": "B", "valueFrom": {"configMapKeyRef": {**ref, "optional": True}}},
        {"name": "C", "value": "c"},
    ]
    core.create_namespaced_pod(
        NS, pod("opt", [_echo("echo A=${A:-unset} B=${B:-unset} C=$C", env=optional)])
    )
    wait_until(lambda: "A=unset B=unset C=c\n" in _log(core, "opt"), what="optional refs skipped")
    gone = ("CreateContainerConfigError", 'configmap "asr-config" not found')
    wait_until(lambda: waiting(core, "cm", "main") == gone, what=str(gone))
    assert ("Warning", "Failed", 'Error: configmap "asr-config" not found') in events(core, "cm")

    core.create_namespaced_config_map(NS, {"metadata": {"name": "asr-config"}, "data": {}})
    no_key = (
        "CreateContainerConfigError",
        "couldn't find key url in ConfigMap smallest/asr-config",
    )
    wait_until(lambda: waiting(core, "cm", "main") == no_key, what=str(no_key))
    core.patch_namespaced_config_map("asr-config", NS, {"data": {"url": "http://m/model.bin"}})
    wait_until(lambda: "url=http://m/model.bin\n" in _log(core, "cm"), what="the URL in the log")


def test_env_from_secrets_and_config_maps_with_prefixes(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim(kubelet_retry=RETRY)
    core = _core(sim, tmp_path)
    container = _echo(
        "echo $S_token $LOG_LEVEL $MODEL_VERSION $URL",
        envFrom=[
            {"secretRef": {"name": "creds"}, "prefix": "S_"},
            {"configMapRef": {"name": "knobs"}},
            {"configMapRef": {"name": "absent", "optional": True}},
        ],
        env=[
            {"name": "MODEL_VERSION", "value": "v2"},  # env wins over envFrom
            {"name": "URL", "value": "http://x/$(MODEL_VERSION)/$(S_token)"},
        ],
    )
    core.create_namespaced_pod(NS, pod("from", [container]))
    wait_until(
        lambda: (
            waiting(core, "from", "main")
            == ("CreateContainerConfigError", 'secret "creds" not found')
        ),
        what="the missing envFrom secret",
    )
    token = base64.b64encode(b"t0k").decode()
    core.create_namespaced_secret(NS, {"metadata": {"name": "creds"}, "data": {"token": token}})
    wait_until(
        lambda: (
            waiting(core, "from", "main")
            == ("CreateContainerConfigError", 'configmap "knobs" not found')
        ),
        what="the missing envFrom config map",
    )
    core.create_namespaced_config_map(
        NS, {"metadata": {"name": "knobs"}, "data": {"LOG_LEVEL": "debug", "MODEL_VERSION": "v1"}}
    )
    wait_until(lambda: "t0k debug v2 http://x/v2/t0k\n" in _log(core, "from"), what="the env")


def test_secrets_are_stored_as_the_api_server_stores_them(
    make_sim: Callable[..., SimCluster], tmp_path: Path
) -> None:
    sim = make_sim()
    core = _core(sim, tmp_path)
    made = core.create_namespaced_secret(
        NS,
        {
            "metadata": {"name": "hf-token"},
            "data": {"a": base64.b64encode(b"1").decode()},
            "stringData": {"token": "hf_abc", "a": "2"},  # stringData wins
        },
    )
    assert made.type == "Opaque" and made.string_data is None
    assert made.data == {"a": "Mg==", "token": base64.b64encode(b"hf_abc").decode()}
    listed = core.list_namespaced_secret(NS, field_selector="type=Opaque").items
    assert [s.metadata.name for s in listed] == ["hf-token"]

    with pytest.raises(ApiException) as bad:
        core.create_namespaced_secret(NS, {"metadata": {"name": "b"}, "data": {"k": "no!"}})
    assert bad.value.status == 400
    assert '"Secret in version \\"v1\\" cannot be handled as a Secret: illegal base64 data' in str(
        bad.value.body
    )
    with pytest.raises(ApiException) as invalid:
        core.create_namespaced_secret(
            NS, {"metadata": {"name": "r"}, "type": "kubernetes.io/dockerconfigjson"}
        )
    assert invalid.value.status == 422
    assert 'Secret \\"r\\" is invalid: data[.dockerconfigjson]: Required value' in str(
        invalid.value.body
    )
    with pytest.raises(ApiException) as immutable:
        core.patch_namespaced_secret("hf-token", NS, {"type": "kubernetes.io/tls"})
    assert immutable.value.status == 422 and "field is immutable" in str(immutable.value.body)

    viewer = _core(sim, tmp_path, user="viewer")
    with pytest.raises(ApiException) as denied:
        viewer.list_namespaced_secret(NS)
    assert denied.value.status == 403 and 'cannot list resource \\"secrets\\"' in str(
        denied.value.body
    )
    assert viewer.list_namespaced_config_map(NS).items == []


@pytest.mark.kubectl
def test_kubectl_shows_config_errors_and_creates_the_secret_that_ends_them(
    make_sim: Callable[..., SimCluster], kubectl: Kubectl
) -> None:
    sim = make_sim(tls=True, kubelet_retry=RETRY)
    env = [{"name": "HF_TOKEN", "valueFrom": _secret_key_ref("hf-token", "token")}]
    init = {"name": "setup", "image": "busybox:1.36", "command": ["true"], "env": env}
    sim.apply(
        [
            pod("asr", [_echo("echo token=$HF_TOKEN", env=env)]),
            pod("init", [_echo("true")], initContainers=[init]),
        ]
    )

    def statuses() -> dict[str, str] | None:
        out = kubectl(sim, "-n", NS, "get", "pods").stdout.splitlines()[1:]
        rows = {r.split()[0]: r.split()[2] for r in out}
        want = {"asr": "CreateContainerConfigError", "init": "Init:CreateContainerConfigError"}
        return rows if rows == want else None

    wait_until(statuses, what="the STATUS column")
    wait_until(
        lambda: re.search(r"\(x\d+ over", kubectl(sim, "-n", NS, "describe", "pod", "asr").stdout),
        what="a repeated event",
    )
    out = kubectl(sim, "-n", NS, "describe", "pod", "asr").stdout
    failed = [ln for ln in out.split("Events:")[1].splitlines() if " Failed " in ln]
    assert failed and failed[0].split()[0] == "Warning" and " kubelet " in failed[0]
    assert failed[0].rstrip().endswith('Error: secret "hf-token" not found')
    assert "HF_TOKEN:  <set to the key 'token' in secret 'hf-token'>  Optional: false" in out

    made = kubectl(
        sim, "-n", NS, "create", "secret", "generic", "hf-token", "--from-literal=token=t"
    )
    assert made.returncode == 0, made.stderr
    listed = kubectl(sim, "-n", NS, "get", "secrets").stdout.splitlines()
    assert listed[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert listed[1].split()[:3] == ["hf-token", "Opaque", "1"]
    wait_until(
        lambda: all(
            r.split()[2] == "Running"
            for r in kubectl(sim, "-n", NS, "get", "pods").stdout.splitlines()[1:]
        ),
        what="both pods running",
    )
    cm = kubectl(sim, "-n", NS, "create", "configmap", "asr-config", "--from-literal=url=http://m")
    assert cm.returncode == 0, cm.stderr
    got = kubectl(sim, "-n", NS, "get", "configmap", "asr-config", "-o", "jsonpath={.data.url}")
    assert got.stdout == "http://m"
