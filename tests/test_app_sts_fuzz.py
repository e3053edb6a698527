"""The HTTP layer in-process (memory store), fed hostile STS federation requests and
CloudTrail JSON requests: whatever comes in, the server never answers 5xx, and every
error is a parseable AWS error body (XML for STS, JSON for CloudTrail).

The STS requests go as deep as hostile input can: a registered OpenID Connect issuer
(running on loopback) signs tokens with arbitrary claims, a registered SAML identity
provider signs responses with arbitrary subjects and attributes, and roles trust both;
besides, garbage tokens and assertions, signed and unsigned, with random parameters.
CHAMBERLAIN_FUZZ_EXAMPLES=N runs N examples per test instead of the quick default.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.cli import provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.ops.core.context import Services
from chamberlain.ops.sts.oidc import ALLOW_HTTP_ENV
from chamberlain.protocol.models import service_model
from chamberlain.store.memory import MemoryStore

from .e2e.oidc_issuer import Issuer
from .e2e.saml_idp import ATTRIBUTES, IdP, Response, trust_policy

ACCOUNT = "123456789012"
ENDPOINT = "http://127.0.0.1"
STS_VERSION = "2011-06-15"
CLOUDTRAIL = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
CLIENT = "sts.amazonaws.com"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/federated"
SAML_PROVIDER = f"arn:aws:iam::{ACCOUNT}:saml-provider/Okta"
FUZZ = settings(
    max_examples=int(os.environ.get("CHAMBERLAIN_FUZZ_EXAMPLES", "200")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@dataclass
class Harness:
    client: TestClient
    creds: Credentials
    issuer: Issuer
    idp: IdP


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    key = generate_key()
    services = Services(
        store=MemoryStore(),
        secrets=SecretBox(key),
        tokens=TokenSealer(key),
        password_params=TEST_PARAMS,
    )
    creds_file: Path = tmp_path_factory.mktemp("sts-fuzz") / "credentials"
    provision_account(
        services,
        account_id=ACCOUNT,
        admin_user="admin",
        credentials_file=creds_file,
        profile="admin",
        root_access_key=False,
        email=None,
        root_password="S3cure!Passw0rd#",
    )
    lines = dict(
        line.split(" = ", 1) for line in creds_file.read_text().splitlines() if " = " in line
    )
    creds = Credentials(lines["aws_access_key_id"], lines["aws_secret_access_key"])
    client = TestClient(create_app(services), base_url=ENDPOINT)
    idp = IdP()
    with pytest.MonkeyPatch.context() as patch, Issuer() as issuer:
        patch.setenv(ALLOW_HTTP_ENV, "1")
        h = Harness(client, creds, issuer, idp)
        oidc_arn = iam(
            h,
            "CreateOpenIDConnectProvider",
            Url=issuer.provider_url,
            **{"ClientIDList.member.1": CLIENT},
        ).find(".//{*}OpenIDConnectProviderArn")
        assert oidc_arn is not None and oidc_arn.text
        created = iam(h, "CreateSAMLProvider", Name="Okta", SAMLMetadataDocument=idp.metadata())
        assert created.find(".//{*}SAMLProviderArn") is not None
        saml_actions = ("sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity")
        trust = json.loads(trust_policy(SAML_PROVIDER, actions=saml_actions))
        trust["Statement"].append(
            {
                "Effect": "Allow",
                "Principal": {"Federated": oidc_arn.text},
                "Action": [
                    "sts:AssumeRoleWithWebIdentity",
                    "sts:TagSession",
                    "sts:SetSourceIdentity",
                ],
            }
        )
        iam(h, "CreateRole", RoleName="federated", AssumeRolePolicyDocument=json.dumps(trust))
        yield h


def signed(h: Harness, service: str, body: bytes, headers: dict[str, str]) -> Any:
    request = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=headers)
    SigV4Auth(h.creds, service, "us-east-1").add_auth(request)
    return h.client.post("/", content=body, headers=dict(request.headers.items()))


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def query(h: Harness, service: str, pairs: list[tuple[str, str]], *, sign: bool = True) -> Any:
    body = urlencode(pairs).encode()
    if sign:
        return signed(h, service, body, FORM)
    return h.client.post("/", content=body, headers=FORM)


def iam(h: Harness, action: str, **params: str) -> ET.Element:
    pairs = [("Action", action), ("Version", "2010-05-08"), *params.items()]
    response = query(h, "iam", pairs)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.content)


# ------------------------------------------------------------------- strategies

text = st.text(max_size=40) | st.sampled_from(
    ["", "a", "-1", "0", "900", "3600", "99999999999", "/", "{}", "*", "aws:x", "a" * 300]
)
json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def mostly(usual: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    """`usual` three times in four: enough well-formed input to get past the first
    checks, and hostile input at every step."""
    return st.sampled_from([False, False, False, True]).flatmap(
        lambda spoiled: hostile if spoiled else usual
    )


garbage = text | st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode())


@st.composite
def hostile_token(draw: st.DrawFn, issuer: Issuer) -> str:
    """A garbage token, or one signed by the registered issuer with arbitrary claims."""
    kind = draw(st.sampled_from(["garbage", "dotted", "unsigned", "signed", "signed", "signed"]))
    if kind == "garbage":
        return draw(garbage)
    if kind == "dotted":
        parts = draw(st.lists(garbage, min_size=2, max_size=4))
        return ".".join(parts)
    claims: dict[str, Any] = {
        "iss": draw(mostly(st.just(issuer.url), st.sampled_from(["https://elsewhere"]) | text)),
        "sub": draw(mostly(st.just("user-1"), json_value)),
        "aud": draw(mostly(st.sampled_from([CLIENT, [CLIENT, "x"]]), json_value)),
    }
    now = int(dt.datetime.now(dt.UTC).timestamp())
    usual = {"exp": now + 3600, "iat": now - 5, "nbf": now - 5}
    hostile_time = st.sampled_from([now - 7200, 0, -1, 2**40, 1e300]) | json_value
    for name, value in usual.items():
        if draw(mostly(st.just(True), st.just(False))):
            claims[name] = draw(mostly(st.just(value), hostile_time))
    extra_names = st.sampled_from(
        [
            "azp",
            "amr",
            "https://aws.amazon.com/tags",
            "https://aws.amazon.com/source_identity",
            "email",
        ]
    )
    claims.update(draw(mostly(st.just({}), st.dictionaries(extra_names, json_value, max_size=3))))
    if draw(st.integers(0, 3)) == 0:
        claims["https://aws.amazon.com/tags"] = {
            "principal_tags": draw(st.dictionaries(text, st.lists(text, max_size=2), max_size=3)),
            "transitive_tag_keys": draw(st.lists(text, max_size=2)),
        }
    if kind == "unsigned":
        return jwt.encode(claims, key=None, algorithm="none")
    key = issuer.keys[0]
    headers = {"kid": draw(mostly(st.just(key.kid), st.just("unknown")))}
    token = jwt.encode(claims, key.private, algorithm=key.alg, headers=headers)
    if draw(mostly(st.just(False), st.just(True))):
        # A hostile header (PyJWT would not encode it): the signature no longer holds,
        # but the header is read before the signature is checked.
        names = st.sampled_from(["alg", "kid", "crit", "b64", "typ", "jku", "x5u"])
        header = {"alg": key.alg, "kid": key.kid}
        header.update(draw(st.dictionaries(names, json_value, min_size=1, max_size=3)))
        encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
        token = encoded + token[token.index(".") :]
    return token


@st.composite
def hostile_assertion(draw: st.DrawFn, idp: IdP) -> str:
    """A garbage SAMLAssertion, or a response the registered provider signed, saying
    arbitrary things."""
    kind = draw(st.sampled_from(["garbage", "xml", "signed", "signed", "signed", "tampered"]))
    if kind == "garbage":
        return draw(garbage)
    if kind == "xml":
        xml = draw(
            st.sampled_from(
                [
                    "<x/>",
                    "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
                    "<!DOCTYPE x [<!ENTITY e 'e'>]><x>&e;</x>",
                    "<a><b>",
                ]
            )
            | text
        )
        return base64.b64encode(xml.encode()).decode()
    now = dt.datetime.now(dt.UTC)
    r: Response = idp.new(ROLE, SAML_PROVIDER, now - dt.timedelta(seconds=5))
    r.session_name = draw(mostly(st.just("alice"), st.none() | text))
    r.subject = draw(mostly(st.just("alice@example.com"), st.none() | text))
    r.subject_format = draw(mostly(st.just(r.subject_format), st.none() | text))
    pair = st.sampled_from([f"{ROLE},{SAML_PROVIDER}", f"{SAML_PROVIDER},{ROLE}"])
    r.roles = draw(mostly(st.none(), st.lists(pair | text, max_size=3)))
    r.signed = draw(st.sampled_from(["assertion", "response", "both"]))
    attribute_names = st.sampled_from(
        [
            ATTRIBUTES + "SessionDuration",
            ATTRIBUTES + "SourceIdentity",
            ATTRIBUTES + "TransitiveTagKeys",
            ATTRIBUTES + "PrincipalTag:Team",
            ATTRIBUTES + "PrincipalTag:aws:x",
            "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
        ]
    ) | text.map(lambda t: ATTRIBUTES + "PrincipalTag:" + t)
    r.attributes = draw(st.dictionaries(attribute_names, st.lists(text, max_size=3), max_size=4))
    if draw(st.booleans()):
        r.session_not_on_or_after = now + dt.timedelta(seconds=draw(st.integers(-100, 10**6)))
    # XML text cannot carry control characters; lxml refuses them when building.
    try:
        raw = idp.response_xml(r)
    except ValueError:
        return draw(garbage)
    if kind == "tampered":
        raw = raw.replace(b"alice", b"mallory", 1)
    return base64.b64encode(raw).decode()


STS_OPS = sorted(service_model("sts").operation_names)


@st.composite
def hostile_sts(draw: st.DrawFn, h: Harness) -> tuple[list[tuple[str, str]], bool]:
    """(form pairs, signed?) of an STS request, mostly AssumeRoleWithWebIdentity and
    AssumeRoleWithSAML."""
    operation = draw(
        mostly(
            st.sampled_from(["AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"]),
            st.sampled_from(STS_OPS),
        )
    )
    # One parameter at most is spoiled besides the token or assertion, so that most
    # requests reach the token's or the assertion's checks.
    spoil = draw(st.sampled_from([None, None, None, "role", "name", "principal", "params"]))
    role = st.just(ROLE)
    if spoil == "role":
        role = st.just(f"arn:aws:iam::{ACCOUNT}:role/nobody") | text
    pairs = [("Action", operation), ("Version", STS_VERSION)]
    if operation == "AssumeRoleWithWebIdentity":
        pairs += [
            ("RoleArn", draw(role)),
            ("RoleSessionName", draw(text if spoil == "name" else st.just("app"))),
            ("WebIdentityToken", draw(hostile_token(h.issuer))),
        ]
    elif operation == "AssumeRoleWithSAML":
        pairs += [
            ("RoleArn", draw(role)),
            ("PrincipalArn", draw(text if spoil == "principal" else st.just(SAML_PROVIDER))),
            ("SAMLAssertion", draw(hostile_assertion(h.idp))),
        ]
    if spoil == "params" or operation not in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"):
        shape = service_model("sts").operation_model(operation).input_shape
        members = list(shape.members) if shape is not None else []
        more = ["Bogus", "PolicyArns.member.1.arn", "Tags.member.1.Key", "Tags.member.1.Value"]
        names = st.sampled_from([*members, *more])
        values = text | st.sampled_from(['{"Version":"2012-10-17","Statement":[]}', "[]"])
        extra = draw(st.lists(st.tuples(names, values), max_size=4))
        if draw(st.booleans()):
            pairs += extra
        else:
            pairs = pairs[:2] + extra + pairs[2:]
    return pairs, draw(st.booleans())


# ------------------------------------------------------------------------ STS


def assert_xml_error_or_success(response: Any) -> None:
    assert response.status_code < 500, response.text
    root = ET.fromstring(response.content)
    if response.status_code >= 400:
        assert root.tag.endswith("ErrorResponse"), response.text
        code = root.find("./{*}Error/{*}Code")
        assert code is not None and code.text, response.text
    else:
        assert root.tag.endswith("Response"), response.text
    assert response.headers["x-amzn-RequestId"]


@FUZZ
@given(data=st.data())
def test_hostile_sts_requests_never_fail_the_server(harness: Harness, data: st.DataObject) -> None:
    pairs, sign = data.draw(hostile_sts(harness))
    assert_xml_error_or_success(query(harness, "sts", pairs, sign=sign))


def test_the_fuzzed_federations_can_succeed(harness: Harness) -> None:
    """The fixture's providers and role are set up so that well-formed tokens and
    responses get sessions: the fuzzing reaches past the first checks."""
    token = harness.issuer.mint(sub="user-1", aud=CLIENT)
    pairs = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", STS_VERSION),
        ("RoleArn", ROLE),
        ("RoleSessionName", "app"),
        ("WebIdentityToken", token),
    ]
    ok = query(harness, "sts", pairs, sign=False)
    assert ok.status_code == 200, ok.text
    r = harness.idp.new(ROLE, SAML_PROVIDER, dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))
    pairs = [
        ("Action", "AssumeRoleWithSAML"),
        ("Version", STS_VERSION),
        ("RoleArn", ROLE),
        ("PrincipalArn", SAML_PROVIDER),
        ("SAMLAssertion", harness.idp.response(r)),
    ]
    ok = query(harness, "sts", pairs, sign=True)
    assert ok.status_code == 200, ok.text


# ----------------------------------------------------------------- CloudTrail


def lookup_attributes() -> st.SearchStrategy[Any]:
    names = "EventId EventName ReadOnly Username ResourceType ResourceName EventSource AccessKeyId"
    keys = st.sampled_from(names.split())
    attribute = st.fixed_dictionaries(
        {
            "AttributeKey": mostly(keys, text | json_value),
            "AttributeValue": mostly(text, json_value),
        }
    )
    return mostly(st.lists(attribute, max_size=2), st.lists(attribute | json_value) | json_value)


EPOCH_NOW = dt.datetime.now(dt.UTC).timestamp()
lookup_body = st.fixed_dictionaries(
    {},
    optional={
        "LookupAttributes": lookup_attributes(),
        "StartTime": mostly(
            st.floats(EPOCH_NOW - 10**7, EPOCH_NOW),
            st.sampled_from([-1, 1e20, "2024-01-01"]) | json_value,
        ),
        "EndTime": mostly(st.floats(EPOCH_NOW - 10**6, EPOCH_NOW + 10**6), json_value),
        "EventCategory": mostly(st.just("insight"), json_value),
        "MaxResults": mostly(st.integers(-5, 60), st.sampled_from([2**40, 1.5]) | json_value),
        "NextToken": text | json_value,
    },
)
cloudtrail_body = mostly(
    lookup_body.map(lambda d: json.dumps(d).encode()),
    json_value.map(lambda v: json.dumps(v).encode())
    | st.binary(max_size=80)
    | st.sampled_from([b"", b"{", b"null", b'{"MaxResults": 1e999}', b"\xff\xfe"]),
)
targets = st.sampled_from(
    [f"{CLOUDTRAIL}.LookupEvents"] * 4 + [f"{CLOUDTRAIL}.Nope", f"{CLOUDTRAIL}.", CLOUDTRAIL]
)


@FUZZ
@given(body=cloudtrail_body, target=targets)
def test_hostile_cloudtrail_requests_never_fail_the_server(
    harness: Harness, body: bytes, target: str
) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    response = signed(harness, "cloudtrail", body, headers)
    assert response.status_code < 500, response.text
    answer = json.loads(response.content)
    assert isinstance(answer, dict)
    if response.status_code >= 400:
        assert isinstance(answer.get("__type"), str) and answer["__type"], answer
    assert response.headers["x-amzn-RequestId"]


def test_a_well_formed_lookup_succeeds(harness: Harness) -> None:
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{CLOUDTRAIL}.LookupEvents",
    }
    response = signed(harness, "cloudtrail", b'{"MaxResults": 5}', headers)
    assert response.status_code == 200, response.text
    assert "Events" in json.loads(response.content)
