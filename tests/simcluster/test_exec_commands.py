"""Built-in commands over a pod filesystem view (direct calls; the WebSocket path is tested
in test_exec_ws.py)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from simcluster.kubelet.diskcmds import human
from tests.simcluster.kubelet_helpers import make_fs, run


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


async def test_df_human_and_bytes_on_a_pvc(tmp: Path) -> None:
    fs = make_fs(tmp)
    (tmp / "pvc" / "m.bin").write_bytes(b"x" * 100_000)
    r = await run(fs, tmp, "df", "-h", "/app/models")
    assert r.code == 0, r.stderr
    head, row = r.stdout.splitlines()
    assert head.split() == ["Filesystem", "Size", "Used", "Avail", "Use%", "Mounted", "on"]
    assert row.split()[1] == "5.0G" and row.split()[-1] == "/app/models"
    r = await run(fs, tmp, "df", "-P", "-B1", "/app/models/m.bin")
    fields = r.stdout.splitlines()[1].split()
    assert r.stdout.startswith("Filesystem") and "1-blocks" in r.stdout
    assert int(fields[1]) == 5 * 1024**3
    assert int(fields[2]) >= 100_000
    assert int(fields[1]) - int(fields[2]) == int(fields[3])
    r = await run(fs, tmp, "df", "-k")
    assert "1K-blocks" in r.stdout and "/scratch" in r.stdout and "/app/models" in r.stdout


async def test_df_on_efs_shows_eight_exabytes(tmp: Path) -> None:
    fs = make_fs(tmp, efs=True)
    r = await run(fs, tmp, "df", "-h", "/app/models")
    assert r.stdout.splitlines()[1].split()[1] == "8.0E"
    assert human(9223372036854771712) == "8.0E"
    assert human(23_500_000_000) == "22G"
    assert human(1536) == "1.5K" and human(1000) == "1000"


async def test_du_sizes(tmp: Path) -> None:
    fs = make_fs(tmp)
    (tmp / "pvc" / "v1").mkdir()
    (tmp / "pvc" / "v1" / "model.bin").write_bytes(b"y" * 3000)
    (tmp / "pvc" / "a.txt").write_bytes(b"z" * 10)
    r = await run(fs, tmp, "du", "-sb", "/app/models")
    size, path = r.stdout.split("\t")
    assert path.strip() == "/app/models"
    assert int(size) == 3010 + os.lstat(tmp / "pvc").st_size + os.lstat(tmp / "pvc" / "v1").st_size
    r = await run(fs, tmp, "du", "-b", "/app/models")
    lines = r.stdout.splitlines()
    assert lines[0].endswith("/app/models/v1") and lines[-1].endswith("/app/models")
    r = await run(fs, tmp, "du", "-sh", "/app/models")
    assert r.code == 0 and r.stdout.endswith("\t/app/models\n")
    r = await run(fs, tmp, "du", "-sk", "/nope")
    assert r.code == 1 and "cannot access '/nope'" in r.stderr


async def test_ls_stat_cat_sha256(tmp: Path) -> None:
    fs = make_fs(tmp)
    data = os.urandom(5000)
    (tmp / "pvc" / "model.bin").write_bytes(data)
    (tmp / "pvc" / ".hidden").write_text("h")
    r = await run(fs, tmp, "ls", "/app/models")
    assert r.stdout == "model.bin\n"
    r = await run(fs, tmp, "ls", "-la", "/app/models")
    assert ".hidden" in r.stdout and r.stdout.startswith("total ")
    lines = r.stdout.splitlines()
    assert any(line.startswith("-rw") and line.endswith(" model.bin") for line in lines)
    r = await run(fs, tmp, "ls", "/app")
    assert r.stdout == "models\n"
    r = await run(fs, tmp, "stat", "-c", "%s %Y %n", "/app/models/model.bin")
    size, mtime, name = r.stdout.split()
    assert int(size) == 5000 and name == "/app/models/model.bin"
    assert int(mtime) == int(os.stat(tmp / "pvc" / "model.bin").st_mtime)
    r = await run(fs, tmp, "sha256sum", "/app/models/model.bin")
    assert r.stdout == f"{hashlib.sha256(data).hexdigest()}  /app/models/model.bin\n"
    r = await run(fs, tmp, "cat", "/opt/baked/model.bin")
    assert r.out == b"baked\n"
    r = await run(fs, tmp, "cat", stdin=b"from stdin")
    assert r.out == b"from stdin"
    r = await run(fs, tmp, "cat", "/app/models/missing")
    assert r.code == 1 and r.stderr == "cat: /app/models/missing: No such file or directory\n"


async def test_rm_mkdir_test(tmp: Path) -> None:
    fs = make_fs(tmp)
    r = await run(fs, tmp, "mkdir", "-p", "/app/models/v2/sub")
    assert r.code == 0 and (tmp / "pvc" / "v2" / "sub").is_dir()
    assert (await run(fs, tmp, "test", "-d", "/app/models/v2")).code == 0
    assert (await run(fs, tmp, "test", "-f", "/app/models/v2")).code == 1
    assert (await run(fs, tmp, "test", "-e", "/opt/baked/model.bin")).code == 0
    r = await run(fs, tmp, "rm", "/app/models/v2")
    assert r.code == 1 and "Is a directory" in r.stderr
    r = await run(fs, tmp, "rm", "-rf", "/app/models/v2")
    assert r.code == 0 and not (tmp / "pvc" / "v2").exists()
    r = await run(fs, tmp, "rm", "-f", "/app/models/none")
    assert r.code == 0 and r.err == b""
    r = await run(fs, tmp, "rm", "/opt/baked/model.bin")
    assert r.code == 1 and "Read-only file system" in r.stderr
    r = await run(fs, tmp, "mkdir", "/app/x")
    assert r.code == 1 and "Read-only file system" in r.stderr


async def test_sh_c_quoting_operators_and_exit(tmp: Path) -> None:
    fs = make_fs(tmp)
    r = await run(fs, tmp, "sh", "-c", "exit 3")
    assert r.code == 3
    r = await run(fs, tmp, "sh", "-c", "echo 'a  b' \"c $HOME\"; false || echo fallback && echo ok")
    assert r.stdout == "a  b c /root\nfallback\nok\n"
    r = await run(fs, tmp, "sh", "-c", "true && exit 4; echo never")
    assert r.code == 4 and r.out == b""
    script = "echo hi > /app/models/x.txt; cat /app/models/x.txt; echo $?"
    r = await run(fs, tmp, "sh", "-c", script)
    assert r.stdout == "hi\n0\n"
    r = await run(fs, tmp, "sh", "-c", "rm -rf /app/models/*; ls /app/models | wc")
    assert r.code == 2 and "pipes are not supported" in r.stderr
    r = await run(fs, tmp, "sh", "-c", "rm -rf /app/models/*; ls -A /app/models")
    assert r.code == 0 and r.out == b"" and list((tmp / "pvc").iterdir()) == []
    r = await run(fs, tmp, "sh", "-c", "nosuchcmd --flag 2>/dev/null; echo $?")
    assert r.stdout == "127\n"


async def test_unknown_command_exits_127(tmp: Path) -> None:
    r = await run(make_fs(tmp), tmp, "wget", "http://x")
    assert r.code == 127 and r.stderr == "sh: wget: command not found\n"


async def test_registered_commands_run_in_pods(tmp: Path) -> None:
    from simcluster.kubelet.commands import EXTRA_COMMANDS, register_command
    from simcluster.kubelet.context import ProcContext

    async def fake_wget(argv: list[str], ctx: ProcContext) -> int:
        await ctx.io.write_stderr(f"wget {' '.join(argv[1:])}\n".encode())
        return 4

    register_command("wget", fake_wget)
    try:
        r = await run(make_fs(tmp), tmp, "sh", "-c", "wget -q http://x; echo $?")
        assert r.stderr == "wget -q http://x\n" and r.stdout == "4\n"
    finally:
        EXTRA_COMMANDS.pop("wget")


async def test_realpath_resolves_symlinks_inside_the_pod(tmp: Path) -> None:
    fs = make_fs(tmp)
    (tmp / "pvc" / "v1").mkdir()
    (tmp / "pvc" / "v1" / "model.bin").write_bytes(b"m")
    os.symlink("/app/models/v1", tmp / "pvc" / "current")
    os.symlink("/etc", tmp / "pvc" / "out")
    r = await run(fs, tmp, "realpath", "/app/models/current/model.bin")
    assert (r.code, r.stdout) == (0, "/app/models/v1/model.bin\n")
    r = await run(fs, tmp, "realpath", "-m", "/app/models/out/../x", "/app/models/no/such/f.part")
    assert r.code == 0 and r.stdout.splitlines() == ["/x", "/app/models/no/such/f.part"]
    r = await run(fs, tmp, "realpath", "/app/models/no/such/f.part")
    assert r.code == 1 and "No such file or directory" in r.stderr
    r = await run(fs, tmp, "readlink", "-f", "/app/models/current")
    assert r.stdout == "/app/models/v1\n"
