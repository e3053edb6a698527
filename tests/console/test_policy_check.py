"""The policy editor's live check: the validator's message and where the problem is."""

from __future__ import annotations

from chamberlain.console.policy_check import check_document

from .conftest import Console

GOOD = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'


def test_valid_document() -> None:
    assert check_document(GOOD) == {"ok": True}


def test_json_error_has_line_and_column() -> None:
    found = check_document('{"Version": "2012-10-17",\n  "Statement": [}')
    assert found["ok"] is False
    assert found["message"].startswith("Syntax errors in policy.")
    assert (found["line"], found["column"]) == (2, 17)


def test_statement_problem_points_at_the_statement() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": [\n'
        '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
        '  {"Effect": "Allow", "Action": "nocolon", "Resource": "*"}\n'
        "]}"
    )
    found = check_document(text)
    assert found["ok"] is False
    assert found["message"].startswith("Actions/Conditions must be prefaced by a vendor")
    assert (found["line"], found["column"], found["end_line"]) == (3, 3, 3)


def test_numbered_statement_points_at_the_statement() -> None:
    text = (
        '{"Version": "2012-10-17", "Statement": [\n'
        '  {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},\n'
        '  {"Effect": "Allw", "Action": "s3:*", "Resource": "*"}\n'
        "]}"
    )
    found = check_document(text)
    assert found["message"].startswith("Syntax errors in policy.")
    assert (found["line"], found["column"], found["end_line"]) == (3, 3, 3)


def test_trust_policy_rules_apply_to_trust_documents() -> None:
    assert check_document(GOOD, "identity") == {"ok": True}
    found = check_document(GOOD, "trust")
    assert found["ok"] is False


def test_validation_endpoint_needs_the_session_and_its_token(console: Console) -> None:
    console.sign_in_root()
    refused = console.client.post(
        "/console/policies/validate", data={"document": GOOD, "csrf": "no"}
    )
    assert refused.status_code == 403
    token = console.csrf("/console/policies/new")
    answer = console.client.post(
        "/console/policies/validate", data={"document": "{", "csrf": token}
    )
    assert answer.status_code == 200
    assert answer.json()["ok"] is False
    assert answer.json()["line"] == 1
