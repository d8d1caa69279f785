"""Every file our packages read at run time ships in the distribution: a data file that no
``package-data`` pattern matches works from the checkout (``make demo`` installs it editable)
and is missing from a real install, such as the downloader image's ``pip install .``."""

from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("tui", "collectors", "actions", "simcluster")
# Files in a package directory that nothing reads at run time, and why.
NOT_SHIPPED = {"tui/screenshots/*.svg": "the README's pictures"}


def _data_files(package: str) -> list[str]:
    return sorted(
        str(p.relative_to(ROOT))
        for p in (ROOT / package).rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts
    )


def test_every_data_file_in_our_packages_is_shipped() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]
    unshipped = []
    for package in PACKAGES:
        for path in _data_files(package):
            shipped = any(
                fnmatch.fnmatch(path, f"{pkg}/{glob}")
                for pkg, globs in patterns.items()
                for glob in globs
            )
            if not shipped and not any(fnmatch.fnmatch(path, g) for g in NOT_SHIPPED):
                unshipped.append(path)
    assert not unshipped, f"add these to [tool.setuptools.package-data]: {unshipped}"
    # The check sees what it must: the scenarios and the app's stylesheet are data files.
    seen = {p for pkg in PACKAGES for p in _data_files(pkg)}
    assert "tui/app.tcss" in seen and "simcluster/scenarios/efs-shared.yaml" in seen
