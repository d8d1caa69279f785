"""Named situations for the simulator: storage strategies and the failures on-call meets.

A scenario is a YAML file (the built-in ones ship in this directory): nodes, the chart's
objects, model files with their sha256, volume seeds, baked images, faults and steps.
`load_scenario(name_or_path)` checks one (errors say file:line: why); `apply_scenario`
puts it on a running SimCluster; `run_scenario` starts a cluster of its own with it.
"""

from simcluster.scenarios.loader import ScenarioError, list_scenarios, load_scenario
from simcluster.scenarios.runner import (
    ScenarioOptions,
    ScenarioRuntime,
    apply_scenario,
    run_scenario,
    runtime_for,
    start_scenario,
)
from simcluster.scenarios.spec import Scenario

__all__ = [
    "Scenario",
    "ScenarioError",
    "ScenarioOptions",
    "ScenarioRuntime",
    "apply_scenario",
    "list_scenarios",
    "load_scenario",
    "run_scenario",
    "runtime_for",
    "start_scenario",
]
