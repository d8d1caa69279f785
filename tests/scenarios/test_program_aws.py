"""The `aws s3 cp` stand-in: S3-style requests to the model server and `\\r` progress."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simcluster.kubelet.programs.awscli import human_readable_size, run_aws
from simcluster.modelserver import Faults, ModelServer
from tests.scenarios.proc_helpers import can_mount, make_pod, run, sha256_of, small_tmpfs

KEY = "/smallest-models/lightning-asr/v1/model.bin"
SIZE = 20 * 1024 * 1024 + 777  # three 8 MiB parts
PROGRESS = re.compile(
    r"^Completed [\d.]+ (KiB|MiB|Bytes)/20\.0 MiB \([\d.]+ (Bytes|KiB|MiB|GiB)/s\) "
    r"with 1 file\(s\) remaining *$"
)


@pytest.fixture
async def server() -> AsyncIterator[ModelServer]:
    async with ModelServer() as s:
        s.add_file(KEY, SIZE, seed=5)
        yield s


def s3_env(server: ModelServer) -> dict[str, str]:
    return {"AWS_ENDPOINT_URL": server.base_url, "AWS_REGION": "us-east-1"}


async def test_aws_s3_cp_downloads_in_parts_and_writes_cr_progress(
    tmp_path: Path, server: ModelServer
) -> None:
    pod = make_pod(tmp_path, env=s3_env(server), cwd="/aws")
    src = "s3://smallest-models/lightning-asr/v1/model.bin"
    r = await run(pod, run_aws, "aws", "s3", "cp", src, "/app/models/model.bin")
    assert r.code == 0, r.stderr
    assert sha256_of(pod.models / "model.bin") == server.file(KEY).sha256
    assert sorted(p.name for p in pod.models.iterdir()) == ["model.bin"]  # temp file renamed
    out = r.stdout
    assert out.count("\n") == 1 and out.endswith("\n")  # no newline until the end
    *updates, final = out.split("\r")
    assert final.rstrip() == f"download: {src} to ../app/models/model.bin"
    assert len(updates) >= SIZE // (256 * 1024)  # one statement per 256 KiB
    assert all(PROGRESS.match(u) for u in updates), [u for u in updates if not PROGRESS.match(u)][
        :2
    ]
    assert updates[0].startswith("Completed 256.0 KiB/20.0 MiB (")
    assert updates[-1].startswith("Completed 20.0 MiB/20.0 MiB (")
    # Each statement is padded to cover the previous one, as the CLI does on a terminal.
    assert all(len(b) >= len(a) for a, b in itertools.pairwise(updates))
    stats = server.stats(KEY)
    assert stats.head_requests == 1 and stats.range_requests == 3
    assert {rec.range for rec in stats.recent if rec.method == "GET"} == {
        "bytes=0-8388607",
        "bytes=8388608-16777215",
        "bytes=16777216-",
    }


async def test_aws_retries_a_dropped_part(tmp_path: Path, server: ModelServer) -> None:
    server.set_faults(KEY, Faults(drop_after=1 << 20, drop_requests=1))
    pod = make_pod(tmp_path, env=s3_env(server))
    src = "s3://smallest-models/lightning-asr/v1/model.bin"
    r = await run(pod, run_aws, "aws", "s3", "cp", src, "/app/models/")
    assert r.code == 0, r.stderr
    assert sha256_of(pod.models / "model.bin") == server.file(KEY).sha256
    assert server.stats(KEY).drops == 1


async def test_aws_errors(tmp_path: Path, server: ModelServer) -> None:
    pod = make_pod(tmp_path, env=s3_env(server))
    r = await run(pod, run_aws, "aws", "s3", "cp", "s3://smallest-models/nope.bin", "/app/models/x")
    assert r.code == 1
    assert r.stderr == (
        "fatal error: An error occurred (404) when calling the HeadObject operation: "
        'Key "nope.bin" does not exist\n'
    )

    pod = make_pod(tmp_path / "b")
    r = await run(pod, run_aws, "aws", "s3", "cp", "s3://b/k.bin", "/app/models/x")
    assert r.code == 1 and "set AWS_ENDPOINT_URL" in r.stderr

    pod = make_pod(tmp_path / "c", env=s3_env(server))
    r = await run(pod, run_aws, "aws", "s3", "ls")
    assert r.code == 252 and "Invalid choice: 'ls'" in r.stderr

    server.set_faults(KEY, Faults(fail_status=403))
    pod = make_pod(tmp_path / "d", env=s3_env(server))
    src = "s3://smallest-models/lightning-asr/v1/model.bin"
    r = await run(pod, run_aws, "aws", "s3", "cp", "--quiet", src, "/app/models/x")
    assert r.code == 1 and r.stdout == "" and r.stderr == ""


@pytest.mark.skipif(not can_mount(), reason="needs root to mount a small tmpfs")
async def test_aws_on_a_full_volume_fails_and_leaves_nothing(
    tmp_path: Path, server: ModelServer
) -> None:
    with small_tmpfs(tmp_path / "small", 4 * 1024 * 1024) as small:
        pod = make_pod(tmp_path, env=s3_env(server), models=small)
        src = "s3://smallest-models/lightning-asr/v1/model.bin"
        r = await run(pod, run_aws, "aws", "s3", "cp", src, "/app/models/model.bin")
        assert list(small.iterdir()) == []
    assert r.code == 1
    assert r.stderr.startswith(
        f"download failed: {src} to app/models/model.bin [Errno 28] No space"
    )


def test_sizes_read_like_the_cli() -> None:
    assert [human_readable_size(n) for n in (1, 512, 256 * 1024, 300 * 2**20, 2.5 * 2**30)] == [
        "1 Byte",
        "512 Bytes",
        "256.0 KiB",
        "300.0 MiB",
        "2.5 GiB",
    ]
