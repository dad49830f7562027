"""requirements.lock agrees with pyproject.toml, and `make install` installs from it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

tomllib = pytest.importorskip("tomllib")  # Python 3.11+, the version the lock is for
ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "requirements.lock"
EXTRAS = ("dev", "test")
# Where the lock is resolved (README, Makefile): CI and every developer machine.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.7", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s\\;]+)")


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert set(EXTRAS) <= set(extras), "the lock covers these extras"
    names = [*project["dependencies"], *(r for extra in EXTRAS for r in extras[extra])]
    return [Requirement(r) for r in names]


def _pins() -> tuple[dict[str, Version], dict[str, int]]:
    """name -> pinned version, and name -> how many hashes follow the pin."""
    pins: dict[str, Version] = {}
    hashes: dict[str, int] = {}
    current = None
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            current = canonicalize_name(m.group(1))
            assert current not in pins, f"{current} pinned twice"
            pins[current] = Version(m.group(2))
            hashes[current] = 0
        elif current and line.strip().startswith("--hash=sha256:"):
            hashes[current] += 1
    return pins, hashes


def test_every_declared_dependency_is_pinned_within_its_specifier() -> None:
    pins, _ = _pins()
    checked = 0
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate(TARGET):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is in pyproject.toml but not in requirements.lock: make lock"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, outside {req}: make lock"
        )
        checked += 1
    assert checked >= 20


def test_every_pin_is_hashed_and_the_build_tools_are_locked() -> None:
    pins, hashes = _pins()
    assert pins and all(n > 0 for n in hashes.values()), [k for k, n in hashes.items() if not n]
    # `pip install --no-deps --no-build-isolation -e .` builds with the locked setuptools/wheel
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for req in map(Requirement, build):
        assert req.specifier.contains(pins[canonicalize_name(req.name)]), req
    assert "pip" in pins
    assert "pip-tools" in pins  # `make lock` runs from the installed environment
    assert "with Python 3.11" in LOCK.read_text(encoding="utf-8").split("\n", 3)[1]


def test_make_install_installs_the_lock_then_the_package_alone() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    rule = re.search(r"^\$\(STAMP\): (.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert rule, "the install stamp rule"
    assert rule.group(1).split() == ["pyproject.toml", "$(LOCK)"]  # reinstall when either changes
    assert re.search(r"^LOCK = requirements\.lock$", makefile, re.MULTILINE)
    steps = rule.group(2)
    assert "pip install --require-hashes -r $(LOCK)" in steps
    assert "pip install --no-deps --no-build-isolation -e ." in steps
    assert steps.index("--require-hashes") < steps.index("--no-deps")
    assert re.search(r"^test: \$\(STAMP\)", makefile, re.MULTILINE)  # CI: .ci/run -> make test
