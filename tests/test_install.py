"""The lock (requirements/*.txt) is what is installed, and it still fits pyproject.toml.

CI installs with `sh requirements/install test`; a version that drifted from the lock (an
install that bypassed it, a lock edited by hand, a pyproject range that the lock no longer
satisfies) fails here, before it can turn a test red on somebody else's machine."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def locked(name: str) -> dict[str, str]:
    """Package -> version, for the pins of requirements/<name>.txt that apply here."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / f"{name}.txt").read_text("utf-8").splitlines():
        found = PIN.match(line)
        if found is None:
            continue
        package, version, marker = found.groups()
        if marker is None or Marker(marker).evaluate():
            pins[canonicalize_name(package)] = version
    return pins


@pytest.mark.parametrize("lock", ["bootstrap", "test"])
def test_install_matches_the_lock(lock: str) -> None:
    pins = locked(lock)
    assert len(pins) >= (5 if lock == "bootstrap" else 60)
    wrong = {}
    for package, version in pins.items():
        try:
            installed = metadata.version(package)
        except metadata.PackageNotFoundError:
            installed = "missing"
        if installed != version:
            wrong[package] = f"locked {version}, installed {installed}"
    assert not wrong, f"requirements/{lock}.txt is not what is installed: {wrong}"


def test_install_locks_agree() -> None:
    """run.txt is test.txt less the test tools: one version of everything."""
    run, test, bootstrap = locked("run"), locked("test"), locked("bootstrap")
    assert {p: v for p, v in test.items() if p in run} == run
    assert {p: v for p, v in test.items() if p in bootstrap} == {
        p: v for p, v in bootstrap.items() if p in test}


def test_install_lock_satisfies_pyproject() -> None:
    """Every dependency (and the test extra) is locked at a version its range allows: a
    range changed in pyproject.toml without `sh requirements/install lock` fails here."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    pins = locked("test")
    for spec in [*project["dependencies"], *project["optional-dependencies"]["test"]]:
        requirement = Requirement(spec)
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        version = pins.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements/test.txt"
        assert requirement.specifier.contains(Version(version), prereleases=True), (
            f"requirements/test.txt has {requirement.name}=={version}, "
            f"pyproject.toml asks for {requirement.specifier}")
