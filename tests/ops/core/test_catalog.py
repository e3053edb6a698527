"""The operation catalogue: every module below the operation packages is imported, and one
that fails to import stops the start-up instead of silently dropping its operations."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from chamberlain.ops.core import catalog
from chamberlain.ops.core.registry import REGISTRY

OPS = Path(catalog.__file__).resolve().parents[1]


def test_every_module_of_the_operation_packages_is_imported() -> None:
    on_disk = {
        "chamberlain.ops." + ".".join(p.relative_to(OPS).with_suffix("").parts)
        for package in ("iam", "sts", "audit", "simulator")
        for p in (OPS / package).rglob("*.py")
        if p.name != "__init__.py"
    }
    assert set(catalog.modules()) == on_disk
    loaded = {m.__name__ for m in catalog.load()}
    assert loaded == on_disk
    assert all(name in sys.modules for name in on_disk)


def test_the_operations_of_each_package_are_registered() -> None:
    catalog.load()
    for key in [
        ("iam", "CreateUser"),
        ("iam", "TagSAMLProvider"),  # built by core/tagging.py for providers.py
        ("iam", "ListMFADeviceTags"),
        ("iam", "SimulatePrincipalPolicy"),
        ("sts", "AssumeRoleWithSAML"),
        ("cloudtrail", "LookupEvents"),
    ]:
        assert key in REGISTRY, key


def test_a_module_that_fails_to_import_fails_loudly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "broken_ops"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fine.py").write_text("VALUE = 1\n")
    (package / "renamed.py").write_text("from broken_ops import no_such_module  # noqa\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(catalog, "PACKAGES", ("broken_ops",))
    assert catalog.modules() == ["broken_ops.fine", "broken_ops.renamed"]
    with pytest.raises(ImportError):
        catalog.load()
    for name in [n for n in sys.modules if n.startswith("broken_ops")]:
        monkeypatch.delitem(sys.modules, name)
