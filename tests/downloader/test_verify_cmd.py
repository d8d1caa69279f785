"""`verify PATH` (MODEL_PATH): checksum an existing file without ever changing it."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .conftest import run_dl


def test_verify_matches_and_counts_as_use(tmp_path: Path) -> None:
    model = tmp_path / "v1" / "model.bin"
    model.parent.mkdir()
    model.write_bytes(os.urandom(3 << 20))
    digest = hashlib.sha256(model.read_bytes()).hexdigest()
    manifest = tmp_path / ".asr-cache-manifest.json"
    entry = {"path": "v1/model.bin", "size": 3 << 20, "sha256": None, "version": "v1",
             "source": None, "last_used": "2020-01-01T00:00:00.000Z"}  # fmt: skip
    manifest.write_text(json.dumps({"v": 1, "entries": [entry]}))
    res = run_dl("verify", str(model), "--checksum", f"sha256:{digest}")
    assert res.rc == 0, res.stderr
    done = res.of("done")[0]
    assert done["sha256"] == digest and done["cached"] is True and done["bytes"] == 3 << 20
    assert res.of("verify")[-1]["done"] == 3 << 20
    (updated,) = json.loads(manifest.read_text())["entries"]
    assert updated["last_used"] > "2020" and updated["sha256"] == digest


def test_verify_mismatch_exits_5_and_keeps_the_file(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"baked into the image")
    res = run_dl("verify", env={"MODEL_PATH": str(model), "MODEL_CHECKSUM": "sha256:" + "0" * 64})
    assert res.rc == 5
    assert res.error is not None and res.error["code"] == "checksum_mismatch"
    assert "0" * 64 in res.error["message"]
    assert model.read_bytes() == b"baked into the image"


def test_verify_without_a_file_is_a_usage_error(tmp_path: Path) -> None:
    res = run_dl("verify", str(tmp_path / "missing.bin"))
    assert res.rc == 2 and "does not exist" in res.stderr
    res = run_dl("verify")
    assert res.rc == 2 and "MODEL_PATH" in res.stderr
