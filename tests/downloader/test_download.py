"""End-to-end downloads over real sockets: the happy paths and the progress contract."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import quote

from simcluster.modelserver import Faults, ModelServer

from .conftest import run_dl, serve, settled, sha256_of

MIB = 1 << 20


def test_download_verifies_places_and_records(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 3 * MIB + 17)
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    final = tmp_path / "model.bin"
    assert sha256_of(final) == f.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".asr-cache-manifest.json",
        ".asr-cache-manifest.lock",
        "model.bin",
        "model.bin.lock",
    ]
    start, done = res.of("start")[0], res.of("done")[0]
    assert start["total"] == f.size and start["resumed_from"] == 0 and start["workers"] == 4
    assert done["sha256"] == f.sha256 and done["cached"] is False
    assert done["bytes"] == f.size and done["path"] == str(final)
    assert res.of("verify")[-1]["done"] == f.size
    manifest = json.loads((tmp_path / ".asr-cache-manifest.json").read_text())
    (entry,) = manifest["entries"]
    assert entry["path"] == "model.bin" and entry["size"] == f.size
    assert entry["sha256"] == f.sha256 and entry["source"] == url
    # The server saw one probe byte plus the file, nothing more.
    assert settled(model_server, f.path).bytes_sent == f.size + 1


def test_second_run_is_a_cache_hit(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 2 * MIB)
    args = (url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert run_dl(*args).rc == 0
    before = settled(model_server, f.path).requests
    res = run_dl(*args)
    assert res.rc == 0
    assert [e["event"] for e in res.events] == ["done"]
    assert res.of("done")[0]["cached"] is True
    assert settled(model_server, f.path).requests == before


def test_a_wrong_file_at_the_final_path_is_replaced(
    model_server: ModelServer, tmp_path: Path
) -> None:
    f, url = serve(model_server, 1 * MIB)
    (tmp_path / "model.bin").write_bytes(b"x" * f.size)
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_one_worker_hashes_while_downloading(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 5 * MIB + 3)
    res = run_dl(
        url, "--cache-dir", str(tmp_path), "--workers", "1", "--checksum", f"sha256:{f.sha256}"
    )
    assert res.rc == 0, res.stderr
    # Hashing finished with the download: the only verify line is the final one.
    assert [(e["done"], e.get("sha256")) for e in res.of("verify")] == [(f.size, f.sha256)]
    stats = settled(model_server, f.path)
    assert stats.requests == 2 and stats.bytes_sent == f.size + 1


def test_versions_get_their_own_directory(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 1 * MIB)
    res = run_dl(url, "--cache-dir", str(tmp_path), "--version", "v1", "--workers", "2")
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "v1" / "model.bin") == f.sha256
    assert res.of("start")[0]["version"] == "v1"
    entry = json.loads((tmp_path / ".asr-cache-manifest.json").read_text())["entries"][0]
    assert entry["path"] == "v1/model.bin" and entry["version"] == "v1"
    # A cache dir that already ends in the version is used as is; the root is its parent.
    g, url2 = serve(model_server, 1 * MIB, seed=2, name="other.bin")
    env = {"MODEL_CACHE_DIR": str(tmp_path / "v1"), "MODEL_VERSION": "v1", "MODEL_URL": url2}
    assert run_dl(env=env).rc == 0
    assert sha256_of(tmp_path / "v1" / "other.bin") == g.sha256
    paths = [
        e["path"]
        for e in json.loads((tmp_path / ".asr-cache-manifest.json").read_text())["entries"]
    ]
    assert paths == ["v1/model.bin", "v1/other.bin"]


def test_several_urls_share_the_workers(model_server: ModelServer, tmp_path: Path) -> None:
    a, url_a = serve(model_server, 2 * MIB, seed=3, name="a.bin")
    b, url_b = serve(model_server, 3 * MIB, seed=4, name="b.bin")
    res = run_dl(
        url_a,
        url_b,
        "--cache-dir",
        str(tmp_path),
        "--checksum",
        f"sha256:{a.sha256}",
        "--checksum",
        f"sha256:{b.sha256}",
    )
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "a.bin") == a.sha256
    assert sha256_of(tmp_path / "b.bin") == b.sha256
    assert {e["file"] for e in res.of("done")} == {"a.bin", "b.bin"}


def test_file_urls_are_copied_and_verified(tmp_path: Path) -> None:
    src = tmp_path / "src dir" / "weights.bin"
    src.parent.mkdir()
    src.write_bytes(os.urandom(3 * MIB + 5))
    cache = tmp_path / "cache"
    url = "file://" + str(src).replace(" ", "%20")
    res = run_dl(url, "--cache-dir", str(cache), "--checksum", f"sha256:{sha256_of(src)}")
    assert res.rc == 0, res.stderr
    assert (cache / "weights.bin").read_bytes() == src.read_bytes()


def test_env_configures_and_flags_win(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 2 * MIB)
    env = {
        "MODEL_URL": url,
        "MODEL_CACHE_DIR": str(tmp_path / "from-env"),
        "MODEL_DOWNLOAD_WORKERS": "3",
        "MODEL_CHECKSUM": f"sha256:{f.sha256}",
    }
    res = run_dl("--workers", "2", env=env)
    assert res.rc == 0, res.stderr
    assert res.of("start")[0]["workers"] == 2
    assert sha256_of(tmp_path / "from-env" / "model.bin") == f.sha256


def test_names_from_urls_stay_inside_the_cache(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 1 * MIB, name="../../escape.bin")
    url = url.rsplit("/", 3)[0] + "/" + quote("../../escape.bin", safe="")
    cache = tmp_path / "a" / "cache"
    res = run_dl(url, "--cache-dir", str(cache))
    assert res.rc == 0, res.stderr
    assert sha256_of(cache / "escape.bin") == f.sha256
    assert sorted(p.name for p in tmp_path.rglob("*.bin")) == ["escape.bin"]


def test_human_progress_on_request(model_server: ModelServer, tmp_path: Path) -> None:
    _, url = serve(model_server, 1 * MIB)
    res = run_dl(url, "--cache-dir", str(tmp_path), "--progress", "human", progress="")
    assert res.rc == 0, res.stderr
    assert "model.bin: downloading" in res.stdout and "done in" in res.stdout


def test_an_empty_file(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 0)
    res = run_dl(url, "--cache-dir", str(tmp_path), "--checksum", f"sha256:{f.sha256}")
    assert res.rc == 0, res.stderr
    assert (tmp_path / "model.bin").read_bytes() == b""
    assert res.of("done")[0]["sha256"] == f.sha256


def test_progress_lines_while_downloading(model_server: ModelServer, tmp_path: Path) -> None:
    f, url = serve(model_server, 6 * MIB, seed=5, faults=Faults(rate_limit=2 * MIB))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", "2", "--no-validate")
    assert res.rc == 0, res.stderr
    progress = res.of("progress")
    assert progress, res.stdout
    for line in progress:
        assert 0 < line["done"] < f.size and line["total"] == f.size
        assert MIB <= line["rate"] <= 8 * MIB and line["eta"] > 0 and line["workers"] == 2
    assert res.of("done")[0]["sha256"] is None  # --no-validate: not hashed
    assert res.events[0]["event"] == "start" and res.events[-1]["event"] == "done"


def test_model_url_may_list_several_urls(model_server: ModelServer, tmp_path: Path) -> None:
    a, url_a = serve(model_server, MIB, seed=6, name="a.bin")
    b, url_b = serve(model_server, MIB, seed=7, name="b.bin")
    env = {"MODEL_URL": f"{url_a}\n{url_b}", "MODEL_CACHE_DIR": str(tmp_path)}
    res = run_dl(env=env)
    assert res.rc == 0, res.stderr
    assert sha256_of(tmp_path / "a.bin") == a.sha256 and sha256_of(tmp_path / "b.bin") == b.sha256


def test_a_per_connection_cap_gets_every_worker(model_server: ModelServer, tmp_path: Path) -> None:
    # 4 MiB/s per connection is far below one fast connection: all four workers connect.
    f, url = serve(model_server, 16 * MIB, seed=31, faults=Faults(rate_limit=4 * MIB))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", "4")
    assert res.rc == 0, res.stderr
    assert settled(model_server, f.path).max_active == 4
    assert sha256_of(tmp_path / "model.bin") == f.sha256


def test_with_parallel_connections_the_hash_ends_with_the_last_byte(
    model_server: ModelServer, tmp_path: Path
) -> None:
    # Capped connections run in parallel, so bytes arrive out of order and are hashed behind.
    # The last pieces are small and near the end of the file: when the last byte arrives, the
    # hash is within them (86% here; with four equal last pieces it was in the first half).
    size = 64 * MIB
    f, url = serve(model_server, size, seed=32, faults=Faults(rate_limit=8 * MIB))
    res = run_dl(url, "--cache-dir", str(tmp_path), "--workers", "4", timeout=60)
    assert res.rc == 0, res.stderr
    first_verify = res.of("verify")[0]
    assert first_verify["done"] >= size * 5 // 8, first_verify
    assert res.of("done")[0]["sha256"] == f.sha256
