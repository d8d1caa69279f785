"""The one place that builds Kubernetes API clients.

kubectl's conventions decide where the configuration comes from (``--kubeconfig``, else
``$KUBECONFIG``, else ``~/.kube/config``, else the in-cluster service account), which context
and which namespace. Every request gets a connect and a read timeout, and every request and
byte is counted per verb and resource so tests and benchmarks can see what a view costs.
Whatever goes wrong while connecting becomes a ``ClusterError`` with one sentence that names
the file, the context or the permission.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from collectors.redact import redact_url
from collectors.yamlfile import load_mapping

DEFAULT_NAMESPACE = "smallest"
DEFAULT_KUBECONFIG = "~/.kube/config"
IN_CLUSTER = "in-cluster"
_SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class ClusterError(Exception):
    """Connecting or talking to the cluster failed; ``str()`` is one sentence for a human."""


@dataclass(frozen=True)
class ConnectionSettings:
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    request_timeout: float = 10.0  # read timeout of ordinary requests
    connect_timeout: float = 5.0

    @classmethod
    def from_args(cls, args: Any) -> ConnectionSettings:
        """From the argparse namespace of ``tui.cli`` (any missing flag takes its default)."""
        timeout = float(getattr(args, "request_timeout", None) or 10.0)
        return cls(
            kubeconfig=getattr(args, "kubeconfig", None),
            context=getattr(args, "context", None),
            namespace=getattr(args, "namespace", None),
            request_timeout=timeout,
            connect_timeout=min(5.0, timeout),
        )


# -- request accounting -------------------------------------------------------------------------


class RequestCounters:
    """Requests and response bytes per ``(verb, resource)``; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str], int] = {}
        self._bytes: dict[tuple[str, str], int] = {}

    def count_request(self, verb: str, resource: str) -> None:
        with self._lock:
            key = (verb, resource)
            self._requests[key] = self._requests.get(key, 0) + 1

    def count_bytes(self, verb: str, resource: str, n: int) -> None:
        if n <= 0:
            return
        with self._lock:
            key = (verb, resource)
            self._bytes[key] = self._bytes.get(key, 0) + n

    def requests(self, verb: str | None = None, resource: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (v, r), n in self._requests.items()
                if (verb is None or v == verb) and (resource is None or r == resource)
            )

    def bytes(self, verb: str | None = None, resource: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (v, r), n in self._bytes.items()
                if (verb is None or v == verb) and (resource is None or r == resource)
            )

    def snapshot(self) -> dict[str, dict[str, int]]:
        """``{"list pods": {"requests": 1, "bytes": 5120}, ...}``, sorted by key."""
        with self._lock:
            keys = sorted(set(self._requests) | set(self._bytes))
            return {
                f"{v} {r}": {
                    "requests": self._requests.get((v, r), 0),
                    "bytes": self._bytes.get((v, r), 0),
                }
                for v, r in keys
            }


_METHOD_VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def classify_request(method: str, url: str) -> tuple[str, str]:
    """``("list", "pods")``, ``("watch", "deployments")``, ``("get", "pods/log")``,
    ``("get", "nodes/proxy")``... from an API URL, the way RBAC names them."""
    parts = urlsplit(url)
    segs = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)
    if segs[:1] == ["api"] and len(segs) >= 2:
        rest = segs[2:]
    elif segs[:1] == ["apis"] and len(segs) >= 3:
        rest = segs[3:]
    else:
        return ("get" if method == "GET" else method.lower(), "/" + "/".join(segs))
    if len(rest) >= 2 and rest[0] == "namespaces":
        rest = rest[2:] if len(rest) > 2 else ["namespaces", rest[1]]
    if not rest:
        return (method.lower(), "/" + "/".join(segs))
    resource = rest[0]
    named = len(rest) >= 2
    if len(rest) >= 3:
        resource = f"{resource}/{rest[2]}"
    if method == "GET":
        if not named:
            watch = query.get("watch", ["false"])[0].lower() in ("true", "1")
            return ("watch" if watch else "list", resource)
        return ("get", resource)
    if method == "DELETE" and not named:
        return ("deletecollection", resource)
    return (_METHOD_VERBS.get(method, method.lower()), resource)


class CountedResponse:
    """A urllib3 response that adds what is read to the counters; everything else delegates."""

    def __init__(self, raw: Any, counters: RequestCounters, verb: str, resource: str) -> None:
        self._raw = raw
        self._counters = counters
        self._key = (verb, resource)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def _count(self, data: bytes | None) -> bytes:
        if data:
            self._counters.count_bytes(self._key[0], self._key[1], len(data))
        return data or b""

    @property
    def data(self) -> bytes:
        return self._count(self._raw.data)

    def read(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        return self._count(self._raw.read(amt, *args, **kwargs))

    def read1(self, amt: int | None = None, *args: Any, **kwargs: Any) -> bytes:
        return self._count(self._raw.read1(amt, *args, **kwargs))

    def stream(
        self, amt: int | None = 2**16, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        for chunk in self._raw.stream(amt, decode_content=decode_content):
            yield self._count(chunk)


class _CountingApiClient(k8s.ApiClient):
    """``ApiClient`` whose every request is counted (and whose streamed bodies count bytes).

    A request made without ``_request_timeout`` gets the default one: a forgotten timeout
    must not become a call that hangs forever on a dead API server.
    """

    def __init__(
        self,
        configuration: k8s.Configuration,
        counters: RequestCounters,
        default_timeout: tuple[float, float],
    ) -> None:
        super().__init__(configuration)
        self._counters = counters
        self._default_timeout = default_timeout

    def call_api(
        self,
        method: str,
        url: str,
        header_params: Any = None,
        body: Any = None,
        post_params: Any = None,
        _request_timeout: Any = None,
    ) -> Any:
        verb, resource = classify_request(method, url)
        self._counters.count_request(verb, resource)
        if _request_timeout is None and not _is_websocket(url):
            _request_timeout = self._default_timeout
        response = super().call_api(
            method,
            url,
            header_params=header_params,
            body=body,
            post_params=post_params,
            _request_timeout=_request_timeout,
        )
        response.response = CountedResponse(response.response, self._counters, verb, resource)
        return response


def _is_websocket(url: str) -> bool:
    """exec/attach/portforward go over WebSocket, whose client wants one number or nothing."""
    path = url.split("?", 1)[0]
    return path.endswith(("/exec", "/attach", "/portforward"))


# -- kubeconfig ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KubeconfigChoice:
    paths: tuple[Path, ...]
    context: str
    cluster: str | None
    user: str | None
    namespace: str | None


def _kubeconfig_paths(explicit: str | None) -> tuple[Path, ...] | None:
    """The files to read, or None for in-cluster configuration."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ClusterError(f"kubeconfig {path} does not exist (given with --kubeconfig).")
        return (path,)
    env = os.environ.get("KUBECONFIG", "")
    if env.strip():
        listed = [Path(p).expanduser() for p in env.split(os.pathsep) if p.strip()]
        existing = tuple(p for p in listed if p.is_file())
        if not existing:
            raise ClusterError(
                f"kubeconfig {env} (from $KUBECONFIG) does not exist; fix the variable or unset it."
            )
        return existing
    default = Path(DEFAULT_KUBECONFIG).expanduser()
    if default.is_file():
        return (default,)
    if os.environ.get("KUBERNETES_SERVICE_HOST"):
        return None
    raise ClusterError(
        f"no kubeconfig found: pass --kubeconfig, set $KUBECONFIG or create {default} "
        "(and this is not a pod with a service account)."
    )


def _read_kubeconfig(path: Path) -> dict[str, Any]:
    return load_mapping(
        path,
        "kubeconfig",
        ClusterError,
        expected="a kubeconfig (expected a mapping with clusters, contexts and users)",
    )


def _named(items: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                out.setdefault(item["name"], item)
    return out


def _choose_context(paths: tuple[Path, ...], wanted: str | None) -> _KubeconfigChoice:
    contexts: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    current: str | None = None
    for path in paths:
        data = _read_kubeconfig(path)
        for key, item in _named(data.get("contexts")).items():
            contexts.setdefault(key, item)
        for key, item in _named(data.get("clusters")).items():
            clusters.setdefault(key, item)
        if current is None and isinstance(data.get("current-context"), str):
            current = data["current-context"] or None
    shown = ", ".join(str(p) for p in paths)
    known = ", ".join(sorted(contexts)) or "none"
    name = wanted or current
    if not name:
        raise ClusterError(
            f"kubeconfig {shown} has no current-context; pass --context (contexts: {known})."
        )
    if name not in contexts:
        how = "given with --context" if wanted else "its current-context"
        raise ClusterError(
            f"context {name!r} ({how}) is not in kubeconfig {shown} (contexts: {known})."
        )
    ctx = contexts[name].get("context") or {}
    cluster = ctx.get("cluster") if isinstance(ctx, dict) else None
    if not cluster or cluster not in clusters:
        raise ClusterError(
            f"context {name!r} in kubeconfig {shown} names cluster {cluster!r}, "
            "which is not defined there."
        )
    server = (clusters[cluster].get("cluster") or {}).get("server")
    if not server:
        raise ClusterError(f"cluster {cluster!r} in kubeconfig {shown} has no server address.")
    return _KubeconfigChoice(
        paths=paths,
        context=name,
        cluster=cluster,
        user=ctx.get("user") if isinstance(ctx, dict) else None,
        namespace=ctx.get("namespace") if isinstance(ctx, dict) else None,
    )


# -- the cluster handle -------------------------------------------------------------------------


class Cluster:
    """API clients for one context and namespace, with timeouts and request accounting.

    ``core``/``apps``/``batch``/``authorization``/``storage``/``custom`` share one counting
    client and are safe to use from many threads. ``exec_core()`` hands out a client of its
    own because ``kubernetes.stream.stream`` temporarily replaces the client's transport.
    """

    def __init__(
        self,
        configuration: k8s.Configuration,
        *,
        context: str,
        namespace: str,
        kubeconfig: str | None,
        user: str | None,
        settings: ConnectionSettings,
    ) -> None:
        self.configuration = configuration
        self.context = context
        self.namespace = namespace
        self.kubeconfig = kubeconfig
        self.user = user
        self.settings = settings
        self.server = redact_url(str(configuration.host))
        self.counters = RequestCounters()
        self.api_client = _CountingApiClient(configuration, self.counters, self.timeout)
        self.core = k8s.CoreV1Api(self.api_client)
        self.apps = k8s.AppsV1Api(self.api_client)
        self.batch = k8s.BatchV1Api(self.api_client)
        self.authorization = k8s.AuthorizationV1Api(self.api_client)
        self.storage = k8s.StorageV1Api(self.api_client)
        self.custom = k8s.CustomObjectsApi(self.api_client)

    @property
    def timeout(self) -> tuple[float, float]:
        """``_request_timeout`` for ordinary requests: (connect, read)."""
        return (self.settings.connect_timeout, self.settings.request_timeout)

    def stream_timeout(self, read: float | None) -> tuple[float, float | None]:
        """``_request_timeout`` for a long-lived stream (watch, log follow)."""
        return (self.settings.connect_timeout, read)

    def new_api_client(self) -> k8s.ApiClient:
        """A separate counting client (close it when done)."""
        return _CountingApiClient(self.configuration, self.counters, self.timeout)

    def get_json(self, method: Callable[..., Any], *args: Any) -> Any:
        """One ordinary GET through a client method (``core.read_namespaced_service``, ...),
        parsed as plain JSON: no typed model is built, and the ordinary timeout applies."""
        resp = method(*args, _preload_content=False, _request_timeout=self.timeout)
        return json.loads(resp.data)

    @contextlib.contextmanager
    def exec_core(self) -> Iterator[k8s.CoreV1Api]:
        """A ``CoreV1Api`` on a client of its own, for ``kubernetes.stream.stream`` (exec)."""
        api_client = k8s.ApiClient(self.configuration)
        try:
            self.counters.count_request("create", "pods/exec")
            yield k8s.CoreV1Api(api_client)
        finally:
            with contextlib.suppress(Exception):
                api_client.close()

    def describe_error(
        self, exc: BaseException, verb: str = "get", resource: str = "pods", namespaced: bool = True
    ) -> str:
        return describe_error(
            exc,
            server=self.server,
            context=self.context,
            kubeconfig=self.kubeconfig,
            user=self.user,
            namespace=self.namespace if namespaced else None,
            verb=verb,
            resource=resource,
            timeout=self.settings.request_timeout,
        )

    def check(self) -> None:
        """One cheap request that proves the server answers and we may list pods here."""
        try:
            resp = self.core.list_namespaced_pod(
                self.namespace, limit=1, _preload_content=False, _request_timeout=self.timeout
            )
            resp.data  # noqa: B018 - read (and count) the body, then release the connection
            resp.release_conn()
        except Exception as exc:
            raise ClusterError(self.describe_error(exc, "list", "pods")) from None

    def namespace_exists(self) -> bool | None:
        """Whether our namespace exists: listing pods in one that does not answers an empty
        list, as if it held none (a mistyped ``-n prod`` looks like an empty namespace).
        None when we cannot tell (forbidden to read namespaces, most often; or an error)."""
        try:
            resp = self.core.read_namespace(
                self.namespace, _preload_content=False, _request_timeout=self.timeout
            )
            resp.data  # noqa: B018 - read (and count) the body, then release the connection
            resp.release_conn()
        except ApiException as exc:
            return False if exc.status == 404 else None
        except Exception:
            return None
        return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.api_client.close()


def connect(settings: ConnectionSettings | None = None) -> Cluster:
    """Load the configuration (no request is sent); raise ``ClusterError`` when it is unusable."""
    settings = settings or ConnectionSettings()
    configuration = k8s.Configuration()
    paths = _kubeconfig_paths(settings.kubeconfig)
    if paths is None:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except ConfigException as exc:
            raise ClusterError(f"in-cluster configuration is unusable: {exc}.") from None
        try:
            sa_namespace = _SA_NAMESPACE.read_text(encoding="utf-8").strip() or None
        except OSError:
            sa_namespace = None
        context: str = IN_CLUSTER
        user: str | None = "serviceaccount"
        ctx_namespace: str | None = sa_namespace
        shown: str | None = None
    else:
        choice = _choose_context(paths, settings.context)
        shown = os.pathsep.join(str(p) for p in paths)
        try:
            k8s_config.load_kube_config(
                config_file=shown,
                context=choice.context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
            detail = str(exc).strip().rstrip(".") or type(exc).__name__
            raise ClusterError(
                f"kubeconfig {shown}, context {choice.context!r}: {detail}."
            ) from None
        context, user, ctx_namespace = choice.context, choice.user, choice.namespace
    configuration.retries = 0  # fail fast; callers retry with their own backoff
    configuration.connection_pool_maxsize = 64  # watches + log streams share the pool
    namespace = settings.namespace or ctx_namespace or DEFAULT_NAMESPACE
    return Cluster(
        configuration,
        context=context,
        namespace=namespace,
        kubeconfig=shown,
        user=user,
        settings=settings,
    )


# -- errors -------------------------------------------------------------------------------------


def _status_message(exc: ApiException) -> str | None:
    body = exc.body
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str) and body.startswith("{"):
        try:
            status = json.loads(body)
        except ValueError:
            return None
        if isinstance(status, Mapping) and isinstance(status.get("message"), str):
            return str(status["message"])
    return None


def _root_cause(exc: BaseException) -> BaseException:
    seen = 0
    while seen < 8:
        seen += 1
        nxt = getattr(exc, "reason", None)
        if isinstance(nxt, BaseException):
            exc = nxt
            continue
        if exc.__cause__ is not None:
            exc = exc.__cause__
            continue
        break
    return exc


def api_trouble(exc: BaseException) -> str:
    """How the API fails us, in the stale banner's words: at 3 a.m. a throttle, a revoked role
    and an outage call for different things, and "unreachable" said of all three misleads."""
    if isinstance(exc, ApiException) and exc.status:
        if exc.status == 401:
            return "rejecting our credentials (401)"
        if exc.status == 403:
            return "refusing us (403)"
        if exc.status == 429:
            return "throttling us (429)"
        if exc.status >= 500:
            return f"failing ({exc.status})"
        return f"answering {exc.status}"
    cause = _root_cause(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError) or isinstance(
        cause, urllib3.exceptions.ReadTimeoutError
    ):
        return "not answering"
    return "unreachable"


def describe_error(
    exc: BaseException,
    *,
    server: str,
    context: str,
    kubeconfig: str | None,
    user: str | None,
    namespace: str | None,
    verb: str,
    resource: str,
    timeout: float,
) -> str:
    """One sentence for a failed request: what failed, against what, and what to check."""
    where = f"in namespace {namespace!r}" if namespace else "cluster-wide"
    if isinstance(exc, ClusterError):
        return str(exc)
    if isinstance(exc, ApiException):
        status = exc.status or 0
        if status == 401:
            src = f" in kubeconfig {kubeconfig}" if kubeconfig else ""
            return (
                f"the API server {server} rejected the credentials of context {context!r} "
                f"(401 Unauthorized); check user {user!r}{src}."
            )
        if status == 403:
            return (
                f"permission denied: user {user!r} (context {context!r}) may not {verb} "
                f"{resource} {where} (403 Forbidden); the role needs verb {verb!r} on "
                f"{resource!r}."
            )
        if status == 0:
            return f"cannot talk to the API server {server}: {exc.reason}."
        message = _status_message(exc) or (exc.reason or "").strip() or "no message"
        return (
            f"the API server {server} answered {status} to {verb} {resource} {where}: "
            f"{message.rstrip('.')}."
        )
    cause = _root_cause(exc)
    if isinstance(exc, urllib3.exceptions.ReadTimeoutError) or isinstance(
        cause, urllib3.exceptions.ReadTimeoutError
    ):
        return (
            f"the API server {server} (context {context!r}) did not answer {verb} {resource} "
            f"within {timeout:g} s."
        )
    if isinstance(cause, (urllib3.exceptions.ConnectTimeoutError, TimeoutError)):
        return f"cannot reach the API server {server} (context {context!r}): connection timed out."
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in str(cause):
        return f"cannot reach the API server {server} (context {context!r}): connection refused."
    if isinstance(cause, urllib3.exceptions.NameResolutionError) or "resolve" in str(cause):
        return f"cannot reach the API server {server} (context {context!r}): unknown host name."
    if isinstance(exc, urllib3.exceptions.SSLError) or isinstance(
        cause, urllib3.exceptions.SSLError
    ):
        return f"TLS with the API server {server} (context {context!r}) failed: {cause}."
    if isinstance(exc, (urllib3.exceptions.HTTPError, ConnectionError, OSError)) or isinstance(
        cause, (ConnectionError, OSError)
    ):
        text = str(cause).strip() or type(cause).__name__
        return f"lost the connection to the API server {server} (context {context!r}): {text}."
    text = str(exc).strip() or type(exc).__name__
    return f"{verb} {resource} {where} failed: {text}."
