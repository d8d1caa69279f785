"""The ``smallest-self-host`` chart's ``values.yaml`` (``-f``): the model URL, the release
prefixes and the cache volume settings, so the dashboard knows what to expect before the
cluster says so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collectors import kube
from collectors.redact import redact_url
from collectors.units import SizeError, parse_size
from collectors.yamlfile import load_mapping

DEFAULT_PREFIX = "lightning-asr"


class ValuesError(Exception):
    """The values file cannot be used; one sentence naming the file."""


@dataclass(frozen=True)
class ChartValues:
    path: str
    model_url: str | None = None  # redacted
    asr_prefix: str = DEFAULT_PREFIX
    port: int | None = None
    efs_enabled: bool = False
    efs_claim: str | None = None  # "<models.volumes.aws.efs.namePrefix>-aws-efs-pvc"
    env: Mapping[str, str] = field(default_factory=dict)  # lightningAsr.env
    api_server_env: Mapping[str, str] = field(default_factory=dict)
    cache_quota: int | None = None  # MODEL_CACHE_MAX_SIZE from lightningAsr.env

    @property
    def selector(self) -> str:
        return f"app={self.asr_prefix}"


def _env(value: Any) -> dict[str, str]:
    """Chart env as a list of {name, value} or a plain mapping."""
    out: dict[str, str] = {}
    if isinstance(value, Mapping):
        for k, v in value.items():
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                out[str(k)] = str(v)
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                v = item.get("value")
                if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                    out[item["name"]] = str(v)
    return out


def load_values(path: str) -> ChartValues:
    file = Path(path).expanduser()
    data = load_mapping(
        file,
        "values file",
        ValuesError,
        expected="a mapping of chart values",
        missing="given with -f/--values",
    )
    env = _env(kube.dig(data, "lightningAsr", "env"))
    url = kube.dig(data, "models", "asrModelUrl") or env.get("MODEL_URL")
    prefix = kube.dig(data, "lightningAsr", "namePrefix")
    port = kube.dig(data, "lightningAsr", "port")
    efs = kube.dig(data, "models", "volumes", "aws", "efs") or {}
    efs_prefix = kube.dig(efs, "namePrefix") or "models"
    quota_text = env.get("MODEL_CACHE_MAX_SIZE")
    try:
        quota = parse_size(quota_text) if quota_text else None
    except SizeError:
        raise ValuesError(
            f"values file {file}: lightningAsr.env MODEL_CACHE_MAX_SIZE {quota_text!r} "
            "is not a size."
        ) from None
    return ChartValues(
        path=str(file),
        model_url=redact_url(str(url)) if url else None,
        asr_prefix=str(prefix) if isinstance(prefix, str) and prefix else DEFAULT_PREFIX,
        port=port if isinstance(port, int) else None,
        efs_enabled=bool(kube.dig(efs, "enabled")),
        efs_claim=f"{efs_prefix}-aws-efs-pvc",
        env=env,
        api_server_env=_env(kube.dig(data, "apiServer", "env")),
        cache_quota=quota,
    )
