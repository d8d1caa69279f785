"""The simulated kube-apiserver as an aiohttp application.

Middlewares turn every failure into a `Status` (with the HTTP code clients branch on), apply
the test faults (an API outage answering 503), and authenticate Bearer tokens and authorize
the request (kubelet routes included, since they share the app). Routes: the public health
and version endpoints, discovery, any extra routes (the kubelet's log, exec and node proxy,
registered first so they win), then every stored resource under /api and /apis.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simcluster import errors
from simcluster.apiserver import discovery, openapi
from simcluster.apiserver.auth import Authenticator, User, authorize
from simcluster.apiserver.requestinfo import RequestInfo, parse
from simcluster.apiserver.rest import Rest, respond, wants_table
from simcluster.apiserver.watch import options_from_query, serve_watch
from simcluster.resources import lookup
from simcluster.selectors import parse_field_selector, parse_label_selector
from simcluster.store import Store

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = ("/version", "/healthz", "/livez", "/readyz")
MAX_BODY = 3 * 1024 * 1024  # kube-apiserver's request size limit
THROTTLE_RETRY_AFTER = 1  # seconds, as kube-apiserver's priority and fairness answers

USER_KEY: web.RequestKey[User] = web.RequestKey("simcluster.user", User)
INFO_KEY: web.RequestKey[RequestInfo] = web.RequestKey("simcluster.info", RequestInfo)


def request_user(request: web.Request) -> User:
    """The authenticated user of a request (set by the auth middleware)."""
    user: User = request[USER_KEY]
    return user


def request_info(request: web.Request) -> RequestInfo:
    info: RequestInfo = request[INFO_KEY]
    return info


class ApiServer:
    """Routes and policy of the simulated API server over one `Store`."""

    def __init__(
        self,
        store: Store,
        authenticator: Authenticator,
        extra_routes: Callable[[web.Application], None] | None = None,
        bookmark_interval: float = 10.0,
        clock: Callable[[], float] | None = None,
    ) -> None:
        import time

        self.store = store
        self.authenticator = authenticator
        self.bookmark_interval = bookmark_interval
        self._clock = clock or time.monotonic
        self._outage_until = 0.0
        self._outage_status = 503
        self.rest = Rest(store)
        self.app = web.Application(
            middlewares=[self._errors_mw, self._faults_mw, self._auth_mw],
            client_max_size=MAX_BODY,
        )
        self.app[API_KEY] = self
        self.app.router.add_get("/version", self._version)
        for path in PUBLIC_PATHS[1:]:
            self.app.router.add_get(path, self._health)
            self.app.router.add_get(path + "/{check:.*}", self._health)
        self.app.router.add_get("/api", self._api_root)
        self.app.router.add_get("/apis", self._apis_root)
        self.app.router.add_get("/openapi/v3", self._openapi_index)
        self.app.router.add_get("/openapi/v3/{path:.*}", self._openapi_doc)
        if extra_routes is not None:
            extra_routes(self.app)
        self.app.router.add_route("*", "/api/{tail:.*}", self._resource)
        self.app.router.add_route("*", "/apis/{tail:.*}", self._resource)

    # -- faults --------------------------------------------------------------------------

    def set_outage(self, seconds: float, status: int = 503) -> None:
        """Answer every /api and /apis request with `status` for `seconds` (0 ends it)."""
        self._outage_until = self._clock() + max(0.0, seconds)
        self._outage_status = status

    # -- middlewares ---------------------------------------------------------------------

    @web.middleware
    async def _errors_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except errors.ApiError as exc:
            return respond(exc.to_status(), exc.code)
        except web.HTTPRequestEntityTooLarge:
            err = errors.ApiError(
                413, "RequestEntityTooLarge", f"Request entity too large: limit is {MAX_BODY}"
            )
            return respond(err.to_status(), 413)
        except web.HTTPNotFound:
            if request.path.startswith(("/api", "/openapi")):
                err = errors.ApiError(
                    404, "NotFound", "the server could not find the requested resource"
                )
                return respond(err.to_status(), 404)
            return web.Response(status=404, text="404 page not found\n")
        except web.HTTPMethodNotAllowed:
            return respond(errors.method_not_allowed().to_status(), 405)
        except web.HTTPException:
            raise
        except (ConnectionResetError, ConnectionError):
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path)
            err = errors.ApiError(
                500, "InternalError", f"Internal error occurred: {type(exc).__name__}: {exc}"
            )
            return respond(err.to_status(), 500)

    @web.middleware
    async def _faults_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if (
            self._outage_until
            and request.path.startswith("/api")
            and self._clock() < self._outage_until
        ):
            code = self._outage_status
            if code == 429:
                # API Priority and Fairness rejecting a request: it says when to try again.
                err = errors.ApiError(
                    429,
                    "TooManyRequests",
                    "Too many requests, please try again later.",
                    {"retryAfterSeconds": THROTTLE_RETRY_AFTER},
                )
                return respond(
                    err.to_status(), 429, headers={"Retry-After": str(THROTTLE_RETRY_AFTER)}
                )
            reason = {
                503: "ServiceUnavailable",
                500: "InternalError",
                504: "Timeout",
            }.get(code, "InternalError")
            raise errors.ApiError(
                code, reason, "the server is currently unable to handle the request"
            )
        return await handler(request)

    @web.middleware
    async def _auth_mw(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if any(path == p or path.startswith(p + "/") for p in PUBLIC_PATHS):
            return await handler(request)
        user = self.authenticator.user_for(request.headers.get("Authorization"), request.secure)
        info = parse(request.method, request.raw_path.split("?", 1)[0], dict(request.query))
        request[USER_KEY] = user
        request[INFO_KEY] = info
        if info.is_resource:
            authorize(
                user,
                info.verb,
                info.group,
                info.resource,
                info.subresource,
                info.namespace,
                info.name,
            )
        return await handler(request)

    # -- public endpoints ----------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return respond(discovery.VERSION_INFO)

    async def _health(self, request: web.Request) -> web.Response:
        if "verbose" in request.query:
            return web.Response(text="[+]ping ok\n[+]etcd ok\nhealthz check passed\n")
        return web.Response(text="ok")

    # -- discovery -----------------------------------------------------------------------

    def _discovery(self, request: web.Request, core: bool) -> web.Response:
        if discovery.wants_aggregated(request.headers.get("Accept", "")):
            return respond(
                discovery.aggregated(core),
                content_type=discovery.AGGREGATED_TYPE,
                headers={"Vary": "Accept"},
            )
        if core:
            return respond(discovery.api_versions(request.host))
        return respond(discovery.api_group_list())

    async def _openapi_index(self, request: web.Request) -> web.Response:
        return respond(openapi.index())

    async def _openapi_doc(self, request: web.Request) -> web.Response:
        doc = openapi.lookup(request.match_info["path"])
        if doc is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return respond(doc, headers={"Cache-Control": "public, immutable"})

    async def _api_root(self, request: web.Request) -> web.Response:
        return self._discovery(request, core=True)

    async def _apis_root(self, request: web.Request) -> web.Response:
        return self._discovery(request, core=False)

    # -- resources -----------------------------------------------------------------------

    async def _resource(self, request: web.Request) -> web.StreamResponse:
        info = request_info(request)
        if not info.is_resource:
            if not info.group and not info.version:  # "/api/" or "/apis/"
                return self._discovery(request, core=not request.path.startswith("/apis"))
            return self._group_discovery(info)
        rtype = lookup(info.group, info.version, info.resource)
        if rtype.namespaced and not info.namespace and (info.name or request.method != "GET"):
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if not rtype.namespaced and info.namespace and info.resource != "namespaces":
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        method = request.method
        rest = self.rest
        if info.subresource:
            if info.subresource == "status":
                return await rest.status(request, rtype, info)
            if info.subresource == "scale":
                return await rest.scale(request, rtype, info)
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        if not rtype.stored and method != "POST":
            raise errors.method_not_allowed()
        if method == "GET":
            if info.name and info.verb != "watch":
                return rest.get(request, rtype, info)
            if info.verb == "watch":
                return await self._watch(request, rtype, info)
            return rest.list(request, rtype, info)
        if method == "POST" and not info.name:
            return await rest.create(request, rtype, info, request_user(request))
        if method == "PUT" and info.name:
            return await rest.update(request, rtype, info)
        if method == "PATCH" and info.name:
            return await rest.patch(request, rtype, info)
        if method == "DELETE":
            if info.name:
                return await rest.delete(request, rtype, info)
            return await rest.delete_collection(request, rtype, info)
        raise errors.method_not_allowed()

    async def _watch(
        self, request: web.Request, rtype: Any, info: RequestInfo
    ) -> web.StreamResponse:
        labels = parse_label_selector(request.query.get("labelSelector"))
        field_text = request.query.get("fieldSelector")
        if info.name:  # /watch/namespaces/ns/pods/NAME: a watch on one object
            extra = f"metadata.name={info.name}"
            field_text = f"{field_text},{extra}" if field_text else extra
        fields = parse_field_selector(field_text, rtype.plural)
        opts = options_from_query(
            request.query,
            wants_table(request),
            request.query.get("includeObject", "Metadata"),
            self.bookmark_interval,
        )
        return await serve_watch(
            request, self.store, rtype, info.namespace or None, labels, fields, opts
        )

    def _group_discovery(self, info: RequestInfo) -> web.Response:
        if info.version and not info.group:
            body = discovery.resource_list("", info.version)
        elif info.version:
            body = discovery.resource_list(info.group, info.version)
        else:
            body = discovery.api_group(info.group)
        if body is None:
            raise errors.ApiError(
                404, "NotFound", "the server could not find the requested resource"
            )
        return respond(body)


API_KEY: web.AppKey[ApiServer] = web.AppKey("simcluster.apiserver", ApiServer)
