"""The one list of actions: id, key, subcommand, whether destructive, and the RBAC they need.

The ids match the dashboard's (``tui/actions_port.py``); the permissions are what
``actions.rbac`` checks with SelfSubjectAccessReview before an action is offered.
"""

from __future__ import annotations

from dataclasses import dataclass

from actions.plan import Permission

PREWARM = "prewarm"
VERIFY = "verify"
PURGE = "purge"
RESTART_POD = "restart-pod"
ROLLOUT_RESTART = "rollout-restart"
FIX = "fix"
SWITCH = "switch"


@dataclass(frozen=True)
class ActionSpec:
    id: str
    key: str  # the dashboard's key
    command: str  # the headless subcommand
    title: str
    destructive: bool
    needs: tuple[tuple[str, str, str, str | None], ...]  # (verb, resource, group, subresource)
    changes_cache: bool = False  # writes or deletes files in a model cache (usage moves)

    def permissions(self, namespace: str) -> tuple[Permission, ...]:
        return tuple(
            Permission(verb=v, resource=r, namespace=namespace, group=g, subresource=s)
            for v, r, g, s in self.needs
        )


_EXEC = ("create", "pods", "", "exec")
_GET_POD = ("get", "pods", "", None)
_DELETE_POD = ("delete", "pods", "", None)
_CREATE_POD = ("create", "pods", "", None)  # the short-lived helper pod when no pod runs
_GET_DEPLOY = ("get", "deployments", "apps", None)
_PATCH_DEPLOY = ("patch", "deployments", "apps", None)

SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        PREWARM,
        "p",
        "prewarm",
        "Pre-warm the model cache with a Job",
        destructive=True,
        needs=(_GET_DEPLOY, ("create", "jobs", "batch", None), ("get", "pods", "", "log")),
        changes_cache=True,
    ),
    ActionSpec(VERIFY, "v", "verify", "Verify the model checksum", False, (_GET_POD, _EXEC)),
    ActionSpec(
        PURGE,
        "d",
        "purge",
        "Delete the corrupt model",
        True,
        (_GET_POD, _EXEC, _DELETE_POD),
        changes_cache=True,
    ),
    ActionSpec(RESTART_POD, "r", "restart", "Restart the pod", True, (_GET_POD, _DELETE_POD)),
    ActionSpec(
        ROLLOUT_RESTART,
        "R",
        "restart",
        "Rollout restart the deployment",
        True,
        (_GET_DEPLOY, _PATCH_DEPLOY),
    ),
    ActionSpec(
        FIX,
        "f",
        "fix",
        "Fix the selected pod's download",
        True,
        (_GET_POD, _EXEC, _DELETE_POD),
        changes_cache=True,  # evicts old versions, or removes a partial to start afresh
    ),
    ActionSpec(
        SWITCH,
        "s",
        "switch",
        "Blue-green switch of the api-server",
        True,
        (_GET_DEPLOY, _PATCH_DEPLOY),
    ),
)

BY_ID = {s.id: s for s in SPECS}

# Extra permissions some plans need beyond the registry's minimum (checked per plan).
CRONJOB_CREATE = ("create", "cronjobs", "batch", None)
HELPER_POD = _CREATE_POD
EVENT_CREATE = ("create", "events", "", None)


def spec(action_id: str) -> ActionSpec:
    try:
        return BY_ID[action_id]
    except KeyError:
        raise KeyError(f"no action with id {action_id!r}") from None


def permission(need: tuple[str, str, str, str | None], namespace: str) -> Permission:
    verb, resource, group, sub = need
    return Permission(
        verb=verb, resource=resource, namespace=namespace, group=group, subresource=sub
    )
