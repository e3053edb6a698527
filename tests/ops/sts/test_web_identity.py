"""STS AssumeRoleWithWebIdentity against a real local OIDC issuer (discovery + JWKS over
http on 127.0.0.1, keys generated here): token verification, key caching and rotation,
AWS's errors, trust evaluation with the provider's condition keys, and the session."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from chamberlain.domain import Role
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.sts import oidc
from chamberlain.policy import PrincipalType
from chamberlain.protocol.wire_errors import error_spec

from ...e2e.oidc_issuer import JWKS_PATH, Issuer, SigningKey
from ..conftest import ACCOUNT, NOW
from ..sts_helpers import OTHER, World, allow

ANONYMOUS = Caller(account_id="", arn="", principal_id="", type=PrincipalType.ANONYMOUS)
OP = "AssumeRoleWithWebIdentity"
CLIENT = "client-1"


@pytest.fixture
def issuer(monkeypatch: pytest.MonkeyPatch) -> Iterator[Issuer]:
    monkeypatch.setenv(oidc.ALLOW_HTTP_ENV, "1")
    with Issuer(path="/realms/main") as running:
        yield running


@pytest.fixture
def w(services: Services) -> World:
    return World(services)


def provider_arn(issuer: Issuer, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:oidc-provider/{issuer.host_path}"


def register(w: World, issuer: Issuer, account: str = ACCOUNT, clients: tuple = (CLIENT,)) -> str:
    out = w.root_iam(
        "CreateOpenIDConnectProvider",
        account,
        Url=issuer.provider_url,
        ClientIDList=list(clients),
        ThumbprintList=[],
    )
    return out["OpenIDConnectProviderArn"]


def web_trust(
    federated: str, condition: Any = None, actions: Any = "sts:AssumeRoleWithWebIdentity"
) -> str:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Federated": federated},
        "Action": actions,
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def sub_condition(issuer: Issuer, sub: str = "user-0001") -> dict:
    return {"StringEquals": {f"{issuer.host_path}:sub": sub, f"{issuer.host_path}:aud": CLIENT}}


def setup(
    w: World,
    issuer: Issuer,
    *,
    condition: Any = "default",
    actions: Any = "sts:AssumeRoleWithWebIdentity",
    policy: str | None = None,
    max_session: int | None = None,
) -> str:
    """The provider and a role `web` trusting it; returns the role ARN."""
    arn = register(w, issuer)
    if condition == "default":
        condition = sub_condition(issuer)
    trust = web_trust(arn, condition, actions)
    role = w.role("web", trust, policy, max_session=max_session)
    return role["Arn"]


def assume(w: World, role: str, token: str, *, now: dt.datetime = NOW, **params: Any) -> Any:
    return w.sts(
        ANONYMOUS,
        OP,
        RoleArn=role,
        RoleSessionName="app",
        WebIdentityToken=token,
        now=now,
        **params,
    )


def refused(w: World, role: str, token: str, **params: Any) -> tuple[str, str]:
    """The error code and message, after checking that nothing was issued or written."""
    before = last_used(w)
    with pytest.raises(ServiceError) as info:
        assume(w, role, token, **params)
    assert last_used(w) == before
    return info.value.code, info.value.message


def last_used(w: World) -> dt.datetime | None:
    with w.services.store.unit_of_work(read_only=True) as uow:
        stored = uow.repo(Role).get(ACCOUNT, "web")
        return stored.last_used if stored is not None else None


# ---------------------------------------------------------------------------- success


def test_assume_role_with_web_identity(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer, policy=allow("iam:ListUsers"))
    out = assume(w, role, issuer.mint(now=NOW))
    creds = out["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA")
    assert creds["Expiration"] == NOW + dt.timedelta(hours=1)
    role_id = w.root_iam("GetRole", RoleName="web")["Role"]["RoleId"]
    assert out["AssumedRoleUser"] == {
        "AssumedRoleId": f"{role_id}:app",
        "Arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/web/app",
    }
    assert out["SubjectFromWebIdentityToken"] == "user-0001"
    assert out["Provider"] == provider_arn(issuer)
    assert out["Audience"] == CLIENT
    assert "PackedPolicySize" not in out and "SourceIdentity" not in out

    session = w.session(creds)
    assert session.type is PrincipalType.ASSUMED_ROLE
    assert session.arn == out["AssumedRoleUser"]["Arn"]
    assert session.session is not None
    assert session.session.federated_provider == provider_arn(issuer)
    assert session.session.issuer_arn == role
    # The session has the role's permissions, and only those.
    assert "Users" in w.iam(session, "ListUsers")
    with pytest.raises(ServiceError) as info:
        w.iam(session, "CreateUser", UserName="nope")
    assert info.value.code == "AccessDenied"
    last = w.root_iam("GetRole", RoleName="web")["Role"]["RoleLastUsed"]
    assert last["LastUsedDate"] == NOW


def test_duration_and_the_roles_maximum(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer, max_session=7200)
    out = assume(w, role, issuer.mint(now=NOW), DurationSeconds=7200)
    assert out["Credentials"]["Expiration"] == NOW + dt.timedelta(hours=2)
    assert refused(w, role, issuer.mint(now=NOW), DurationSeconds=7201) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    )


def test_es256_tokens(w: World, issuer: Issuer) -> None:
    key = issuer.rotate("ES256")
    role = setup(w, issuer)
    assert assume(w, role, issuer.mint(now=NOW, key=key))["Audience"] == CLIENT


def test_keys_are_cached_per_issuer(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    jwks = issuer.path + JWKS_PATH
    assume(w, role, issuer.mint(now=NOW))
    assume(w, role, issuer.mint(now=NOW), now=NOW + dt.timedelta(minutes=30))
    assert issuer.hits[jwks] == 1
    later = NOW + oidc.JWKS_TTL
    assume(w, role, issuer.mint(now=later), now=later)
    assert issuer.hits[jwks] == 2


def test_an_unknown_key_id_refetches_once(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    jwks = issuer.path + JWKS_PATH
    assume(w, role, issuer.mint(now=NOW))
    new = issuer.rotate()
    # Just fetched: a key id it does not hold is refused without asking again.
    soon = NOW + dt.timedelta(seconds=10)
    with pytest.raises(ServiceError) as info:
        assume(w, role, issuer.mint(now=soon, key=new), now=soon)
    assert (info.value.code, info.value.message) == ("InvalidIdentityToken", oidc.NO_KEY)
    assert issuer.hits[jwks] == 1
    # Later, the rotated key is fetched once and accepted.
    later = NOW + oidc.REFETCH_AFTER
    assume(w, role, issuer.mint(now=later, key=new), now=later)
    assert issuer.hits[jwks] == 2
    assume(w, role, issuer.mint(now=later, key=new), now=later)
    assert issuer.hits[jwks] == 2
    # A key id the issuer never published: one refetch, then InvalidIdentityToken.
    stranger = SigningKey.generate()
    much_later = later + oidc.REFETCH_AFTER
    with pytest.raises(ServiceError) as info:
        assume(w, role, issuer.mint(now=much_later, key=stranger), now=much_later)
    assert info.value.code == "InvalidIdentityToken"
    assert issuer.hits[jwks] == 3


def test_azp_is_the_audience_when_present(w: World, issuer: Issuer) -> None:
    condition = {
        "StringEquals": {
            f"{issuer.host_path}:aud": CLIENT,
            f"{issuer.host_path}:oaud": "account",
            f"{issuer.host_path}:azp": CLIENT,
        }
    }
    role = setup(w, issuer, condition=condition)
    out = assume(w, role, issuer.mint(now=NOW, aud="account", azp=CLIENT))
    assert out["Audience"] == CLIENT


def test_multiple_audiences(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    out = assume(w, role, issuer.mint(now=NOW, aud=["other", CLIENT]))
    assert out["Audience"] == CLIENT


def test_amr_and_federated_provider_condition_keys(w: World, issuer: Issuer) -> None:
    arn = register(w, issuer)
    condition = {
        "ForAnyValue:StringEquals": {f"{issuer.host_path}:amr": "mfa"},
        "StringEquals": {"aws:FederatedProvider": arn},
    }
    role = w.role("web", web_trust(arn, condition))["Arn"]
    assume(w, role, issuer.mint(now=NOW, amr=["pwd", "mfa"]))
    assert refused(w, role, issuer.mint(now=NOW, amr=["pwd"]))[0] == "AccessDenied"


def test_role_policy_conditions_on_the_sessions_provider_keys(w: World, issuer: Issuer) -> None:
    """AWS keeps the provider's application id (`:aud`) and user id (`:sub`) for the
    session: the role's permission policies can test them on every request."""
    keys = {f"{issuer.host_path}:sub": "user-0001", f"{issuer.host_path}:aud": CLIENT}
    role = setup(
        w, issuer, condition=None, policy=allow("iam:ListRoles", condition={"StringEquals": keys})
    )
    session = w.session(assume(w, role, issuer.mint(now=NOW, amr=["mfa"]))["Credentials"])
    assert session.session is not None
    assert session.session.extra_context == keys  # :amr is for trust policies only
    assert "Roles" in w.iam(session, "ListRoles")

    other = w.session(assume(w, role, issuer.mint(now=NOW, sub="user-0002"))["Credentials"])
    with pytest.raises(ServiceError) as info:
        w.iam(other, "ListRoles")
    assert info.value.code == "AccessDenied"


def test_the_sessions_user_id_as_a_policy_variable(w: World, issuer: Issuer) -> None:
    resource = f"arn:aws:iam::{ACCOUNT}:role/${{{issuer.host_path}:sub}}"
    statement = {"Effect": "Allow", "Action": "iam:GetRole", "Resource": resource}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    role = setup(w, issuer, condition=None, policy=policy)
    w.role("user-0001", web_trust(provider_arn(issuer)))
    w.role("user-0002", web_trust(provider_arn(issuer)))
    session = w.session(assume(w, role, issuer.mint(now=NOW))["Credentials"])
    assert w.iam(session, "GetRole", RoleName="user-0001")["Role"]["RoleName"] == "user-0001"
    with pytest.raises(ServiceError) as info:
        w.iam(session, "GetRole", RoleName="user-0002")
    assert info.value.code == "AccessDenied"


def test_session_policy(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer, policy=allow(["iam:ListUsers", "iam:ListRoles"]))
    out = assume(w, role, issuer.mint(now=NOW), Policy=allow("iam:ListRoles"))
    assert 0 < out["PackedPolicySize"] <= 100
    session = w.session(out["Credentials"])
    assert "Roles" in w.iam(session, "ListRoles")
    with pytest.raises(ServiceError) as info:
        w.iam(session, "ListUsers")
    assert info.value.code == "AccessDenied"


def test_session_policy_errors(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    code, _ = refused(w, role, issuer.mint(now=NOW), Policy='{"Version": "2012-10-17"}')
    assert code == "MalformedPolicyDocument"
    actions = [f"iam:Get{'X' * 30}{i}" for i in range(25)]  # about 1,000 characters
    arns = [{"arn": f"arn:aws:iam::aws:policy/{'P' * 130}{i}"} for i in range(10)]
    code, message = refused(w, role, issuer.mint(now=NOW), Policy=allow(actions), PolicyArns=arns)
    assert code == "PackedPolicyTooLarge"
    assert message.startswith("Packed policy consumes ")
    assert message.endswith("% of allotted space, please use smaller policy.")


def test_source_identity_needs_set_source_identity(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    token = issuer.mint(now=NOW, **{oidc_claim("source_identity"): "alice"})
    assert refused(w, role, token) == (
        "AccessDenied",
        "Not authorized to perform sts:SetSourceIdentity",
    )
    w.root_iam(
        "UpdateAssumeRolePolicy",
        RoleName="web",
        PolicyDocument=web_trust(
            provider_arn(issuer),
            sub_condition(issuer),
            ["sts:AssumeRoleWithWebIdentity", "sts:SetSourceIdentity"],
        ),
    )
    out = assume(w, role, token)
    assert out["SourceIdentity"] == "alice"
    session = w.session(out["Credentials"])
    assert session.session is not None and session.session.source_identity == "alice"


def oidc_claim(name: str) -> str:
    return f"https://aws.amazon.com/{name}"


def test_session_tags_from_the_token(w: World, issuer: Issuer) -> None:
    tags = {"principal_tags": {"team": ["blue"], "cost": ["42"]}, "transitive_tag_keys": ["team"]}
    token = issuer.mint(now=NOW, **{oidc_claim("tags"): tags})
    role = setup(w, issuer)
    assert refused(w, role, token) == ("AccessDenied", "Not authorized to perform sts:TagSession")
    condition = {
        "StringEquals": {"aws:RequestTag/team": "blue"},
        "ForAllValues:StringEquals": {"sts:TransitiveTagKeys": ["team"]},
    }
    statements = [
        json.loads(web_trust(provider_arn(issuer), sub_condition(issuer)))["Statement"][0],
        json.loads(web_trust(provider_arn(issuer), condition, "sts:TagSession"))["Statement"][0],
    ]
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    w.root_iam("UpdateAssumeRolePolicy", RoleName="web", PolicyDocument=document)
    out = assume(w, role, token)
    assert out["PackedPolicySize"] > 0
    session = w.session(out["Credentials"]).session
    assert session is not None
    assert set(session.tags) == {("team", "blue"), ("cost", "42")}
    assert session.transitive_tag_keys == ("team",)


@pytest.mark.parametrize(
    "claim",
    [
        "not an object",
        {"principal_tags": {"team": "blue"}},
        {"principal_tags": {"team": ["a", "b"]}},
        {"principal_tags": {"aws:team": ["blue"]}},
        {"principal_tags": {"team": ["blue"]}, "transitive_tag_keys": ["other"]},
        {"principal_tags": {f"k{i}": ["v"] for i in range(51)}},
    ],
)
def test_invalid_tags_claims(w: World, issuer: Issuer, claim: Any) -> None:
    role = setup(w, issuer, actions=["sts:AssumeRoleWithWebIdentity", "sts:TagSession"])
    token = issuer.mint(now=NOW, **{oidc_claim("tags"): claim})
    assert refused(w, role, token)[0] == "IDPRejectedClaim"


# ------------------------------------------------------------------------- refusals


def test_wrong_signature(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    forger = SigningKey.generate(kid=issuer.keys[0].kid)  # same key id, another key
    assert refused(w, role, issuer.mint(now=NOW, key=forger)) == (
        "InvalidIdentityToken",
        oidc.BAD_SIGNATURE,
    )
    good = issuer.mint(now=NOW)
    head, _, signature = good.split(".")
    tampered = f"{head}.{issuer.mint(now=NOW, sub='admin').split('.')[1]}.{signature}"
    assert refused(w, role, tampered)[0] == "InvalidIdentityToken"


@pytest.mark.parametrize(
    "token",
    ["not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."],
)
def test_not_a_jwt(w: World, issuer: Issuer, token: str) -> None:
    role = setup(w, issuer)
    code, message = refused(w, role, token)
    assert code == "InvalidIdentityToken"
    assert message in (oidc.NOT_A_JWT, oidc.UNSUPPORTED_ALGORITHM)


def _b64(part: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"alg": "RS256", "kid": ["k"]}, oidc.NOT_A_JWT),
        ({"alg": "RS256", "kid": 5}, oidc.NOT_A_JWT),
        ({"alg": "RS256", "crit": ["exp"], "exp": 1}, oidc.NOT_A_JWT),
        ({"alg": "RS256", "crit": "b64"}, oidc.NOT_A_JWT),
        ({"alg": ["RS256"]}, oidc.UNSUPPORTED_ALGORITHM),
        ({"alg": {"RS256": 1}}, oidc.UNSUPPORTED_ALGORITHM),
    ],
)
def test_malformed_headers_are_not_a_server_error(
    w: World, issuer: Issuer, header: dict, message: str
) -> None:
    role = setup(w, issuer)
    good = issuer.mint(now=NOW)
    _, payload, signature = good.split(".")
    token = f"{_b64(header)}.{payload}.{signature}"
    assert refused(w, role, token) == ("InvalidIdentityToken", message)
    assert issuer.hits == {}


@pytest.mark.parametrize("iss", ["https://[::1", "http://[zz]/x", "[", "https://a]b"])
def test_an_unparseable_issuer_names_no_provider(w: World, issuer: Issuer, iss: str) -> None:
    role = setup(w, issuer)
    code, message = refused(w, role, issuer.mint(now=NOW, iss=iss))
    assert code == "InvalidIdentityToken"
    assert message.startswith("No OpenIDConnect provider found in your account for ")


def test_symmetric_algorithms_are_refused(w: World, issuer: Issuer) -> None:
    import jwt

    role = setup(w, issuer)
    token = jwt.encode(
        {"iss": issuer.url, "sub": "user-0001", "aud": CLIENT, "exp": int(NOW.timestamp()) + 60},
        "secret" * 8,
        algorithm="HS256",
    )
    assert refused(w, role, token) == ("InvalidIdentityToken", oidc.UNSUPPORTED_ALGORITHM)


def test_issuer_not_registered(w: World, issuer: Issuer) -> None:
    role = w.role("web", web_trust(provider_arn(issuer)))["Arn"]
    assert refused(w, role, issuer.mint(now=NOW)) == (
        "InvalidIdentityToken",
        f"No OpenIDConnect provider found in your account for {issuer.url}",
    )
    assert issuer.hits == {}  # an unregistered issuer is never fetched


def test_provider_must_be_in_the_roles_account(w: World, issuer: Issuer) -> None:
    w.add_account(OTHER)
    register(w, issuer, account=OTHER)
    role = w.role("web", web_trust(provider_arn(issuer, OTHER)))["Arn"]
    code, message = refused(w, role, issuer.mint(now=NOW))
    assert code == "InvalidIdentityToken"
    assert message.startswith("No OpenIDConnect provider found in your account for ")


def test_other_issuer_with_the_same_host(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    other = f"http://127.0.0.1:{issuer.port}/realms/other"
    code, message = refused(w, role, issuer.mint(now=NOW, iss=other))
    assert (code, message) == (
        "InvalidIdentityToken",
        f"No OpenIDConnect provider found in your account for {other}",
    )


def test_http_issuers_need_the_setting(
    w: World, issuer: Issuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    role = setup(w, issuer)
    monkeypatch.delenv(oidc.ALLOW_HTTP_ENV)
    assert refused(w, role, issuer.mint(now=NOW))[0] == "InvalidIdentityToken"
    assert issuer.hits == {}


def test_wrong_audience(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    assert refused(w, role, issuer.mint(now=NOW, aud="someone-else")) == (
        "InvalidIdentityToken",
        "Incorrect token audience",
    )
    assert refused(w, role, issuer.mint(now=NOW, aud=None))[1] == "Incorrect token audience"


def test_expired_token(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    issued = NOW - dt.timedelta(hours=2)
    token = issuer.mint(now=issued)
    expires = int((issued + dt.timedelta(hours=1)).timestamp())
    assert refused(w, role, token) == (
        "ExpiredTokenException",
        f"Token expired: current date/time {int(NOW.timestamp())} must be before the "
        f"expiration date/time {expires}",
    )
    spec = error_spec("sts", "ExpiredTokenException")
    assert spec is not None and spec.http_status == 400


def test_clock_skew_leeway(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    # Expired a few seconds ago, or issued a few seconds in the future: accepted.
    assume(w, role, issuer.mint(now=NOW - dt.timedelta(hours=1, seconds=10)))
    assume(w, role, issuer.mint(now=NOW + dt.timedelta(seconds=20)))
    future = NOW + oidc.LEEWAY + dt.timedelta(minutes=1)
    code, message = refused(w, role, issuer.mint(now=future))
    assert code == "InvalidIdentityToken" and message.startswith("Token used before issued")
    code, message = refused(w, role, issuer.mint(now=NOW, nbf=int(future.timestamp())))
    assert code == "InvalidIdentityToken" and message.startswith("Token is not yet valid")
    assert refused(w, role, issuer.mint(now=NOW, exp=None))[0] == "InvalidIdentityToken"
    assert refused(w, role, issuer.mint(now=NOW, exp="soon"))[0] == "InvalidIdentityToken"


def test_issuer_unreachable(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    token = issuer.mint(now=NOW)
    issuer.fail_with = 500
    assert refused(w, role, token) == ("IDPCommunicationError", oidc.NO_KEY)
    # Not asked again for a while: the same answer at once.
    issuer.fail_with = None
    soon = NOW + oidc.RETRY_AFTER_FAILURE - dt.timedelta(seconds=1)
    assert refused(w, role, token, now=soon) == ("IDPCommunicationError", oidc.NO_KEY)
    assert sum(issuer.hits.values()) == 1
    # Then asked again: now nobody answers at all.
    issuer.stop()
    later = NOW + oidc.RETRY_AFTER_FAILURE
    assert refused(w, role, token, now=later) == ("IDPCommunicationError", oidc.NO_KEY)


def test_issuer_back_after_a_failure(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    issuer.fail_with = 503
    assert refused(w, role, issuer.mint(now=NOW))[0] == "IDPCommunicationError"
    issuer.fail_with = None
    later = NOW + oidc.RETRY_AFTER_FAILURE
    assert assume(w, role, issuer.mint(now=later), now=later)["Audience"] == CLIENT


def test_issuer_answers_nonsense(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    issuer.jwks_override = ["not", "a", "key", "set"]
    assert refused(w, role, issuer.mint(now=NOW)) == ("InvalidIdentityToken", oidc.NO_KEY)


def test_missing_subject(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer, condition=None)
    assert refused(w, role, issuer.mint(now=NOW, sub=None))[0] == "IDPRejectedClaim"


def test_trust_policy_must_allow(w: World, issuer: Issuer) -> None:
    denied = ("AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity")
    role = setup(w, issuer)
    assert refused(w, role, issuer.mint(now=NOW, sub="someone-else")) == denied
    # A role that does not exist is refused the same way.
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing"
    assert refused(w, missing, issuer.mint(now=NOW)) == denied
    # The role's ARN must match, path included.
    assert refused(w, f"arn:aws:iam::{ACCOUNT}:role/x/web", issuer.mint(now=NOW)) == denied


@pytest.mark.parametrize(
    "principal",
    [
        {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        {"Federated": f"arn:aws:iam::{ACCOUNT}:oidc-provider/elsewhere.example.com"},
    ],
)
def test_trust_policy_for_others(w: World, issuer: Issuer, principal: dict) -> None:
    register(w, issuer)
    statement = {
        "Effect": "Allow",
        "Principal": principal,
        "Action": "sts:AssumeRoleWithWebIdentity",
    }
    role = w.role("web", json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert refused(w, role["Arn"], issuer.mint(now=NOW))[0] == "AccessDenied"


def test_trust_policy_for_assume_role_only(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer, actions="sts:AssumeRole")
    assert refused(w, role, issuer.mint(now=NOW))[0] == "AccessDenied"


def test_explicit_deny_in_the_trust_policy(w: World, issuer: Issuer) -> None:
    arn = register(w, issuer)
    statements = [
        {
            "Effect": "Allow",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
        },
        {
            "Effect": "Deny",
            "Principal": {"Federated": arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {"StringLike": {f"{issuer.host_path}:sub": "blocked-*"}},
        },
    ]
    role = w.role("web", json.dumps({"Version": "2012-10-17", "Statement": statements}))["Arn"]
    assume(w, role, issuer.mint(now=NOW))
    with pytest.raises(ServiceError) as info:
        assume(w, role, issuer.mint(now=NOW, sub="blocked-1"))
    assert info.value.code == "AccessDenied"


def test_provider_id_is_not_supported(w: World, issuer: Issuer) -> None:
    role = setup(w, issuer)
    code, _ = refused(w, role, issuer.mint(now=NOW), ProviderId="www.amazon.com")
    assert code == "InvalidParameterValue"
    assert issuer.hits == {}


def test_error_statuses_match_the_model() -> None:
    from chamberlain.ops.core.errors import (
        IDPCommunicationError,
        IDPRejectedClaim,
        InvalidIdentityToken,
    )

    for cls in (
        oidc.ExpiredTokenException,
        IDPCommunicationError,
        IDPRejectedClaim,
        InvalidIdentityToken,
    ):
        spec = error_spec("sts", cls.code)
        assert spec is not None, cls.code
        assert (cls.http_status, cls.sender_fault) == (spec.http_status, spec.sender_fault)


@pytest.mark.parametrize(("tagged", "allowed"), [(True, True), (False, False)])
def test_a_trust_policy_conditions_on_the_roles_tags(
    w: World, issuer: Issuer, tagged: bool, allowed: bool
) -> None:
    """AssumeRoleWithWebIdentity evaluates the trust policy with the role's tags
    (aws:ResourceTag/KEY, iam:ResourceTag/KEY), as AssumeRole does."""
    arn = register(w, issuer)
    condition = {"StringEquals": {"iam:ResourceTag/federation": "oidc"}}
    tags = [{"Key": "federation", "Value": "oidc"}] if tagged else None
    role = w.role("web", web_trust(arn, condition), tags=tags)["Arn"]
    token = issuer.mint(now=NOW)
    if allowed:
        assert assume(w, role, token)["Credentials"]
    else:
        assert refused(w, role, token)[0] == "AccessDenied"
