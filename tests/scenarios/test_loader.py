"""Scenario files: the built-in ones load; a broken one says which file, which line and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from simcluster.cli import main as sim_main
from simcluster.scenarios.loader import (
    BUILTIN_DIR,
    ScenarioError,
    list_scenarios,
    load_scenario,
    parse_scenario,
)
from simcluster.scenarios.template import TemplateError, mapping_resolver, render

PROMISED = {
    "efs-shared",
    "baked-image",
    "emptydir",
    "s3-init",
    "preload-wget",
    "blue-green",
    "stalled-download",
    "corrupt-model",
    "disk-full",
    "flaky-network",
    "scale",
    "rwo-multi-attach",
    "pvc-pending",
    "emptydir-evicted",
    "image-pull-backoff",
    "missing-secret",
    "missing-secret-volume",
    "oom-on-load",
    "liveness-kills-download",
    "readiness-failing",
    "quota-exceeded",
    "node-lost",
    "node-not-ready",
}

GOOD = """\
name: mine
description: a copy of efs-shared with a bigger model
nodes: 2
model_size: 1GiB
models:
  v1: {path: /models/v1/model.bin, seed: 7}
faults:
  - model: v1
    stall_after: 40%
objects:
  - apiVersion: v1
    kind: PersistentVolumeClaim
    metadata: {name: models-aws-efs-pvc}
    spec:
      resources: {requests: {storage: "${model.v1.size*2}"}}
"""


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(path))
    return info.value


def test_every_promised_scenario_ships_and_loads() -> None:
    infos = list_scenarios()
    assert {i.name for i in infos} == PROMISED
    for info in infos:
        s = load_scenario(info.name)
        assert s.name == info.name == info.path.stem
        assert s.description and "\n" not in s.description
        assert s.namespace == "smallest"
        assert info.path.parent == BUILTIN_DIR


def test_a_copied_scenario_loads_from_a_path(tmp_path: Path) -> None:
    s = load_scenario(str(write(tmp_path, GOOD, "mine.yaml")))
    assert s.name == "mine" and [n.name for n in s.nodes] == ["node-1", "node-2"]
    assert s.model_size == 1024**3 and s.models["v1"].seed == 7
    assert s.faults[0].fields["stall_after"].percent == 40
    assert s.load_memory_factor is None  # the cluster's own (1.0) stays


def test_a_scenario_sets_how_much_memory_loading_the_model_takes() -> None:
    s = load_scenario("oom-on-load")
    assert s.load_memory_factor == 1.25


def test_bad_yaml_names_file_line_and_problem(tmp_path: Path) -> None:
    path = write(tmp_path, "name: x\ndescription: y\nobjects:\n  - {kind: Pod\n")
    err = error_of(path)
    assert err.file == str(path) and err.line == 5
    assert str(err).startswith(f"{path}:5: invalid YAML: ")


def test_unknown_field_names_its_line_and_the_known_ones(tmp_path: Path) -> None:
    text = GOOD.replace(
        "faults:\n  - model: v1\n    stall_after: 40%",
        "faults:\n  - model: v1\n    stall_afterr: 40%",
    )
    err = error_of(write(tmp_path, text))
    assert err.line == 9
    assert "unknown field 'stall_afterr' in a fault (did you mean 'stall_after'?)" in err.why

    err = error_of(write(tmp_path, GOOD.replace("model_size:", "modelsize:")))
    assert err.line == 4 and "unknown field 'modelsize' in a scenario" in err.why


@pytest.mark.parametrize(
    ("change", "line", "why"),
    [
        (("nodes: 2", "nodes: two"), 3, "nodes must be a list, not text"),
        (("seed: 7", "seed: -1"), 6, "seed must be between 0 and"),
        (("stall_after: 40%", "stall_after: 140%"), 9, "stall_after must be at most 100%"),
        (
            ("${model.v1.size*2}", "${model.v9.size}"),
            15,
            "${model.v9.size} names unknown model 'v9'",
        ),
        (
            ("${model.v1.size*2}", "${model.v1.md5}"),
            15,
            "a model has url, sha256, size, path, file",
        ),
        (("${model.v1.size*2}", "${modle.v1.size}"), 15, "unknown placeholder ${modle.v1.size}"),
        (
            ("kind: PersistentVolumeClaim", "kind: StatefulSet"),
            12,
            "kind 'StatefulSet' is not served",
        ),
        (
            ("apiVersion: v1", "apiVersion: apps/v1"),
            11,
            "PersistentVolumeClaim is served as apiVersion v1",
        ),
        (("- model: v1", "- model: v2"), 8, "names unknown model 'v2'"),
        (
            ("model_size: 1GiB", "model_size: 1GiB\nload_memory_factor: lots"),
            5,
            "load_memory_factor must be a non-negative number, got 'lots'",
        ),
    ],
)
def test_checks_say_where_and_why(
    tmp_path: Path, change: tuple[str, str], line: int, why: str
) -> None:
    err = error_of(write(tmp_path, GOOD.replace(*change)))
    assert (err.line, why in err.why) == (line, True), str(err)


REFUSED_AND_PATCHED = """\
images:
  - image: smallest/lightning-asr:v2.0-typo
    pull: not-found
steps:
  - after: 1s
    patch:
      deployment: lightning-asr
      body: {spec: {template: {metadata: {annotations: {sha: "${model.v1.sha256}"}}}}}
"""


def test_refused_images_and_patch_steps(tmp_path: Path) -> None:
    s = load_scenario(str(write(tmp_path, GOOD + REFUSED_AND_PATCHED, "mine.yaml")))
    assert (s.images[0].image, s.images[0].pull, s.images[0].files) == (
        "smallest/lightning-asr:v2.0-typo",
        "not-found",
        (),
    )
    assert s.steps[0].patch is not None and s.steps[0].patch[0] == "lightning-asr"
    for change, line, why in [
        (("pull: not-found", "pull: missing"), 18, "pull must be not-found or unauthorized"),
        (("pull: not-found", "pull: not-found\n    files: {/a: {text: x}}"), 17, "has no files"),
        (("model.v1.sha256", "model.v9.sha256"), 23, "names unknown model 'v9'"),
        (("      body:", "      bod:"), 23, "unknown field 'bod' in patch (did you mean 'body'?)"),
    ]:
        err = error_of(write(tmp_path, GOOD + REFUSED_AND_PATCHED.replace(*change)))
        assert (err.line, why in err.why) == (line, True), str(err)


def test_duplicate_keys_and_escaping_paths_are_refused(tmp_path: Path) -> None:
    err = error_of(write(tmp_path, GOOD.replace("nodes: 2\n", "nodes: 2\nnodes: 3\n")))
    assert err.line == 4 and "key 'nodes' is given twice" in err.why
    seed = (
        GOOD
        + "volumes:\n  - claim: models-aws-efs-pvc\n    files:\n      ../../etc/passwd: {text: x}\n"
    )
    err = error_of(write(tmp_path, seed))
    assert err.line == 19 and "must stay inside the volume" in err.why


def test_unknown_scenario_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("efs-sharde")
    assert "unknown scenario; built-in ones are: baked-image, blue-green" in str(info.value)
    with pytest.raises(ScenarioError) as info:
        load_scenario(str(tmp_path / "nope.yaml"))
    assert str(info.value) == f"{tmp_path / 'nope.yaml'}: no such scenario file"


def test_the_cli_reports_a_bad_scenario_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, GOOD.replace("model_size:", "modelsize:"))
    assert sim_main(["--scenario", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"asr-cache-sim: {path}:4: unknown field 'modelsize'")
    assert err.count("\n") == 1 and "Traceback" not in err


def test_list_names_each_scenario_on_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert sim_main(["--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(PROMISED)
    assert {line.split()[0] for line in lines} == PROMISED
    assert any(line.startswith("stalled-download") and "40%" in line for line in lines)


def test_placeholders_render_as_text() -> None:
    resolve = mapping_resolver({"model.v1.size": 4096, "model.v1.url": "http://x/m", "n": "07"})
    out = render(
        {"a": "${model.v1.size*0.5}", "b": "url=${model.v1.url}", "c-${n}": "$${literal}"}, resolve
    )
    assert out == {"a": "2048", "b": "url=http://x/m", "c-07": "${literal}"}
    with pytest.raises(TemplateError):
        render("${model.v2.url}", resolve)


def test_parse_scenario_reports_the_name_it_was_given() -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario("name: t\ndescription: x\nobjects: {}\n", file="inline")
    assert str(info.value) == "inline:3: objects must be a list, not a mapping"


def test_a_step_cuts_a_named_nodes_power_after_its_own_grace(tmp_path: Path) -> None:
    down = GOOD + "node_monitor_grace: 5s\nsteps:\n  - after: 8s\n    node_down: node-2\n"
    scenario = load_scenario(str(write(tmp_path, down, "down.yaml")))
    assert scenario.node_monitor_grace == 5.0
    assert [(s.after, s.node_down) for s in scenario.steps] == [(8.0, "node-2")]
    err = error_of(write(tmp_path, down.replace("node_down: node-2", "node_down: node-9")))
    assert "node_down names no node of the scenario (node-1, node-2)" in err.why, str(err)


def test_a_step_breaks_a_named_nodes_network(tmp_path: Path) -> None:
    text = GOOD + "steps:\n  - after: 8s\n    node_not_ready: node-2\n"
    scenario = load_scenario(str(write(tmp_path, text, "notready.yaml")))
    assert [(s.after, s.node_not_ready, s.node_down) for s in scenario.steps] == [
        (8.0, "node-2", None)
    ]
    err = error_of(write(tmp_path, text.replace("node_not_ready: node-2", "node_not_ready: n9")))
    assert "node_not_ready names no node of the scenario (node-1, node-2)" in err.why, str(err)
