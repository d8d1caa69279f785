"""`asr-cache-sim fault ACTION ...`: change a running simulator's world from a shell.

It finds the simulator through the kubeconfig `asr-cache-sim` wrote (`--kubeconfig`, else
$KUBECONFIG): the server, its CA and the admin token. Then it calls the admin endpoint
(`POST /_sim/faults/ACTION`) and prints the answer in one line; a refusal exits 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import ssl
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from collectors.redact import redact_url
from collectors.units import SizeError, parse_size

TIMEOUT = 15.0


class FaultError(Exception):
    """The request could not be made or was refused; one sentence."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise FaultError(f"{self.prog}: {message}")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="asr-cache-sim fault", description=__doc__.split("\n\n")[0])
    p.add_argument("--kubeconfig", type=Path, help="the simulator's kubeconfig ($KUBECONFIG)")
    p.add_argument("-n", "--namespace", default="smallest")
    sub = p.add_subparsers(dest="action", required=True, parser_class=_Parser)
    for name, text in (("stall", "freeze a pod's download"), ("resume", "let it go on")):
        s = sub.add_parser(name, help=text)
        s.add_argument("pod")
    s = sub.add_parser("kill", help="kill a pod's container (exit 137, then it restarts)")
    s.add_argument("pod")
    s.add_argument("-c", "--container")
    s = sub.add_parser("corrupt", help="flip one byte of a file on a volume")
    s.add_argument("path", help="path inside the claim, or inside the pod with --pod")
    where = s.add_mutually_exclusive_group(required=True)
    where.add_argument("--claim")
    where.add_argument("--pod")
    s.add_argument("-c", "--container")
    s.add_argument("--offset", type=int)
    s = sub.add_parser("fill", help="fill a size-limited claim (root only)")
    s.add_argument("claim")
    s.add_argument("--leave", default="0", help="bytes to leave free, e.g. 1MiB")
    s = sub.add_parser("unfill", help="remove the filler from a claim")
    s.add_argument("claim")
    s = sub.add_parser("api-outage", help="answer every API request with an error for a while")
    s.add_argument("seconds", type=float)
    s.add_argument("--status", type=int, default=503)
    sub.add_parser("drop-watches", help="close every open watch stream")
    s = sub.add_parser("delete-node", help="lose a node and its pods")
    s.add_argument("node")
    s = sub.add_parser("node-down", help="cut a node's power: NotReady, its pods stranded")
    s.add_argument("node")
    s = sub.add_parser("node-up", help="power a downed node back on")
    s.add_argument("node")
    s = sub.add_parser(
        "node-not-ready", help="break a node's container network: NotReady, but it answers"
    )
    s.add_argument("node")
    s = sub.add_parser("node-ready", help="mend a NotReady node's container network")
    s.add_argument("node")
    s = sub.add_parser("model", help="set or clear a model file's faults on the model server")
    s.add_argument("model")
    s.add_argument("--clear", action="store_true")
    s.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a fault, e.g. stall_after=40%%, fail_status=503, rate_limit=1MiB/s",
    )
    s = sub.add_parser("image", help="make the image registry refuse an image, or serve it")
    s.add_argument("image", help="a tag, or a repository for all its tags")
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--not-found", dest="refuse", action="store_const", const="not-found")
    how.add_argument("--unauthorized", dest="refuse", action="store_const", const="unauthorized")
    how.add_argument("--publish", dest="refuse", action="store_const", const="")
    s = sub.add_parser("health", help="make a server's health endpoint answer an HTTP status")
    s.add_argument("target", help="a pod or deployment (NAME, pod/NAME, deployment/NAME)")
    how = s.add_mutually_exclusive_group(required=True)
    how.add_argument("--status", type=int, help="the status probes get, e.g. 503")
    how.add_argument("--clear", action="store_true", help="answer 200 again")
    sub.add_parser("status", help="the scenario, nodes and model server counters")
    return p


def _value(text: str) -> Any:
    """`503` -> 503, `true` -> True, `1.5` -> 1.5, anything else stays text (`40%`, `1MiB`)."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def request_body(args: argparse.Namespace) -> tuple[str, dict[str, Any] | None]:
    """(path, JSON body) for the parsed arguments; body None means GET."""
    a = args.action
    ns = args.namespace
    if a == "status":
        return "/_sim/status", None
    body: dict[str, Any] = {"namespace": ns}
    if a in ("stall", "resume"):
        body["pod"] = args.pod
    elif a == "kill":
        body.update(pod=args.pod, container=args.container)
    elif a == "corrupt":
        body.update(path=args.path, claim=args.claim, pod=args.pod, container=args.container)
        body["offset"] = args.offset
    elif a == "fill":
        try:
            body.update(claim=args.claim, leave=parse_size(args.leave))
        except SizeError:
            raise FaultError(f"--leave must be a size like 1MiB, got {args.leave!r}") from None
    elif a == "unfill":
        body["claim"] = args.claim
    elif a == "api-outage":
        body.update(seconds=args.seconds, status=args.status)
    elif a in ("delete-node", "node-down", "node-up", "node-not-ready", "node-ready"):
        body["node"] = args.node
    elif a == "model":
        faults = {}
        for item in args.set:
            key, eq, value = item.partition("=")
            if not eq or not key:
                raise FaultError(f"--set takes FIELD=VALUE, got {item!r}")
            faults[key.strip()] = _value(value.strip())
        body.update(model=args.model, clear=args.clear, faults=faults)
    elif a == "image":
        body.update(image=args.image, refuse=args.refuse or None)
    elif a == "health":
        body.update(target=args.target, status=args.status, clear=args.clear or None)
    return f"/_sim/faults/{a}", {k: v for k, v in body.items() if v is not None}


def load_target(path: Path | None) -> tuple[str, str, ssl.SSLContext | bool]:
    """(server URL, token, TLS verification) from the simulator's kubeconfig."""
    if path is None:
        env = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        if not env:
            raise FaultError(
                "no kubeconfig: give --kubeconfig or set KUBECONFIG (asr-cache-sim prints it)"
            )
        path = Path(env)
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise FaultError(f"cannot read the kubeconfig {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError:
        raise FaultError(f"the kubeconfig {path} is not valid YAML") from None
    try:
        ctx_name = config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == ctx_name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        server = str(cluster["server"])
        token = str(user["token"])
    except (KeyError, TypeError, StopIteration):
        raise FaultError(f"{path} is not a kubeconfig written by asr-cache-sim") from None
    verify: ssl.SSLContext | bool = True
    if server.startswith("https://"):
        if cluster.get("insecure-skip-tls-verify"):
            verify = False
        elif cluster.get("certificate-authority-data"):
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
            verify = ssl.create_default_context(cadata=ca)
    return server.rstrip("/"), token, verify


def call(
    server: str, token: str, verify: ssl.SSLContext | bool, path: str, body: dict[str, Any] | None
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    try:
        with httpx.Client(verify=verify, timeout=TIMEOUT, trust_env=False) as client:
            if body is None:
                r = client.get(server + path, headers=headers)
            else:
                r = client.post(server + path, headers=headers, json=body)
    except httpx.HTTPError as exc:
        raise FaultError(f"cannot reach the simulator at {redact_url(server)}: {exc}") from None
    try:
        data = r.json()
    except ValueError:
        data = {"message": r.text.strip()[:200]}
    if r.status_code != 200:
        raise FaultError(str(data.get("message") or f"HTTP {r.status_code}"))
    return data if isinstance(data, dict) else {"message": str(data)}


def fault_main(argv: list[str]) -> int:
    try:
        args = _parser().parse_args(argv)
        path, body = request_body(args)
        server, token, verify = load_target(args.kubeconfig)
        answer = call(server, token, verify, path, body)
    except FaultError as exc:
        print(f"asr-cache-sim fault: {exc}", file=sys.stderr)
        return 1
    if body is None:
        print(json.dumps(answer, indent=1))
    else:
        print(answer.get("message", "ok"))
    return 0
