"""Who is asking (Bearer tokens) and what they may do (admin: all; viewer: read only).

The same `authorize` answers requests and SelfSubjectAccessReviews, so a dashboard that asks
before offering an action gets the answer the request itself would get.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from simcluster.errors import ApiError, forbidden, unauthorized

READ_VERBS = frozenset({"get", "list", "watch"})


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...]
    admin: bool


ADMIN = User("sim-admin", ("system:masters", "system:authenticated"), admin=True)
VIEWER = User("sim-viewer", ("sim:viewers", "system:authenticated"), admin=False)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


class Authenticator:
    """Maps Bearer tokens to users; constant-time comparison, no token is ever logged."""

    def __init__(self, admin_token: str, viewer_token: str, anonymous: User | None = None) -> None:
        self._tokens = ((admin_token, ADMIN), (viewer_token, VIEWER))
        self._anonymous = anonymous

    def user_for(self, authorization: str | None, secure: bool = True) -> User:
        """The user for an Authorization header; missing or unknown tokens are a 401.

        With `anonymous` set, a request without credentials over plain HTTP (kubectl sends
        none there) acts as that user, like kube-apiserver's --anonymous-auth with a binding.
        """
        if not authorization:
            if self._anonymous is not None and not secure:
                return self._anonymous
            raise unauthorized()
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise unauthorized()
        found = None
        for known, user in self._tokens:
            if hmac.compare_digest(known.encode(), token.encode()):
                found = user
        if found is None:
            raise unauthorized()
        return found


def decide(user: User, verb: str, resource: str = "", subresource: str = "") -> Decision:
    """RBAC-like answer: admins may do anything, viewers only read (logs and node stats too),
    but not Secrets, as with the built-in "view" ClusterRole."""
    if user.admin:
        return Decision(
            True,
            'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole '
            '"cluster-admin" to Group "system:masters"',
        )
    if resource == "selfsubjectaccessreviews" and verb == "create":
        return Decision(True, 'RBAC: allowed by ClusterRoleBinding "system:basic-user"')
    if resource == "secrets":  # the "view" ClusterRole leaves Secrets out
        return Decision(False, "")
    if verb in READ_VERBS and subresource != "exec":
        return Decision(
            True,
            'RBAC: allowed by ClusterRoleBinding "sim-view" of ClusterRole "view" '
            f'to User "{user.name}"',
        )
    return Decision(False, "")


def authorize(
    user: User,
    verb: str,
    group: str,
    resource: str,
    subresource: str,
    namespace: str,
    name: str,
) -> None:
    """Raise a 403 Forbidden Status shaped as RBAC's when `user` may not do this."""
    if decide(user, verb, resource, subresource).allowed:
        return
    raise forbidden(user.name, verb, resource, group, namespace or None, name or None, subresource)


def non_resource_forbidden(user: User, verb: str, path: str) -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'forbidden: User "{user.name}" cannot {verb} path "{path}"',
        {},
    )
