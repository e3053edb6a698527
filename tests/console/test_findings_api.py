"""GET /advisor/findings: the advisor's JSON for the signed-in principal (issue: the
advisor's HTTP interface for the console)."""

from __future__ import annotations

import json

from .conftest import ACCOUNT, Console
from .test_signin import PASSWORD, iam, make_user


def test_root_gets_the_advisors_json(console: Console) -> None:
    assert console.sign_in_root().status_code == 303
    redirect = console.client.get("/advisor/findings", follow_redirects=False)
    assert (redirect.status_code, redirect.headers["location"]) == (
        307,
        "/console/advisor/findings",
    )
    answer = console.client.get("/advisor/findings")
    assert answer.status_code == 200
    document = answer.json()
    assert document["account"] == ACCOUNT and document["source"] == "live"
    assert "root-mfa" in document["checks_run"]
    assert any(f["check"] == "root-mfa" for f in document["findings"])
    assert {"check", "severity", "practice", "resource", "message"} <= set(
        document["findings"][0]
    )


def test_both_advisor_reads_are_required(console: Console) -> None:
    make_user(console.services, "heidi")
    iam(
        console.services,
        "PutUserPolicy",
        UserName="heidi",
        PolicyName="half",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "iam:GenerateCredentialReport", "Resource": "*"}
                ],
            }
        ),
    )
    assert console.sign_in_user("heidi", PASSWORD).status_code == 303
    answer = console.client.get("/advisor/findings")
    assert answer.status_code == 403
    assert answer.json()["__type"] == "AccessDenied"
    assert answer.json()["message"].startswith(
        f"User: arn:aws:iam::{ACCOUNT}:user/heidi is not authorized to perform: "
        "iam:GetAccountAuthorizationDetails on resource: *"
    )


def test_without_a_session_it_sends_you_to_sign_in(console: Console) -> None:
    answer = console.client.get("/console/advisor/findings", follow_redirects=False)
    assert answer.status_code in (302, 303, 307)
    assert "/signin" in answer.headers["location"]
