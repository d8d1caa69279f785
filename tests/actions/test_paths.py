"""Where the model file is, and the path checks that keep deletions in the cache directory."""

from __future__ import annotations

import pytest

from actions.confine import check_realpath, classify, parse_stat, walk
from actions.context import ActionFailed
from actions.paths import (
    PathRefused,
    check_directory,
    check_resolved,
    file_name_from_url,
    model_location,
    resolve_user_path,
)
from tests.actions.builders import settings


def test_layout_follows_the_downloader_contract() -> None:
    loc = model_location(settings(version="v2"))
    assert (loc.root, loc.directory, loc.file) == (
        "/app/models",
        "/app/models/v2",
        "/app/models/v2/model.bin",
    )
    assert loc.targets() == (
        "/app/models/v2/model.bin",
        "/app/models/v2/model.bin.part",
        "/app/models/v2/model.bin.part.json",
        "/app/models/v2/model.bin.lock",
    )
    # A cache dir that already ends in the version keeps the file there; the root is its parent.
    loc = model_location(settings(cache_dir="/app/models/v2", version="v2"))
    assert (loc.root, loc.file) == ("/app/models", "/app/models/v2/model.bin")
    assert model_location(settings(cache_dir=None)).file == "/app/models/model.bin"


def test_file_name_from_url_is_sanitised() -> None:
    assert file_name_from_url("https://s3/bucket/asr.smlst?X-Amz-Signature=abc") == "asr.smlst"
    assert file_name_from_url("http://h/a/..") == "model.bin"
    assert file_name_from_url("http://h/a/.hidden") == "model.bin"
    assert file_name_from_url("http://h/a/%2e%2e%2fetc") == "model.bin"
    assert file_name_from_url("http://h/") == "model.bin"
    assert file_name_from_url(None) == "model.bin"


@pytest.mark.parametrize(
    ("cache_dir", "words"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/", "'/'"),
        ("//", "'/'"),
        ("models", "not an absolute path"),
        ("/app/../etc", "'..'"),
        ("/app/./models", "'.'"),
        ("/app/models\nx", "newline"),
    ],
)
def test_hostile_cache_dirs_are_refused(cache_dir: str, words: str) -> None:
    with pytest.raises(PathRefused, match=words):
        check_directory(cache_dir)


@pytest.mark.parametrize("version", ["..", "../../etc", "a/b", ".", "v1|x"])
def test_hostile_versions_are_refused(version: str) -> None:
    with pytest.raises(PathRefused, match="model version"):
        model_location(settings(version=version))


def test_model_path_outside_the_cache_is_refused() -> None:
    with pytest.raises(PathRefused, match="outside the cache directory"):
        model_location(settings(model_path="/etc/passwd"))
    assert model_location(settings(model_path="/app/models/x/m.bin")).file == "/app/models/x/m.bin"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("", "empty"),
        ("/", "'/'"),
        ("../../etc", "'..'"),
        ("v1/../../etc/passwd", "'..'"),
        ("/etc/passwd", "outside the cache directory"),
        ("/app/models-other/x", "outside the cache directory"),
        ("/app/models", "cache directory itself"),
        ("/app/models/", "cache directory itself"),
    ],
)
def test_hostile_user_paths_are_refused(path: str, words: str) -> None:
    loc = model_location(settings())
    with pytest.raises(PathRefused, match=words):
        resolve_user_path(loc, path)


def test_user_paths_inside_the_cache_are_accepted() -> None:
    loc = model_location(settings())
    assert resolve_user_path(loc, "v1/old.bin").file == "/app/models/v1/old.bin"
    assert resolve_user_path(loc, "/app/models/old.bin").file == "/app/models/old.bin"


def test_resolved_paths_must_be_exactly_inside() -> None:
    assert check_resolved("/mnt/efs", "v1/model.bin", "/mnt/efs/v1/model.bin")
    with pytest.raises(PathRefused, match="outside the cache"):
        check_resolved("/app/models", "model.bin", "/etc/passwd")
    with pytest.raises(PathRefused, match="through a symlink"):
        check_resolved("/app/models", "model.bin", "/app/models/other.bin")
    with pytest.raises(PathRefused, match="'/'"):
        check_resolved("/", "model.bin", "/model.bin")


def test_realpath_output_is_judged() -> None:
    targets = ["/app/models/model.bin", "/app/models/model.bin.part"]
    # The cache dir itself may be a symlink (to an EFS mount): that is fine.
    out = "/mnt/efs\n/mnt/efs/model.bin\n/mnt/efs/model.bin.part\n"
    assert check_realpath(out, "/app/models", targets) == "/mnt/efs"
    with pytest.raises(PathRefused, match="outside the cache"):
        check_realpath(
            "/app/models\n/etc/shadow\n/app/models/model.bin.part\n", "/app/models", targets
        )
    with pytest.raises(PathRefused, match="'/'"):
        check_realpath("/\n/model.bin\n/model.bin.part\n", "/app/models", targets)
    with pytest.raises(ActionFailed, match="3 paths"):
        check_realpath("/app/models\n", "/app/models", targets)


def test_walk_lists_every_component_below_the_cache_dir() -> None:
    assert walk("/app/models", ["/app/models/v2/model.bin", "/app/models/v2/model.bin.part"]) == (
        "/app/models/v2",
        "/app/models/v2/model.bin",
        "/app/models/v2/model.bin.part",
    )
    with pytest.raises(PathRefused):
        walk("/app/models", ["/etc/passwd"])


def test_stat_classification() -> None:
    targets = ("/app/models/v2/model.bin", "/app/models/v2/model.bin.part")
    types = parse_stat("/app/models/v2|directory\n/app/models/v2/model.bin|regular file\n")
    assert classify(types, "/app/models", targets) == (
        ("/app/models/v2/model.bin",),
        ("/app/models/v2/model.bin.part",),
    )
    # A symlinked version directory could lead anywhere: refused.
    link = parse_stat("/app/models/v2|symbolic link\n/app/models/v2/model.bin|regular file\n")
    with pytest.raises(PathRefused, match="symbolic link"):
        classify(link, "/app/models", targets)
    # The model file itself a symlink: refused, even though rm would only unlink it.
    link = parse_stat("/app/models/v2|directory\n/app/models/v2/model.bin|symbolic link\n")
    with pytest.raises(PathRefused, match="symbolic link"):
        classify(link, "/app/models", targets)
    directory = parse_stat("/app/models/v2|directory\n/app/models/v2/model.bin|directory\n")
    with pytest.raises(PathRefused, match="not a regular file"):
        classify(directory, "/app/models", targets)
