"""What to change for a pod whose Secret or ConfigMap (or a key of one) is missing: create it,
with the keys the pod reads (``actions.sources``), and a placeholder for each value. The tool
never sees a secret's value and never writes one: the command is for the person who has it.
The kubelet retries by itself, so the pod starts once it exists."""

from __future__ import annotations

import json
import re

from actions.advice import PLACEHOLDER, Advice, kubectl
from actions.options import PodFacts
from actions.sources import CONFIG_MAP, SECRET, SourceRef
from actions.targets import owner_name
from collectors.model import PodInfo

# The kubelet's words for a Secret or ConfigMap (or a key of one) that is not there.
_MISSING = re.compile(r'\b(secret|configmap) "([^"]+)" not found')
_NO_KEY = re.compile(r"couldn't find key (\S+) in (Secret|ConfigMap) (?:[^/\s]+/)?(\S+)")
_NO_VOLUME_KEY = re.compile(r"references non-existent (?:(secret|config) )?key: (\S+)")
SOME_KEY = "<key>"  # a key the pod's spec does not name (it reads them all)


def config_advice(namespace: str, pod: PodInfo, cause: str, facts: PodFacts | None) -> Advice:
    """Create the missing Secret or ConfigMap (or add its missing key), with a placeholder for
    each value: the tool never sees, and never writes, a secret."""
    owner = owner_name(pod)
    after = (
        f" Put the real value in place of {PLACEHOLDER} before running it. The kubelet retries "
        "by itself and the pod starts (or fix the reference in "
        f"{owner})."
    )
    sources = facts.sources if facts is not None else ()
    missing = _MISSING.search(cause)
    if missing is not None:
        kind = SECRET if missing.group(1) == "secret" else CONFIG_MAP
        name = missing.group(2)
        keys = _keys(sources, kind, name)
        named = (
            f"{'key' if len(keys) == 1 else 'keys'} {', '.join(keys)}"
            if keys
            else "the keys the pod reads (its spec does not name them: write each in place of "
            f"{SOME_KEY})"
        )
        said = f"create {kind} {name} in namespace {namespace} with {named}"
        return Advice(
            said + " (the command below)." + after, (_create(namespace, kind, name, keys),)
        )
    found = _NO_KEY.search(cause)
    if found is not None:
        key, kind, name = found.groups()
        return _add_key(namespace, kind, name, key, after)
    found = _NO_VOLUME_KEY.search(cause)
    if found is not None:
        kind = CONFIG_MAP if found.group(1) == "config" else SECRET
        key = found.group(2)
        ref = next((s for s in sources if s.kind == kind and key in s.keys), None)
        if ref is not None:
            return _add_key(namespace, kind, ref.name, key, after)
    return Advice(
        f"create the Secret, ConfigMap or key it names in namespace {namespace} (or fix the "
        f"reference in {owner}); the kubelet retries by itself and the pod starts."
    )


def _keys(sources: tuple[SourceRef, ...], kind: str, name: str) -> tuple[str, ...]:
    return next((s.keys for s in sources if s.kind == kind and s.name == name), ())


def _create(namespace: str, kind: str, name: str, keys: tuple[str, ...]) -> str:
    literals = [f"--from-literal={k}={PLACEHOLDER}" for k in keys or (SOME_KEY,)]
    what = ["secret", "generic"] if kind == SECRET else ["configmap"]
    return kubectl(namespace, "create", *what, name, *literals)


def _add_key(namespace: str, kind: str, name: str, key: str, after: str) -> Advice:
    field = "stringData" if kind == SECRET else "data"
    patch = json.dumps({field: {key: PLACEHOLDER}}, separators=(",", ":"))
    command = kubectl(namespace, "patch", kind.lower(), name, "-p", patch)
    said = f"add key {key} to {kind} {name} in namespace {namespace} (the command below)."
    return Advice(said + after, (command,))
