"""Finding, reading and checking scenario files.

A scenario is a YAML file (the built-in ones ship next to this module). Everything in it is
checked before anything runs, and every mistake is reported as `file:line: why` — an unknown
field (with the closest known name), a wrong type, a placeholder naming an unknown model, a
Kubernetes kind the simulator does not serve.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collectors.units import SizeError, parse_size
from simcluster.kubelet.images import REFUSALS
from simcluster.modelserver import Faults
from simcluster.resources import RESOURCES
from simcluster.scenarios.spec import (
    FaultSpec,
    FlakySpec,
    HealthSpec,
    ImageSpec,
    ModelSpec,
    NodeSpec,
    ObjectSpec,
    Repeat,
    Scenario,
    Size,
    Source,
    StepSpec,
    VolumeSeed,
)
from simcluster.scenarios.template import TemplateError, names_in
from simcluster.scenarios.yamlpos import Located, Path_, YamlError, load_located

BUILTIN_DIR = Path(__file__).resolve().parent
MAX_FILE_BYTES = 1024 * 1024
MODEL_FIELDS = ("url", "sha256", "size", "path", "file")
GLOBAL_NAMES = ("server", "namespace", "scenario")

_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?\s*$")
_PERCENT = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*%\s*$")

TOP_FIELDS = (
    "name",
    "description",
    "namespace",
    "nodes",
    "model_size",
    "speed",
    "load_memory_factor",
    "node_monitor_grace",
    "models",
    "faults",
    "flaky",
    "health",
    "images",
    "volumes",
    "objects",
    "steps",
)
FAULT_SIZE_FIELDS = ("stall_after", "drop_after", "corrupt_byte_at")
FAULT_COUNT_FIELDS = ("stall_requests", "drop_requests", "fail_first", "change_etag_after_requests")


class ScenarioError(ValueError):
    """A scenario that cannot be used; the message is `file:line: why`."""

    def __init__(self, file: str, line: int, why: str) -> None:
        where = f"{file}:{line}" if line else file
        super().__init__(f"{where}: {why}")
        self.file = file
        self.line = line
        self.why = why


@dataclass(frozen=True)
class ScenarioInfo:
    name: str
    description: str
    path: Path


# -- finding ---------------------------------------------------------------------------------


def builtin_paths() -> list[Path]:
    return sorted(BUILTIN_DIR.glob("*.yaml"))


def list_scenarios() -> list[ScenarioInfo]:
    """The built-in scenarios with their one-line descriptions, by name."""
    out = []
    for path in builtin_paths():
        s = load_file(path)
        out.append(ScenarioInfo(s.name, s.description, path))
    return sorted(out, key=lambda i: i.name)


def find_scenario(name_or_path: str) -> Path:
    """A built-in scenario's file by name, or a path to a YAML file."""
    looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise ScenarioError(name_or_path, 0, "no such scenario file")
        return path
    path = BUILTIN_DIR / f"{name_or_path}.yaml"
    if _NAME.match(name_or_path) and path.is_file():
        return path
    known = ", ".join(p.stem for p in builtin_paths())
    raise ScenarioError(
        name_or_path, 0, f"unknown scenario; built-in ones are: {known} (or give a .yaml path)"
    )


def load_scenario(name_or_path: str) -> Scenario:
    """Find and check a scenario; raise ScenarioError (file:line: why) when it is not usable."""
    return load_file(find_scenario(name_or_path))


def load_file(path: Path) -> Scenario:
    shown = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(shown, 0, f"cannot read the file: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(shown, 0, f"the file is larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioError(shown, 0, f"the file is not UTF-8 text (byte {exc.start})") from None
    return parse_scenario(text, shown, base_dir=path.resolve().parent, default_name=path.stem)


def parse_scenario(
    text: str, file: str = "<scenario>", base_dir: Path | None = None, default_name: str = ""
) -> Scenario:
    """Check scenario YAML text (file names the source in error messages)."""
    try:
        doc = load_located(text)
    except YamlError as exc:
        raise ScenarioError(file, exc.line, exc.why) from None
    return _Checker(file, doc, base_dir or Path.cwd(), default_name).scenario()


# -- checking --------------------------------------------------------------------------------


def _where(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "the top level"


def _keys(value: Any) -> list[Any]:
    return list(value) if isinstance(value, dict) else []


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "a mapping",
    }.get(type(value), type(value).__name__)


def parse_duration(value: Any) -> float:
    """`1.5s`, `500ms`, `2m`, or a plain number of seconds."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(value)
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError(value)
    unit = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[m.group(2)]
    return float(m.group(1)) * unit


def parse_speed(value: Any) -> int | None:
    """`8MiB`, `8MiB/s` or a byte count per second; `unlimited`/`none`/0 mean no cap."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("unlimited", "none")):
        return None
    if isinstance(value, bool):
        raise SizeError(f"not a speed: {value!r}")
    text = str(value).strip()
    text = text[:-2] if text.endswith("/s") else text
    n = parse_size(text)
    return n or None


class _Checker:
    def __init__(self, file: str, doc: Located, base_dir: Path, default_name: str) -> None:
        self.file = file
        self.doc = doc
        self.base_dir = base_dir
        self.default_name = default_name
        self.models: dict[str, ModelSpec] = {}
        self.node_names: set[str] = set()

    def fail(self, path: Path_, why: str) -> ScenarioError:
        return ScenarioError(self.file, self.doc.line(path), why)

    # -- generic shapes ---------------------------------------------------------------------

    def mapping(self, path: Path_, value: Any, allowed: Iterable[str], what: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping, not {_type_name(value)}")
        known = list(allowed)
        for key in value:
            if key not in known:
                hint = difflib.get_close_matches(str(key), known, n=1)
                also = f" (did you mean {hint[0]!r}?)" if hint else ""
                raise self.fail(
                    (*path, key),
                    f"unknown field {key!r} in {what}{also}; known fields: {', '.join(known)}",
                )
        return value

    def need(self, path: Path_, value: dict, key: str, what: str) -> Any:
        if key not in value or value[key] is None:
            raise self.fail(path, f"{what} needs a {key!r} field")
        return value[key]

    def text(self, path: Path_, value: Any, what: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, f"{what} must be non-empty text, not {_type_name(value)}")
        return value

    def integer(self, path: Path_, value: Any, what: str, low: int = 0, high: int = 2**62) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, f"{what} must be a whole number, not {_type_name(value)}")
        if not low <= value <= high:
            raise self.fail(path, f"{what} must be between {low} and {high}, got {value}")
        return value

    def number(self, path: Path_, value: Any, what: str) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise self.fail(path, f"{what} must be a non-negative number, got {value!r}")
        return float(value)

    def boolean(self, path: Path_, value: Any, what: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, f"{what} must be true or false, not {_type_name(value)}")
        return value

    def size(self, path: Path_, value: Any, what: str, percent: bool = False) -> Size:
        matched = _PERCENT.match(value) if isinstance(value, str) else None
        if matched is not None:
            if not percent:
                raise self.fail(path, f"{what} cannot be a percentage here")
            pct = float(matched.group(1))
            if pct > 100:
                raise self.fail(path, f"{what} must be at most 100%, got {value}")
            return Size(percent=pct)
        if isinstance(value, bool):
            raise self.fail(path, f"{what} must be a size like 4MiB, not true/false")
        if isinstance(value, int):
            if value < 0:
                raise self.fail(path, f"{what} must not be negative, got {value}")
            return Size(bytes=value)
        try:
            return Size(bytes=parse_size(str(value)))
        except SizeError:
            hint = " or a percentage like 40%" if percent else ""
            raise self.fail(
                path, f"{what} must be a size like 4MiB, 300MB or 1048576{hint}, got {value!r}"
            ) from None

    def duration(self, path: Path_, value: Any, what: str) -> float:
        try:
            return parse_duration(value)
        except ValueError:
            raise self.fail(
                path, f"{what} must be a duration like 2s, 500ms or 1m, got {value!r}"
            ) from None

    def listing(self, path: Path_, value: Any, what: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(path, f"{what} must be a list, not {_type_name(value)}")
        return value

    def model_ref(self, path: Path_, value: Any, what: str) -> str:
        name = self.text(path, value, what)
        if name not in self.models:
            known = ", ".join(self.models) or "none are declared"
            raise self.fail(path, f"{what} names unknown model {name!r} (models: {known})")
        return name

    def placeholders(self, path: Path_, value: Any, local: tuple[str, ...] = ()) -> None:
        """Every `${...}` in value (recursively) must name something that will exist."""
        if isinstance(value, str):
            try:
                names = names_in(value)
            except TemplateError as exc:
                raise self.fail(path, str(exc)) from None
            for name, _factor in names:
                self.check_name(path, name, local)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.placeholders((*path, i), v, local)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str):
                    self.placeholders((*path, k), k, local)
                self.placeholders((*path, k), v, local)

    def check_name(self, path: Path_, name: str, local: tuple[str, ...]) -> None:
        if name in GLOBAL_NAMES or name in local:
            return
        parts = name.split(".")
        if parts[0] == "model" and len(parts) == 3:
            if parts[1] not in self.models:
                raise self.fail(path, f"${{{name}}} names unknown model {parts[1]!r}")
            if parts[2] not in MODEL_FIELDS:
                raise self.fail(
                    path, f"${{{name}}}: a model has {', '.join(MODEL_FIELDS)}, not {parts[2]!r}"
                )
            return
        known = [*GLOBAL_NAMES, *local, "model.NAME.FIELD"]
        raise self.fail(path, f"unknown placeholder ${{{name}}}; known: {', '.join(known)}")

    # -- sections ---------------------------------------------------------------------------

    def scenario(self) -> Scenario:
        top = self.doc.data
        if top is None:
            raise ScenarioError(self.file, 1, "the scenario is empty")
        self.mapping((), top, TOP_FIELDS, "a scenario")
        name = top.get("name", self.default_name)
        if not isinstance(name, str) or not _NAME.match(name):
            why = f"name must be lowercase letters, digits and '-', not {name!r}"
            raise self.fail(("name",), why)
        description = self.text(("description",), top.get("description"), "description")
        if "\n" in description.strip():
            raise self.fail(("description",), "description must be one line")
        namespace = top.get("namespace", "smallest")
        if not isinstance(namespace, str) or not _NAME.match(namespace):
            raise self.fail(("namespace",), f"namespace must be a DNS label, not {namespace!r}")
        model_size = 256 * 1024**2
        if "model_size" in top:
            model_size = self.size(("model_size",), top["model_size"], "model_size").of(0)
            if model_size <= 0:
                raise self.fail(("model_size",), "model_size must be more than 0 bytes")
        speed = None
        if "speed" in top:
            try:
                speed = parse_speed(top["speed"])
            except SizeError:
                raise self.fail(
                    ("speed",), f"speed must be like 8MiB/s or unlimited, got {top['speed']!r}"
                ) from None
        load_factor = None
        if "load_memory_factor" in top:
            load_factor = self.number(
                ("load_memory_factor",), top["load_memory_factor"], "load_memory_factor"
            )
        grace = None
        if "node_monitor_grace" in top:
            grace = self.duration(
                ("node_monitor_grace",), top["node_monitor_grace"], "node_monitor_grace"
            )
        self.models = self.check_models(top.get("models"))
        nodes = self.check_nodes(top.get("nodes", 1))
        self.node_names = {n.name for n in nodes}
        return Scenario(
            name=name,
            description=description.strip(),
            file=self.file,
            namespace=namespace,
            nodes=nodes,
            model_size=model_size,
            speed=speed,
            load_memory_factor=load_factor,
            models=self.models,
            faults=tuple(self.check_fault(i, f) for i, f in self.items("faults")),
            flaky=tuple(self.check_flaky(i, f) for i, f in self.items("flaky")),
            health=tuple(self.check_health(i, f) for i, f in self.items("health")),
            images=tuple(self.check_image(i, f) for i, f in self.items("images")),
            volumes=tuple(self.check_volume(i, f) for i, f in self.items("volumes")),
            objects=tuple(self.check_object(i, f) for i, f in self.items("objects")),
            steps=tuple(self.check_step(i, f) for i, f in self.items("steps")),
            node_monitor_grace=grace,
        )

    def items(self, section: str) -> list[tuple[int, Any]]:
        return list(enumerate(self.listing((section,), self.doc.data.get(section), section)))

    def check_nodes(self, value: Any) -> tuple[NodeSpec, ...]:
        path: Path_ = ("nodes",)
        if isinstance(value, int) and not isinstance(value, bool):
            count = self.integer(path, value, "nodes", 1, 500)
            return tuple(NodeSpec(f"node-{i}") for i in range(1, count + 1))
        out = []
        seen = set()
        for i, item in enumerate(self.listing(path, value, "nodes")):
            p = (*path, i)
            if isinstance(item, str):
                node = NodeSpec(item)
            else:
                m = self.mapping(p, item, ("name", "labels"), "a node")
                labels = m.get("labels") or {}
                if not isinstance(labels, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in labels.items()
                ):
                    raise self.fail((*p, "labels"), "labels must map text to text")
                node = NodeSpec(self.text((*p, "name"), m.get("name"), "a node's name"), labels)
            if not _NAME.match(node.name) and not re.match(r"^[a-z0-9][a-z0-9.-]*$", node.name):
                raise self.fail(p, f"node name {node.name!r} is not a valid DNS name")
            if node.name in seen:
                raise self.fail(p, f"node {node.name!r} is listed twice")
            seen.add(node.name)
            out.append(node)
        if not out:
            raise self.fail(path, "a scenario needs at least one node")
        return tuple(out)

    def check_models(self, value: Any) -> dict[str, ModelSpec]:
        path: Path_ = ("models",)
        if value is None:
            return {}
        self.mapping(path, value, _keys(value), "models")
        out: dict[str, ModelSpec] = {}
        paths: set[str] = set()
        for name, body in value.items():
            p = (*path, name)
            if not isinstance(name, str) or not _MODEL_NAME.match(name):
                raise self.fail(p, f"model name {name!r} must be letters, digits, '-' or '_'")
            m = self.mapping(p, body, ("path", "seed", "size"), f"model {name!r}")
            served = self.text((*p, "path"), m.get("path"), f"model {name!r} path")
            if not served.startswith("/") or ".." in served.split("/") or "?" in served:
                raise self.fail((*p, "path"), f"model path must start with '/', got {served!r}")
            if served in paths:
                raise self.fail((*p, "path"), f"two models are served at {served}")
            paths.add(served)
            seed = self.integer((*p, "seed"), m.get("seed", 1), "seed", 0, 2**31)
            size = None
            if m.get("size") is not None:
                size = self.size((*p, "size"), m["size"], "size").of(0)
            out[name] = ModelSpec(name, served, seed, size)
        return out

    def check_fault(self, i: int, value: Any) -> FaultSpec:
        path: Path_ = ("faults", i)
        allowed = ["model", "hold", *Faults.__dataclass_fields__]
        m = self.mapping(path, value, allowed, "a fault")
        model = self.model_ref((*path, "model"), self.need(path, m, "model", "a fault"), "model")
        fields: dict[str, Any] = {}
        for key, v in m.items():
            p = (*path, key)
            if key in ("model", "hold"):
                continue
            if key in FAULT_SIZE_FIELDS:
                fields[key] = self.size(p, v, key, percent=True)
            elif key == "rate_limit":
                try:
                    fields[key] = parse_speed(v)
                except SizeError:
                    raise self.fail(p, f"rate_limit must be like 8MiB/s, got {v!r}") from None
            elif key in FAULT_COUNT_FIELDS:
                fields[key] = self.integer(p, v, key)
            elif key == "fail_status":
                fields[key] = self.integer(p, v, key, 300, 599)
            elif key == "retry_after":
                fields[key] = self.number(p, v, key)
            elif key == "ignore_range":
                fields[key] = self.boolean(p, v, key)
            elif key == "wrong_content_length":
                fields[key] = self.integer(p, v, key, -(2**40), 2**40)
            elif key == "redirect_to":
                fields[key] = self.text(p, v, key)
        hold = self.boolean((*path, "hold"), m.get("hold", False), "hold")
        if hold and "stall_after" not in fields:
            raise self.fail((*path, "hold"), "hold only makes sense with stall_after")
        try:
            trial: dict[str, Any] = {
                k: (v.of(1 << 30) if isinstance(v, Size) else v) for k, v in fields.items()
            }
            Faults(**trial)
        except (TypeError, ValueError) as exc:
            raise self.fail(path, str(exc)) from None
        return FaultSpec(model, fields, hold, self.doc.line(path))

    def check_flaky(self, i: int, value: Any) -> FlakySpec:
        path: Path_ = ("flaky", i)
        allowed = ("model", "every", "drop_after", "fail_status", "retry_after")
        m = self.mapping(path, value, allowed, "a flaky entry")
        model = self.model_ref((*path, "model"), self.need(path, m, "model", "flaky"), "model")
        every = self.duration((*path, "every"), m.get("every", "2s"), "every")
        if every <= 0:
            raise self.fail((*path, "every"), "every must be more than 0 s")
        drop = None
        if m.get("drop_after") is not None:
            p = (*path, "drop_after")
            span = m["drop_after"]
            if not isinstance(span, list) or len(span) != 2:
                raise self.fail(p, "drop_after must be a [low, high] pair, e.g. [10%, 60%]")
            lo = self.size((*p, 0), span[0], "drop_after", percent=True)
            hi = self.size((*p, 1), span[1], "drop_after", percent=True)
            drop = (lo, hi)
        status = None
        if m.get("fail_status") is not None:
            status = self.integer((*path, "fail_status"), m["fail_status"], "fail_status", 300, 599)
        retry = None
        if m.get("retry_after") is not None:
            retry = self.number((*path, "retry_after"), m["retry_after"], "retry_after")
        if drop is None and status is None:
            raise self.fail(path, "a flaky entry needs drop_after, fail_status or both")
        return FlakySpec(model, every, drop, status, retry, self.doc.line(path))

    def check_health(self, i: int, value: Any) -> HealthSpec:
        path: Path_ = ("health", i)
        m = self.mapping(path, value, ("deployment", "pod", "status"), "a health entry")
        kinds = [k for k in ("deployment", "pod") if k in m]
        if len(kinds) != 1:
            raise self.fail(path, "a health entry needs exactly one of: deployment, pod")
        name = self.text((*path, kinds[0]), m[kinds[0]], kinds[0])
        status = self.integer(
            (*path, "status"), self.need(path, m, "status", "a health entry"), "status", 100, 599
        )
        return HealthSpec(kinds[0], name, status, self.doc.line(path))

    def check_source(self, path: Path_, value: Any, volume: bool) -> Source:
        allowed = ["model", "corrupt_at", "text", "host"] + (["sparse"] if volume else [])
        m = self.mapping(path, value, allowed, "a file source")
        kinds = [k for k in ("model", "text", "host") if k in m]
        if len(kinds) != 1:
            raise self.fail(path, "a file source needs exactly one of: model, text, host")
        if "model" in m:
            model = self.model_ref((*path, "model"), m["model"], "a file source")
            corrupt = None
            if m.get("corrupt_at") is not None:
                corrupt = self.size((*path, "corrupt_at"), m["corrupt_at"], "corrupt_at", True)
            sparse = self.boolean((*path, "sparse"), m.get("sparse", False), "sparse")
            if sparse and corrupt is not None:
                raise self.fail(path, "a sparse file has no content to corrupt")
            return Source("sparse" if sparse else "model", model=model, corrupt_at=corrupt)
        if "corrupt_at" in m or "sparse" in m:
            raise self.fail(path, "corrupt_at and sparse apply to model files only")
        if "text" in m:
            if not isinstance(m["text"], str):
                raise self.fail((*path, "text"), "text must be text")
            return Source("text", text=m["text"])
        rel = self.text((*path, "host"), m["host"], "host")
        host = (self.base_dir / rel).resolve()
        if not host.is_file():
            raise self.fail((*path, "host"), f"host file {host} does not exist")
        return Source("host", host=host)

    def check_image(self, i: int, value: Any) -> ImageSpec:
        path: Path_ = ("images", i)
        m = self.mapping(path, value, ("image", "files", "pull"), "an image")
        image = self.text((*path, "image"), self.need(path, m, "image", "an image"), "image")
        if "pull" in m:
            pull = m["pull"]
            if pull not in REFUSALS:
                raise self.fail(
                    (*path, "pull"), f"pull must be {' or '.join(REFUSALS)}, not {pull!r}"
                )
            if "files" in m:
                raise self.fail(path, "an image the registry refuses (pull) has no files")
            return ImageSpec(image, (), self.doc.line(path), pull)
        files = self.need(path, m, "files", "an image")
        self.mapping((*path, "files"), files, _keys(files), "files")
        out = []
        for cpath, src in files.items():
            p = (*path, "files", cpath)
            if not isinstance(cpath, str) or not cpath.startswith("/") or ".." in cpath.split("/"):
                raise self.fail(p, f"an image file path must be absolute without '..': {cpath!r}")
            out.append((cpath, self.check_source(p, src, volume=False)))
        return ImageSpec(image, tuple(out), self.doc.line(path))

    def check_repeat(self, path: Path_, value: Any) -> Repeat:
        m = self.mapping(path, value, ("var", "from", "to", "format"), "repeat")
        var = self.text((*path, "var"), m.get("var", "n"), "var")
        if not _VAR.match(var) or var in GLOBAL_NAMES or var == "model":
            raise self.fail((*path, "var"), f"var {var!r} must be a plain name")
        start = self.integer((*path, "from"), m.get("from", 1), "from", 0, 100_000)
        stop = self.integer((*path, "to"), self.need(path, m, "to", "repeat"), "to", 0, 100_000)
        if stop < start or stop - start >= 10_000:
            raise self.fail(path, "repeat needs from <= to and at most 10000 copies")
        fmt = str(m.get("format", "d"))
        try:
            format(start, fmt)
        except ValueError:
            raise self.fail((*path, "format"), f"format {fmt!r} is not a number format") from None
        return Repeat(var, start, stop, fmt)

    def check_volume(self, i: int, value: Any) -> VolumeSeed:
        path: Path_ = ("volumes", i)
        m = self.mapping(path, value, ("claim", "namespace", "files", "repeat"), "a volume seed")
        repeat = self.check_repeat((*path, "repeat"), m["repeat"]) if "repeat" in m else None
        local = (repeat.var,) if repeat else ()
        claim = self.text((*path, "claim"), self.need(path, m, "claim", "a volume"), "claim")
        self.placeholders((*path, "claim"), claim, local)
        ns = m.get("namespace", self.doc.data.get("namespace", "smallest"))
        ns = self.text((*path, "namespace"), ns, "namespace")
        files = self.need(path, m, "files", "a volume seed")
        self.mapping((*path, "files"), files, _keys(files), "files")
        out = []
        for rel, src in files.items():
            p = (*path, "files", rel)
            parts = [x for x in str(rel).split("/") if x]
            if not isinstance(rel, str) or not parts or ".." in parts:
                raise self.fail(p, f"a volume file path must stay inside the volume: {rel!r}")
            self.placeholders(p, rel, local)
            out.append(("/".join(parts), self.check_source(p, src, volume=True)))
        return VolumeSeed(claim, ns, tuple(out), repeat, self.doc.line(path))

    def check_object(self, i: int, value: Any) -> ObjectSpec:
        path: Path_ = ("objects", i)
        repeat = None
        obj_path = path
        if isinstance(value, dict) and "repeat" in value:
            self.mapping(path, value, ("repeat", "object"), "a repeated object")
            repeat = self.check_repeat((*path, "repeat"), value["repeat"])
            obj_path = (*path, "object")
            value = self.need(path, value, "object", "a repeated object")
        if not isinstance(value, dict):
            raise self.fail(obj_path, f"an object must be a mapping, not {_type_name(value)}")
        api_version = self.text((*obj_path, "apiVersion"), value.get("apiVersion"), "apiVersion")
        kind = self.text((*obj_path, "kind"), value.get("kind"), "kind")
        served = [t for t in RESOURCES.values() if t.stored and t.kind == kind]
        if not served:
            kinds = sorted({t.kind for t in RESOURCES.values() if t.stored})
            raise self.fail(
                (*obj_path, "kind"),
                f"kind {kind!r} is not served by simcluster; served kinds: {', '.join(kinds)}",
            )
        if all(t.api_version != api_version for t in served):
            raise self.fail(
                (*obj_path, "apiVersion"),
                f"{kind} is served as apiVersion {served[0].api_version}, not {api_version!r}",
            )
        meta = value.get("metadata")
        if not isinstance(meta, dict):
            raise self.fail(obj_path, f"{kind} needs metadata with a name")
        self.text((*obj_path, "metadata", "name"), meta.get("name"), f"{kind} metadata.name")
        self.placeholders(obj_path, value, (repeat.var,) if repeat else ())
        return ObjectSpec(value, repeat, self.doc.line(obj_path))

    def check_step(self, i: int, value: Any) -> StepSpec:
        path: Path_ = ("steps", i)
        actions = ("scale", "delete_pods", "clear_faults", "patch", "node_down", "node_not_ready")
        conditions = ("after", "when_ready", "when_complete")
        m = self.mapping(path, value, (*conditions, *actions), "a step")
        after = self.duration((*path, "after"), m.get("after", 0), "after")
        ready_dep, ready_n = None, 0
        if "when_ready" in m:
            p = (*path, "when_ready")
            w = self.mapping(p, m["when_ready"], ("deployment", "replicas"), "when_ready")
            ready_dep = self.text((*p, "deployment"), w.get("deployment"), "deployment")
            ready_n = self.integer((*p, "replicas"), w.get("replicas", 1), "replicas", 1, 10_000)
        job = None
        if "when_complete" in m:
            p = (*path, "when_complete")
            w = self.mapping(p, m["when_complete"], ("job",), "when_complete")
            job = self.text((*p, "job"), w.get("job"), "job")
        chosen = [a for a in actions if a in m]
        if len(chosen) != 1:
            raise self.fail(path, f"a step needs exactly one action: {', '.join(actions)}")
        scale = delete = clear = patch = down = not_ready = None
        if "node_down" in m:
            down = self.node_ref((*path, "node_down"), m["node_down"], "node_down")
        elif "node_not_ready" in m:
            not_ready = self.node_ref(
                (*path, "node_not_ready"), m["node_not_ready"], "node_not_ready"
            )
        elif "patch" in m:
            p = (*path, "patch")
            d = self.mapping(p, m["patch"], ("deployment", "body"), "patch")
            dep = self.text((*p, "deployment"), d.get("deployment"), "deployment")
            body = self.mapping(
                (*p, "body"), self.need(p, d, "body", "patch"), _keys(d["body"]), "body"
            )
            self.placeholders((*p, "body"), body)
            patch = (dep, body)
        elif "scale" in m:
            p = (*path, "scale")
            s = self.mapping(p, m["scale"], ("deployment", "replicas"), "scale")
            dep = self.text((*p, "deployment"), s.get("deployment"), "deployment")
            scale = (dep, self.integer((*p, "replicas"), s.get("replicas"), "replicas", 0, 10_000))
        elif "delete_pods" in m:
            p = (*path, "delete_pods")
            d = self.mapping(p, m["delete_pods"], ("selector", "count"), "delete_pods")
            sel = self.text((*p, "selector"), d.get("selector"), "selector")
            delete = (sel, self.integer((*p, "count"), d.get("count", 1), "count", 1, 10_000))
        else:
            target = m["clear_faults"]
            clear = (
                "all"
                if target == "all"
                else self.model_ref((*path, "clear_faults"), target, "clear_faults")
            )
        return StepSpec(
            after=after,
            ready_deployment=ready_dep,
            ready_replicas=ready_n,
            complete_job=job,
            scale=scale,
            delete_pods=delete,
            clear_faults=clear,
            line=self.doc.line(path),
            patch=patch,
            node_down=down,
            node_not_ready=not_ready,
        )

    def node_ref(self, path: Path_, value: Any, what: str) -> str:
        """A node the scenario itself declares."""
        name = self.text(path, value, what)
        if name not in self.node_names:
            names = ", ".join(sorted(self.node_names))
            raise self.fail(path, f"{what} names no node of the scenario ({names})")
        return name


def check_fault_request(model: str, models: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    """Fault fields given at run time (the admin endpoint), checked as a scenario's are."""
    entry = {"model": model, **fields}
    entry.pop("hold", None)
    doc = Located({"faults": [entry]})
    checker = _Checker("the fault request", doc, Path.cwd(), "")
    checker.models = {m: ModelSpec(m, f"/{m}") for m in models}
    return checker.check_fault(0, entry).fields
