"""Every operation module, found by walking the operation packages and imported so that its
operations register themselves (see registry.py).

dispatch.py calls `load` when it is imported, that is at start-up; a module that fails to
import fails there, loudly: nothing is skipped.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

#: The packages whose modules define operations (core/ holds none).
PACKAGES = (
    "chamberlain.ops.iam",
    "chamberlain.ops.sts",
    "chamberlain.ops.audit",
    "chamberlain.ops.simulator",
)


def modules() -> list[str]:
    """The dotted names of every module below the operation packages, sorted."""
    names: list[str] = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            names.append(info.name)
    return sorted(names)


def load() -> list[ModuleType]:
    """Import every operation module (idempotent); an import error propagates."""
    return [importlib.import_module(name) for name in modules()]
