"""The simulated kube-apiserver: aiohttp app, auth, discovery, REST, watch, tables, patch."""

from simcluster.apiserver.app import ApiServer, request_info, request_user
from simcluster.apiserver.auth import ADMIN, VIEWER, Authenticator, User

__all__ = ["ADMIN", "VIEWER", "ApiServer", "Authenticator", "User", "request_info", "request_user"]
