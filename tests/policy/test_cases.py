"""Semantics as data: run every evaluation case in tests/cases/*.yaml.

Each case is run twice, against the compiled engine and against the small reference
evaluator, and both must give the expected outcome (and, where the case says so, the
denying source, the matched statements and the missing context keys). A case file is a
mapping with `doc` (the AWS page it encodes), optional `defaults` (merged into every case)
and `cases`; the keys a case may have are `CASE_KEYS` below. `validate_*.yaml` files hold
validation cases and have their own runner.

Policy ids: identity-0, identity-1, ... for `identity`; "resource" for `resource_policy`;
"boundary"; session-0, ... for `session`. A `matched` entry is "policy_id/Sid" or
"policy_id/index" (statement index from 0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chamberlain.policy.decision import Decision, MatchedStatement, Outcome, PolicySource
from chamberlain.policy.inputs import NamedDocument, PolicyDocuments
from chamberlain.policy.request import Principal, PrincipalType, Request

CASES_DIR = Path(__file__).resolve().parent.parent / "cases"
MIN_TOTAL_CASES = 300
DOC_PREFIX = "https://docs.aws.amazon.com/"

FILE_KEYS = frozenset({"doc", "defaults", "cases"})
CASE_KEYS = frozenset(
    {
        "name",
        "doc",
        "principal",
        "action",
        "resource",
        "context",
        "identity",
        "resource_policy",
        "resource_account",
        "boundary",
        "session",
        "require_resource_allow",
        "expect",
        "denied_by",
        "matched",
        "missing",
        "xfail",
    }
)
REQUIRED_CASE_KEYS = frozenset({"name", "doc", "principal", "action", "resource", "expect"})
PRINCIPAL_KEYS = frozenset(
    {"arn", "account", "type", "issuer_arn", "service", "federated_provider", "canonical_user"}
)
SOURCES = {
    "identity": PolicySource.IDENTITY,
    "resource": PolicySource.RESOURCE,
    "boundary": PolicySource.BOUNDARY,
    "session": PolicySource.SESSION,
}


class _CaseLoader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's surprises: dates stay strings, and only
    true/false (any case) are booleans (`yes`, `on`, `no`, `off` stay strings)."""


_CaseLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_CaseLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class Case:
    file: str  # file name, e.g. "basic.yaml"
    data: Mapping[str, Any]  # the case with the file's defaults merged in

    @property
    def name(self) -> str:
        return str(self.data.get("name", "?"))

    @property
    def id(self) -> str:
        return f"{self.file}::{self.name}"


@dataclass(frozen=True)
class CaseFile:
    name: str
    doc: Any
    cases: tuple[Case, ...]
    problems: tuple[str, ...]  # top-level shape problems


def _case_files() -> list[Path]:
    return sorted(p for p in CASES_DIR.glob("*.yaml") if not p.name.startswith("validate_"))


def _load_file(path: Path) -> CaseFile:
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_CaseLoader)
    if not isinstance(raw, dict):
        return CaseFile(path.name, None, (), (f"{path.name}: top level is not a mapping",))
    problems = [f"{path.name}: unknown top-level key {k!r}" for k in raw if k not in FILE_KEYS]
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, dict):
        problems.append(f"{path.name}: defaults is not a mapping")
        defaults = {}
    entries = raw.get("cases")
    if not isinstance(entries, list) or not entries:
        problems.append(f"{path.name}: cases is missing or empty")
        entries = []
    cases: list[Case] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"{path.name}: case #{position} is not a mapping")
            continue
        cases.append(Case(path.name, {**defaults, **entry}))
    return CaseFile(path.name, raw.get("doc"), tuple(cases), tuple(problems))


def _load_all() -> list[CaseFile]:
    return [_load_file(path) for path in _case_files()]


CASE_FILES = _load_all()
ALL_CASES = [case for case_file in CASE_FILES for case in case_file.cases]


# --- building the engine's inputs -----------------------------------------------------


def _principal(spec: Mapping[str, Any]) -> Principal:
    return Principal(
        arn=spec["arn"],
        account=str(spec["account"]),
        type=PrincipalType(spec.get("type", "User")),
        issuer_arn=spec.get("issuer_arn"),
        service=spec.get("service"),
        federated_provider=spec.get("federated_provider"),
        canonical_user=spec.get("canonical_user"),
    )


def _context_value(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(value)
    return value


def build_request(data: Mapping[str, Any]) -> Request:
    context = {str(k): _context_value(v) for k, v in (data.get("context") or {}).items()}
    return Request(
        principal=_principal(data["principal"]),
        action=data["action"],
        resource=data["resource"],
        context=context,
    )


def _text(document: Any) -> str:
    """A policy given as a mapping is serialised; a string is used as written."""
    return document if isinstance(document, str) else json.dumps(document)


def _named(prefix: str, documents: list[Any]) -> tuple[NamedDocument, ...]:
    return tuple((f"{prefix}-{i}", _text(doc)) for i, doc in enumerate(documents))


def build_documents(data: Mapping[str, Any]) -> PolicyDocuments:
    resource_policy = data.get("resource_policy")
    boundary = data.get("boundary")
    session = data.get("session")
    account = data.get("resource_account")
    return PolicyDocuments(
        identity=_named("identity", data.get("identity") or []),
        resource=None if resource_policy is None else ("resource", _text(resource_policy)),
        resource_account=None if account is None else str(account),
        boundary=None if boundary is None else ("boundary", _text(boundary)),
        session=None if session is None else _named("session", session),
        require_resource_allow=bool(data.get("require_resource_allow", False)),
    )


def _policy_ids(data: Mapping[str, Any]) -> set[str]:
    ids = {f"identity-{i}" for i in range(len(data.get("identity") or []))}
    ids |= {f"session-{i}" for i in range(len(data.get("session") or []))}
    if data.get("resource_policy") is not None:
        ids.add("resource")
    if data.get("boundary") is not None:
        ids.add("boundary")
    return ids


# --- checking a case's shape ---------------------------------------------------------


def case_problems(case: Case) -> list[str]:
    """What is wrong with a case's shape (empty when it is well-formed)."""
    data = case.data
    problems = [f"unknown key {k!r}" for k in data if k not in CASE_KEYS]
    problems += [f"missing key {k!r}" for k in sorted(REQUIRED_CASE_KEYS - data.keys())]
    if not str(data.get("doc", "")).startswith(DOC_PREFIX):
        problems.append(f"doc must be an AWS documentation URL, got {data.get('doc')!r}")
    principal = data.get("principal")
    if isinstance(principal, dict):
        problems += [f"unknown principal key {k!r}" for k in principal if k not in PRINCIPAL_KEYS]
        if "arn" not in principal or "account" not in principal:
            problems.append("principal needs arn and account")
        try:
            PrincipalType(principal.get("type", "User"))
        except ValueError:
            problems.append(f"unknown principal type {principal.get('type')!r}")
    elif "principal" in data:
        problems.append("principal is not a mapping")
    if data.get("expect") not in {o.value for o in Outcome}:
        problems.append(f"expect must be one of {[o.value for o in Outcome]}")
    if "denied_by" in data and data["denied_by"] not in SOURCES:
        problems.append(f"denied_by must be one of {sorted(SOURCES)}")
    if "denied_by" in data and data.get("expect") == Outcome.ALLOWED.value:
        problems.append("denied_by given for an allowed case")
    for key in ("identity", "session"):
        if key in data and not isinstance(data[key], list):
            problems.append(f"{key} must be a list of policies")
    if not isinstance(data.get("context", {}), dict):
        problems.append("context is not a mapping")
    ids = _policy_ids(data)
    for label in data.get("matched") or []:
        if str(label).split("/", 1)[0] not in ids:
            problems.append(f"matched entry {label!r} names no policy of the case")
    if "matched" in data and not isinstance(data["matched"], list):
        problems.append("matched must be a list")
    if "missing" in data and not isinstance(data["missing"], list):
        problems.append("missing must be a list")
    if "xfail" in data and not (isinstance(data["xfail"], str) and data["xfail"].strip()):
        problems.append("xfail must give the reason")
    return problems


def test_case_files_are_well_formed() -> None:
    problems: list[str] = []
    for case_file in CASE_FILES:
        problems += case_file.problems
        if not str(case_file.doc or "").startswith(DOC_PREFIX):
            problems.append(f"{case_file.name}: file needs a doc (AWS documentation URL)")
        seen: set[str] = set()
        for case in case_file.cases:
            if case.name in seen:
                problems.append(f"{case.id}: duplicate case name")
            seen.add(case.name)
            problems += [f"{case.id}: {p}" for p in case_problems(case)]
    assert not problems, "\n".join(problems)


def test_there_are_enough_cases() -> None:
    assert len(CASE_FILES) > 0
    count = len(ALL_CASES)
    assert count >= MIN_TOTAL_CASES, f"only {count} evaluation cases"


# --- running a case ------------------------------------------------------------------


def _labels(statement: MatchedStatement) -> set[str]:
    labels = {f"{statement.policy_id}/{statement.index}"}
    if statement.sid is not None:
        labels.add(f"{statement.policy_id}/{statement.sid}")
    return labels


def _describe(statement: MatchedStatement) -> str:
    sid = statement.sid if statement.sid is not None else statement.index
    return f"{statement.policy_id}/{sid}({statement.effect})"


def decision_problems(decision: Decision, data: Mapping[str, Any]) -> list[str]:
    """How a decision differs from what the case expects (empty when it agrees)."""
    problems: list[str] = []
    expect = Outcome(data["expect"])
    if decision.outcome is not expect:
        problems.append(f"outcome {decision.outcome.value}, expected {expect.value}")
    if "denied_by" in data and decision.denied_by is not SOURCES[data["denied_by"]]:
        problems.append(f"denied_by {decision.denied_by}, expected {data['denied_by']}")
    # Whatever the case expects, a decision must be consistent with itself.
    if decision.outcome is Outcome.ALLOWED and decision.denied_by is not None:
        problems.append(f"an allowed decision names denied_by {decision.denied_by}")
    if decision.outcome is not Outcome.ALLOWED and decision.denied_by is None:
        problems.append("a deny does not say which kind of policy denied")
    if decision.outcome is Outcome.IMPLICIT_DENY and decision.matched:
        problems.append("an implicit deny lists matched statements")
    wrong_effect = {
        Outcome.ALLOWED: "Deny",
        Outcome.EXPLICIT_DENY: "Allow",
        Outcome.IMPLICIT_DENY: None,
    }[decision.outcome]
    if any(statement.effect == wrong_effect for statement in decision.matched):
        problems.append(f"an {decision.outcome.value} decision lists {wrong_effect} statements")
    if "matched" in data:
        wanted = {str(label) for label in data["matched"]}
        covered: set[str] = set()
        stray = []
        for statement in decision.matched:
            hit = _labels(statement) & wanted
            if not hit:
                stray.append(_describe(statement))
            covered |= hit
        if stray or covered != wanted or len(decision.matched) != len(wanted):
            got = sorted(_describe(s) for s in decision.matched)
            problems.append(f"matched {got}, expected {sorted(wanted)}")
    if "missing" in data:
        wanted_keys = {str(k) for k in data["missing"]}
        if set(decision.missing_context_keys) != wanted_keys:
            problems.append(
                f"missing_context_keys {sorted(decision.missing_context_keys)}, "
                f"expected {sorted(wanted_keys)}"
            )
    return problems


def _engine(request: Request, documents: PolicyDocuments) -> Decision:
    from chamberlain.policy import compile_documents, evaluate

    return evaluate(request, compile_documents(documents), explain=True)


def _reference(request: Request, documents: PolicyDocuments) -> Decision:
    from tests.policy.reference import reference_evaluate

    return reference_evaluate(request, documents)


EVALUATORS: dict[str, Callable[[Request, PolicyDocuments], Decision]] = {
    "engine": _engine,
    "reference": _reference,
}


def _params() -> Iterator[Any]:
    for case in ALL_CASES:
        marks = []
        if "xfail" in case.data:
            marks.append(pytest.mark.xfail(reason=str(case.data["xfail"]), strict=True))
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("evaluator", sorted(EVALUATORS))
@pytest.mark.parametrize("case", list(_params()))
def test_case(case: Case, evaluator: str) -> None:
    shape = case_problems(case)
    assert not shape, f"malformed case: {shape}"
    request = build_request(case.data)
    documents = build_documents(case.data)
    decision = EVALUATORS[evaluator](request, documents)
    problems = decision_problems(decision, case.data)
    assert not problems, f"{evaluator}: " + "; ".join(problems) + f"\ndecision: {decision}"
