"""ops.sessions: temporary access key ids, the MFA check, issuing credentials and reading
them back from the session token alone."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chamberlain.crypto.ids import is_access_key_id
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.domain import ROOT, MfaDevice
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.sts.sessions import (
    NewSession,
    account_of_access_key_id,
    caller_from_token,
    decode_authorization_message,
    encode_authorization_message,
    issue_credentials,
    reserve_mfa_attempt,
    temporary_access_key_id,
    verify_mfa_code,
)
from chamberlain.policy import Decision, Outcome, PolicySource, PrincipalType
from chamberlain.store.api import UnitOfWork

from ..conftest import ACCOUNT, NOW, root_caller, user_caller
from ..sts_helpers import World, code, meta, wrong_code

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/team/r"
SESSION_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s1"


@pytest.fixture
def w(services: Services) -> World:
    return World(services)


@pytest.fixture
def uow(services: Services) -> Iterator[UnitOfWork]:
    with services.store.unit_of_work() as unit:
        yield unit


def context(services: Services, uow: UnitOfWork, caller: Caller | None = None, now=NOW):
    return OpContext(caller=caller or root_caller(), meta=meta(now), uow=uow, services=services)


# -------------------------------------------------------------------- access key ids


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_temporary_key_ids_encode_their_account(account: int) -> None:
    account_id = f"{account:012d}"
    key = temporary_access_key_id(account_id)
    assert is_access_key_id(key, temporary=True)
    assert account_of_access_key_id(key) == account_id


def test_account_decoding_follows_aws_layout() -> None:
    # The published decoding: base32 of the id after its prefix, first 6 bytes, mask
    # 0x7fffffffff80, shift right by 7.
    key = temporary_access_key_id("123456789012")
    raw = base64.b32decode(key[4:])
    z = int.from_bytes(raw[:6], "big")
    assert (z & 0x7FFFFFFFFF80) >> 7 == 123456789012
    assert account_of_access_key_id("not a key") is None
    # Fresh ids differ (80 - 40 bits of randomness).
    assert len({temporary_access_key_id(ACCOUNT) for _ in range(50)}) == 50


# ----------------------------------------------------------------------------- MFA


def counted(services: Services, serial: str, owner: str, now: dt.datetime = NOW) -> object:
    """The attempt a preparer counts before a code is checked."""
    with services.store.unit_of_work(read_only=True) as uow:
        return reserve_mfa_attempt(context(services, uow, now=now), serial, owner)


def test_verify_mfa_code(w: World, services: Services) -> None:
    w.user("alice")
    serial, seed = w.mfa("alice")
    with services.store.unit_of_work() as uow:
        ctx = context(services, uow)
        assert not verify_mfa_code(ctx, serial, code(seed), "alice")  # no attempt counted
        ctx.prepared = counted(services, serial, "alice")
        assert not verify_mfa_code(ctx, serial, wrong_code(seed), "alice")
        assert not verify_mfa_code(ctx, serial, code(seed), "bob")  # not her device's owner
        assert not verify_mfa_code(ctx, serial + "x", code(seed), "alice")
        assert not verify_mfa_code(ctx, serial, "12345", "alice")
        assert verify_mfa_code(ctx, serial, code(seed), "ALICE")  # names are case-insensitive
        assert not verify_mfa_code(ctx, serial, code(seed), "alice")  # used once
    with services.store.unit_of_work(read_only=True) as uow:
        device = uow.repo(MfaDevice).get(ACCOUNT, serial)
    assert device is not None and device.last_step is not None
    # The next step's code is still good.
    later = NOW + dt.timedelta(seconds=30)
    with services.store.unit_of_work() as uow:
        ctx = context(services, uow, now=later)
        ctx.prepared = counted(services, serial, "alice", later)
        assert verify_mfa_code(ctx, serial, code(seed, later), "alice")


def test_verify_mfa_code_needs_an_enabled_device_of_the_callers_account(
    w: World, services: Services
) -> None:
    serial, seed = w.mfa(ROOT, name="root")
    with services.store.unit_of_work() as uow:
        device = uow.repo(MfaDevice).get(ACCOUNT, serial)
        assert device is not None
        uow.repo(MfaDevice).put(replace(device, enabled=None, user_name=None))
    with services.store.unit_of_work() as uow:
        assert not verify_mfa_code(context(services, uow), serial, code(seed), ROOT)
    w.add_account("222222222222")
    other_serial, other_seed = w.mfa(ROOT, account="222222222222", name="root")
    with services.store.unit_of_work() as uow:
        ctx = context(services, uow)  # an ACCOUNT caller
        assert not verify_mfa_code(ctx, other_serial, code(other_seed), ROOT)


def test_verify_mfa_code_with_a_seed_sealed_for_another_serial(
    w: World, services: Services
) -> None:
    serial, seed = w.mfa("alice")
    with services.store.unit_of_work() as uow:
        device = uow.repo(MfaDevice).get(ACCOUNT, serial)
        assert device is not None
        moved = replace(device, serial_number=serial + "2")  # the blob is bound to `serial`
        uow.repo(MfaDevice).add(moved)
    with services.store.unit_of_work() as uow:
        assert not verify_mfa_code(context(services, uow), serial + "2", code(seed), "alice")


# ------------------------------------------------------------------ issue and verify


#: The least a session can be: an assumed role for fifteen minutes.
FIFTEEN_MINUTES = NewSession(
    account_id=ACCOUNT,
    arn=SESSION_ARN,
    principal_id="p",
    principal_type=PrincipalType.ASSUMED_ROLE,
    issuer_arn=ROLE_ARN,
    issuer_id="i",
    duration_s=900,
)


def issue(services: Services, uow: UnitOfWork, **overrides) -> dict:
    fields = {
        "account_id": ACCOUNT,
        "arn": SESSION_ARN,
        "principal_id": "AROAEXAMPLEEXAMPLE012:s1",
        "principal_type": PrincipalType.ASSUMED_ROLE,
        "issuer_arn": ROLE_ARN,
        "issuer_id": "AROAEXAMPLEEXAMPLE012",
        "duration_s": 3600,
    }
    fields.update(overrides)
    return issue_credentials(context(services, uow), NewSession(**fields))


def test_a_token_carries_the_whole_session(services: Services, uow: UnitOfWork) -> None:
    mfa_at = NOW - dt.timedelta(minutes=3)
    creds = issue(
        services,
        uow,
        mfa_authenticated=True,
        mfa_authenticated_at=mfa_at,
        session_name="s1",
        tags=(("team", "blue"), ("cost", "42")),
        transitive_tag_keys=("team",),
        source_identity="alice",
        session_policy='{"Version":"2012-10-17"}',
        session_policy_arns=("arn:aws:iam::aws:policy/ReadOnlyAccess",),
        federated_provider="accounts.example.com",
        chained=True,
    )
    assert set(creds) == {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert creds["Expiration"] == NOW + dt.timedelta(hours=1)
    assert account_of_access_key_id(creds["AccessKeyId"]) == ACCOUNT
    assert creds["SecretAccessKey"] not in creds["SessionToken"]
    caller, secret = caller_from_token(services, creds["AccessKeyId"], creds["SessionToken"], NOW)
    assert secret == creds["SecretAccessKey"]
    assert caller == Caller(
        account_id=ACCOUNT,
        arn=SESSION_ARN,
        principal_id="AROAEXAMPLEEXAMPLE012:s1",
        type=PrincipalType.ASSUMED_ROLE,
        user_name=None,
        access_key_id=creds["AccessKeyId"],
        session=caller.session,
    )
    session = caller.session
    assert session is not None
    assert (session.issuer_arn, session.issuer_id) == (ROLE_ARN, "AROAEXAMPLEEXAMPLE012")
    assert (session.issued, session.expires) == (NOW, NOW + dt.timedelta(hours=1))
    assert (session.mfa_authenticated, session.mfa_authenticated_at) == (True, mfa_at)
    assert session.session_name == "s1"
    assert session.tags == (("team", "blue"), ("cost", "42"))
    assert session.transitive_tag_keys == ("team",)
    assert session.source_identity == "alice"
    assert session.session_policy == '{"Version":"2012-10-17"}'
    assert session.session_policy_arns == ("arn:aws:iam::aws:policy/ReadOnlyAccess",)
    assert session.federated_provider == "accounts.example.com"
    assert session.chained is True


def test_an_empty_session_reads_back_with_defaults(services: Services, uow: UnitOfWork) -> None:
    creds = issue(
        services,
        uow,
        arn=f"arn:aws:iam::{ACCOUNT}:user/alice",
        principal_id="AIDAEXAMPLEEXAMPLE01",
        principal_type=PrincipalType.USER,
        user_name="alice",
    )
    caller, _ = caller_from_token(services, creds["AccessKeyId"], creds["SessionToken"], NOW)
    assert caller.user_name == "alice"
    session = caller.session
    assert session is not None
    assert session.mfa_authenticated is False and session.mfa_authenticated_at is None
    assert (session.tags, session.transitive_tag_keys, session.session_policy_arns) == ((), (), ())
    assert session.session_policy is None and session.source_identity is None
    assert session.chained is False


def test_extra_context_is_sealed_and_restored(services: Services, uow: UnitOfWork) -> None:
    moment = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    extra = {
        "saml:sub": "alice@example.com",
        "example.com/oidc:aud": ["client-a", "client-b"],
        "x:flag": True,
        "x:count": 3,
        "x:when": moment,
    }
    creds = issue(services, uow, extra_context=extra)
    assert "alice@example.com" not in creds["SessionToken"]  # sealed, not merely encoded
    caller, _ = caller_from_token(services, creds["AccessKeyId"], creds["SessionToken"], NOW)
    assert caller.session is not None
    assert caller.session.extra_context == {
        "saml:sub": "alice@example.com",
        "example.com/oidc:aud": ["client-a", "client-b"],
        "x:flag": True,
        "x:count": 3,
        "x:when": "2024-05-01T12:30:00Z",
    }
    # A session issued without it reads back with none.
    plain = issue(services, uow)
    caller, _ = caller_from_token(services, plain["AccessKeyId"], plain["SessionToken"], NOW)
    assert caller.session is not None and caller.session.extra_context == {}


def test_extra_context_values_must_be_condition_values(services: Services, uow: UnitOfWork) -> None:
    with pytest.raises(TypeError):
        issue(services, uow, extra_context={"x:bad": {"nested": "mapping"}})
    with pytest.raises(TypeError):
        issue(services, uow, extra_context={"x:bad": [None]})


def test_a_token_with_a_malformed_context_claim_is_invalid(services: Services) -> None:
    """A context claim that is not condition keys (a token sealed by a future or buggy
    version) is refused as an invalid token, not a server error."""
    sealer = services.tokens
    assert sealer is not None
    with services.store.unit_of_work() as uow:
        creds = issue(services, uow)
    claims = sealer.open(creds["SessionToken"])
    for bad in ({"k": {"nested": 1}}, ["not", "a", "mapping"], {"k": [["nested"]]}):
        token = sealer.seal({**claims, "ctx": bad})
        with pytest.raises(ServiceError) as info:
            caller_from_token(services, creds["AccessKeyId"], token, NOW)
        assert info.value.code == "InvalidClientTokenId"


def test_issued_time_is_whole_seconds(services: Services) -> None:
    with services.store.unit_of_work() as uow:
        ctx = context(services, uow, now=NOW + dt.timedelta(microseconds=700_000))
        creds = issue_credentials(ctx, FIFTEEN_MINUTES)
    assert creds["Expiration"] == NOW + dt.timedelta(seconds=900)
    caller, _ = caller_from_token(services, creds["AccessKeyId"], creds["SessionToken"], NOW)
    assert caller.session is not None and caller.session.issued == NOW


def test_expiry(services: Services, uow: UnitOfWork) -> None:
    creds = issue(services, uow, duration_s=900)
    key, token = creds["AccessKeyId"], creds["SessionToken"]
    caller_from_token(services, key, token, NOW + dt.timedelta(seconds=899))
    for when in (NOW + dt.timedelta(seconds=900), NOW + dt.timedelta(days=3)):
        with pytest.raises(ServiceError) as info:
            caller_from_token(services, key, token, when)
        assert info.value.code == "ExpiredToken"
        assert info.value.http_status == 403  # AWS answers an expired session token with 403


def test_tokens_open_on_any_node_with_the_key_and_on_no_other(
    services: Services, uow: UnitOfWork
) -> None:
    creds = issue(services, uow)
    key, token = creds["AccessKeyId"], creds["SessionToken"]
    # Another node: the same token key, no shared cache (and no database read needed).
    other_node = replace(services, cache={}, store=None)  # type: ignore[arg-type]
    assert caller_from_token(other_node, key, token, NOW)[0].arn == SESSION_ARN
    stranger = replace(services, tokens=TokenSealer(b"\x01" * 32))
    no_sealer = replace(services, tokens=None)
    for svc in (stranger, no_sealer):
        with pytest.raises(ServiceError) as info:
            caller_from_token(svc, key, token, NOW)
        assert info.value.code == "InvalidClientTokenId"


@pytest.mark.parametrize("position", [0, 5, 20, -3])
def test_any_altered_character_is_refused(
    services: Services, uow: UnitOfWork, position: int
) -> None:
    creds = issue(services, uow)
    token = creds["SessionToken"]
    chars = list(token)
    chars[position] = "A" if chars[position] != "A" else "B"
    with pytest.raises(ServiceError) as info:
        caller_from_token(services, creds["AccessKeyId"], "".join(chars), NOW)
    assert (info.value.code, info.value.message) == (
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
    )


def test_a_sealed_blob_of_another_kind_is_not_a_session_token(services: Services) -> None:
    assert services.tokens is not None
    key = temporary_access_key_id(ACCOUNT)
    for claims in (
        {"akid": key, "exp": 2**40},  # no typ
        {"typ": "sts-authz-message", "akid": key, "exp": 2**40},
        {"typ": "sts-session", "akid": key, "exp": 2**40},  # claims missing
    ):
        with pytest.raises(ServiceError) as info:
            caller_from_token(services, key, services.tokens.seal(claims), NOW)
        assert info.value.code == "InvalidClientTokenId"


def test_get_session_token_sessions_need_mfa_for_iam(services: Services, uow: UnitOfWork) -> None:
    alice = user_caller("alice")
    fields = {
        "arn": alice.arn,
        "principal_id": alice.principal_id,
        "principal_type": PrincipalType.USER,
        "user_name": "alice",
        "issuer_arn": alice.arn,
        "issuer_id": alice.principal_id,
    }
    plain = issue(services, uow, **fields)
    mfa = issue(services, uow, mfa_authenticated=True, mfa_authenticated_at=NOW, **fields)
    role = issue(services, uow)
    with pytest.raises(ServiceError) as info:
        caller_from_token(services, plain["AccessKeyId"], plain["SessionToken"], NOW, service="iam")
    assert info.value.code == "InvalidClientTokenId"
    for creds in (mfa, role):
        caller_from_token(services, creds["AccessKeyId"], creds["SessionToken"], NOW, service="iam")


def test_issuing_needs_a_token_sealer(services: Services) -> None:
    with services.store.unit_of_work() as uow:
        ctx = context(replace(services, tokens=None), uow)
        with pytest.raises(ServiceError) as info:
            issue_credentials(ctx, FIFTEEN_MINUTES)
    assert info.value.code == "ServiceFailure"


# ------------------------------------------------------ encoded authorization messages


def test_authorization_messages_round_trip_within_the_account(
    services: Services, uow: UnitOfWork
) -> None:
    decision = Decision(Outcome.IMPLICIT_DENY, (), PolicySource.IDENTITY)
    ctx = context(services, uow, user_caller("alice"))
    encoded = encode_authorization_message(
        ctx,
        action="iam:CreateUser",
        resource=f"arn:aws:iam::{ACCOUNT}:user/x",
        decision=decision,
        context={"aws:TagKeys": ["a", "b"], "aws:CurrentTime": NOW, "aws:EpochTime": 5},
    )
    message = decode_authorization_message(services, ACCOUNT, encoded)
    assert message["allowed"] is False and message["explicitDeny"] is False
    assert message["context"]["principal"]["name"] == "alice"
    assert message["context"]["conditions"]["items"] == [
        {"key": "aws:CurrentTime", "values": {"items": [{"value": "2026-11-28T12:00:00Z"}]}},
        {"key": "aws:EpochTime", "values": {"items": [{"value": "5"}]}},
        {"key": "aws:TagKeys", "values": {"items": [{"value": "a"}, {"value": "b"}]}},
    ]
    assert decode_authorization_message(services, "222222222222", encoded) is None
    assert decode_authorization_message(services, ACCOUNT, encoded[:-2]) is None
    assert decode_authorization_message(replace(services, tokens=None), ACCOUNT, encoded) is None
