"""MFA for console users and for privileged principals (the seed's "MFA")."""

from __future__ import annotations

import json

from chamberlain.advisor.checks.common import CIS3, cis, with_report
from chamberlain.advisor.engine import ALLOW_ALL, Answer, Engine, Node
from chamberlain.advisor.findings import Check, Finding, check
from chamberlain.advisor.model import Account
from chamberlain.policy import Principal, PrincipalType

#: IAM calls that administer IAM (each one lets its caller grant itself anything), tried
#: on a resource of the right type in the account.
IAM_ADMIN_PROBES = (
    ("iam:AttachUserPolicy", "user/advisor-probe"),
    ("iam:PutUserPolicy", "user/advisor-probe"),
    ("iam:CreateAccessKey", "user/advisor-probe"),
    ("iam:AttachRolePolicy", "role/advisor-probe"),
    ("iam:PutRolePolicy", "role/advisor-probe"),
    ("iam:UpdateAssumeRolePolicy", "role/advisor-probe"),
    ("iam:AttachGroupPolicy", "group/advisor-probe"),
    ("iam:AddUserToGroup", "group/advisor-probe"),
    ("iam:CreatePolicyVersion", "policy/advisor-probe"),
)


@check(
    "user-console-no-mfa",
    severity="high",
    practice="mfa",
    controls=(cis(CIS3, "1.10"),),
    cites="CIS 1.10 'Ensure multi-factor authentication (MFA) is enabled for all IAM users "
    "that have a console password' (audit: password_enabled true and mfa_active false in the "
    "credential report).",
)
def user_console_no_mfa(c: Check, account: Account, engine: Engine) -> list[Finding]:
    return [
        c.finding(
            user.arn,
            f"User {user.name} has a console password and no MFA device.",
            f"aws iam create-virtual-mfa-device --virtual-mfa-device-name {user.name} "
            f"--outfile {user.name}.png --bootstrap-method QRCodePNG; aws iam enable-mfa-device "
            f"--user-name {user.name} --serial-number SERIAL --authentication-code1 CODE1 "
            "--authentication-code2 CODE2",
            {"password_enabled": True, "mfa_active": False},
        )
        for user, cred in with_report(account)
        if cred.password_enabled and not cred.mfa_active
    ]


def privilege(engine: Engine, node: Node) -> str | None:
    """'full administrator', 'IAM administrator' or None, as the engine decides."""
    if engine.admin(node).answer is Answer.YES:
        return "full administrator"
    account = engine.account.account_id
    for action, resource in IAM_ADMIN_PROBES:
        arn = f"arn:aws:iam::{account}:{resource}"
        if engine.might(node, action) and engine.decide(node, action, arn).answer is Answer.YES:
            return f"IAM administrator ({action})"
    return None


def _a(level: str) -> str:
    return f"an {level}" if level[0] in "aeiouAEIOU" else f"a {level}"


def _humans_without_mfa(engine: Engine, role_trust: tuple[str, str], role_arn: str) -> list[str]:
    """Who the trust policy lets assume the role with no MFA condition satisfied: the
    account's users (given the identity permission), or anyone in another account."""
    account = engine.account.account_id
    probes = [
        (f"arn:aws:iam::{account}:user/advisor-probe", account),
        ("arn:aws:iam::999999999999:user/advisor-probe", "999999999999"),
    ]
    who = []
    for arn, principal_account in probes:
        node = Node(
            "user",
            "advisor-probe",
            arn,
            "AIDAADVISORPROBE",
            principal_account,
            (),
            (("allow-all", ALLOW_ALL),),
            None,
        )
        principal = Principal(arn=arn, account=principal_account, type=PrincipalType.USER)
        verdict = engine.decide(
            node, "sts:AssumeRole", role_arn, trust=role_trust, principal=principal
        )
        if verdict.answer is Answer.YES:
            who.append(
                "users of this account"
                if principal_account == account
                else "principals of other accounts"
            )
    return who


@check(
    "privileged-no-mfa",
    severity="high",
    practice="mfa",
    cites="AWS IAM best practices: 'Require multi-factor authentication (MFA)' for privileged "
    "users; the seed: 'Enable MFA for privileged users, who are allowed access to sensitive "
    "resources or APIs'. For roles: 'Configuring MFA-protected API access' "
    "(aws:MultiFactorAuthPresent in the role's trust policy).",
)
def privileged_no_mfa(c: Check, account: Account, engine: Engine) -> list[Finding]:
    found = []
    for user, cred in with_report(account):
        if cred.mfa_active:
            continue
        level = privilege(engine, engine.user_node(user))
        if level:
            found.append(
                c.finding(
                    user.arn,
                    f"User {user.name} is {_a(level)} and has no MFA device.",
                    f"aws iam enable-mfa-device --user-name {user.name} --serial-number SERIAL "
                    "--authentication-code1 CODE1 --authentication-code2 CODE2",
                    {"privilege": level, "mfa_active": False},
                )
            )
    for role in account.roles:
        if role.service_linked:
            continue
        level = privilege(engine, engine.role_node(role))
        if not level:
            continue
        who = _humans_without_mfa(engine, (role.arn + "#trust", role.trust), role.arn)
        if who:
            found.append(
                c.finding(
                    role.arn,
                    f"Role {role.name} is {_a(level)} and its trust policy lets "
                    f"{' and '.join(who)} assume it without MFA.",
                    f"aws iam update-assume-role-policy --role-name {role.name} "
                    "--policy-document file://trust.json  (add Condition Bool "
                    "aws:MultiFactorAuthPresent true)",
                    {
                        "privilege": level,
                        "assumable_without_mfa_by": who,
                        "trust_policy": json.loads(role.trust),
                    },
                )
            )
    return found
