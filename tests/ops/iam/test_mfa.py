"""Virtual MFA devices: create (seed shown once, encrypted at rest, QR code), enable with
real TOTP codes, resync, deactivate, delete, list, tags, authorization, and the code check
STS and the console use (drift, replay)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from chamberlain.crypto import totp
from chamberlain.domain import ROOT, InlinePolicy, MfaDevice
from chamberlain.ops.core import throttle
from chamberlain.ops.core.context import Caller, OpContext, Services
from chamberlain.ops.core.dispatch import execute
from chamberlain.ops.core.errors import ServiceError
from chamberlain.ops.iam import mfa as iam_mfa
from chamberlain.ops.iam.mfa import qr_png
from chamberlain.ops.sts.sessions import reserve_mfa_attempt, verify_mfa_code
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, meta, root_caller, user_caller

Call = Callable[..., Any]
S = totp.step_at(NOW)  # the fixture clock's TOTP step
MFA = f"arn:aws:iam::{ACCOUNT}:mfa/"
OTHER_SEED = totp.new_seed()


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input, as root unless `caller` says otherwise,
    and check the output serializes with the model."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call


def error(call: Call, *args: Any, **params: Any) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        call(*args, **params)
    return info.value


def create(aws: Call, name: str, **params: Any) -> tuple[str, str]:
    """Create a device; its serial number and seed (as the caller receives it)."""
    device = aws("CreateVirtualMFADevice", VirtualMFADeviceName=name, **params)["VirtualMFADevice"]
    return device["SerialNumber"], device["Base32StringSeed"].decode("ascii")


def codes(seed: str, first: int) -> dict[str, str]:
    return {
        "AuthenticationCode1": totp.code_at(seed, first),
        "AuthenticationCode2": totp.code_at(seed, first + 1),
    }


def enable(aws: Call, user: str, name: str, first: int = S - 1) -> tuple[str, str]:
    serial, seed = create(aws, name)
    aws("EnableMFADevice", UserName=user, SerialNumber=serial, **codes(seed, first))
    return serial, seed


def stored(services: Services, serial: str) -> MfaDevice | None:
    with services.store.unit_of_work(read_only=True) as uow:
        return uow.repo(MfaDevice).get(ACCOUNT, serial)


@contextmanager
def op_context(services: Services, now: dt.datetime = NOW) -> Iterator[OpContext]:
    with services.store.unit_of_work() as uow:
        yield OpContext(caller=root_caller(), meta=meta(now), uow=uow, services=services)


def check(services: Services, serial: str, code: str, user: str, now: dt.datetime = NOW) -> bool:
    """A code checked as GetSessionToken checks it: the attempt counted first (with no
    lock held), then the code checked in the operation's unit of work."""
    with services.store.unit_of_work(read_only=True) as uow:
        reading = OpContext(caller=root_caller(), meta=meta(now), uow=uow, services=services)
        attempt = reserve_mfa_attempt(reading, serial, user)
    with op_context(services, now) as ctx:
        ctx.prepared = attempt
        return verify_mfa_code(ctx, serial, code, user)


def put_policy(services: Services, user: str, statements: list[dict[str, Any]]) -> None:
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    with services.store.unit_of_work() as uow:
        uow.repo(InlinePolicy).put(InlinePolicy(ACCOUNT, "user", user, "p", document))


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    """The chunks of a PNG file, checking each CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = {}, 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert zlib.crc32(kind + body) == crc
        chunks[kind] = chunks.get(kind, b"") + body
        at += 12 + length
    return chunks


# -------------------------------------------------------------------------- create


def test_create_shows_the_seed_once_and_stores_it_encrypted(aws: Call, services: Services):
    out = aws("CreateVirtualMFADevice", VirtualMFADeviceName="alice-phone", Path="/team/")
    device = out["VirtualMFADevice"]
    assert device["SerialNumber"] == f"{MFA}team/alice-phone"
    assert set(device) == {"SerialNumber", "Base32StringSeed", "QRCodePNG"}
    seed = device["Base32StringSeed"]
    assert isinstance(seed, bytes)
    assert len(base64.b32decode(seed + b"=" * (-len(seed) % 8))) == totp.SEED_BYTES
    entity = stored(services, device["SerialNumber"])
    assert entity is not None
    assert entity.user_name is None and entity.enabled is None and entity.last_step is None
    assert seed not in entity.seed_encrypted and seed.lower() not in entity.seed_encrypted
    assert seed.decode() not in repr(entity)
    box = services.secrets
    assert box.decrypt(entity.seed_encrypted, aad=device["SerialNumber"].encode()) == seed
    # Nothing else ever returns the seed.
    listed = aws("ListVirtualMFADevices")
    assert seed.decode() not in repr(listed)
    assert listed["VirtualMFADevices"] == [{"SerialNumber": device["SerialNumber"]}]


def test_qr_code_is_a_png_of_aws_otpauth_uri(aws: Call):
    out = aws("CreateVirtualMFADevice", VirtualMFADeviceName="carol")["VirtualMFADevice"]
    seed = out["Base32StringSeed"].decode()
    # The image is the QR code of the URI AWS encodes (label "Amazon Web Services:
    # DEVICE@ACCOUNT", issuer "Amazon Web Services").
    uri = (
        f"otpauth://totp/Amazon%20Web%20Services%3Acarol@{ACCOUNT}"
        f"?secret={seed}&issuer=Amazon%20Web%20Services"
    )
    assert out["QRCodePNG"] == qr_png(uri)
    chunks = png_chunks(out["QRCodePNG"])
    width, height = struct.unpack(">II", chunks[b"IHDR"][:8])
    assert width == height and width >= 100
    assert zlib.decompress(chunks[b"IDAT"])  # the image data inflates
    other = aws("CreateVirtualMFADevice", VirtualMFADeviceName="dave")["VirtualMFADevice"]
    assert other["Base32StringSeed"] != out["Base32StringSeed"]
    assert other["QRCodePNG"] != out["QRCodePNG"]


def test_qr_label_uses_the_account_alias(aws: Call):
    aws("CreateAccountAlias", AccountAlias="acme-prod")
    out = aws("CreateVirtualMFADevice", VirtualMFADeviceName="a@b")["VirtualMFADevice"]
    seed = out["Base32StringSeed"].decode()
    uri = (
        "otpauth://totp/Amazon%20Web%20Services%3Aa%40b@acme-prod"
        f"?secret={seed}&issuer=Amazon%20Web%20Services"
    )
    assert out["QRCodePNG"] == qr_png(uri)


def test_create_with_tags(aws: Call):
    tags = [{"Key": "team", "Value": "sec"}]
    out = aws("CreateVirtualMFADevice", VirtualMFADeviceName="d", Tags=tags)
    assert out["VirtualMFADevice"]["Tags"] == tags
    serial = out["VirtualMFADevice"]["SerialNumber"]
    assert aws("ListMFADeviceTags", SerialNumber=serial)["Tags"] == tags


def test_names_are_unique_in_the_account(aws: Call, services: Services):
    create(aws, "phone")
    for name, path in (("phone", "/"), ("PHONE", "/"), ("phone", "/other/")):
        err = error(aws, "CreateVirtualMFADevice", VirtualMFADeviceName=name, Path=path)
        assert (err.code, err.http_status) == ("EntityAlreadyExists", 409)
        assert err.message == "MFADevice entity at the same path and name already exists."
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.repo(MfaDevice).count(ACCOUNT) == 1


def test_account_quota(aws: Call, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(iam_mfa, "VIRTUAL_MFA_DEVICES_PER_ACCOUNT", 2)
    create(aws, "one")
    create(aws, "two")
    err = error(aws, "CreateVirtualMFADevice", VirtualMFADeviceName="three")
    assert (err.code, err.message) == ("LimitExceeded", "Cannot exceed quota for MFADevices: 2")


def test_invalid_tags_create_nothing(aws: Call, services: Services):
    err = error(
        aws,
        "CreateVirtualMFADevice",
        VirtualMFADeviceName="d",
        Tags=[{"Key": "aws:x", "Value": ""}],
    )
    assert err.code == "InvalidInput"
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.repo(MfaDevice).count(ACCOUNT) == 0


# ----------------------------------------------------------------------- lifecycle


def test_full_lifecycle(aws: Call, services: Services):
    aws("CreateUser", UserName="alice", Path="/staff/")
    serial, seed = create(aws, "alice")
    aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S - 1))

    entity = stored(services, serial)
    assert entity is not None
    assert (entity.user_name, entity.enabled, entity.last_step) == ("alice", NOW, S)
    assert entity.ref == "alice"
    listed = aws("ListMFADevices", UserName="alice")
    assert listed == {
        "MFADevices": [{"UserName": "alice", "SerialNumber": serial, "EnableDate": NOW}],
        "IsTruncated": False,
    }
    got = aws("GetMFADevice", SerialNumber=serial, UserName="alice")
    assert got == {"UserName": "alice", "SerialNumber": serial, "EnableDate": NOW}
    [virtual] = aws("ListVirtualMFADevices", AssignmentStatus="Assigned")["VirtualMFADevices"]
    assert virtual["SerialNumber"] == serial and virtual["EnableDate"] == NOW
    user = aws("GetUser", UserName="alice")["User"]
    assert virtual["User"] == {k: user[k] for k in ("Path", "UserName", "UserId", "Arn")} | {
        "CreateDate": user["CreateDate"]
    }

    # Assigned: neither the device nor its user can be deleted.
    err = error(aws, "DeleteVirtualMFADevice", SerialNumber=serial)
    assert (err.code, err.http_status) == ("DeleteConflict", 409)
    assert err.message == "MFA VirtualDevice in use. Must deactivate first."
    err = error(aws, "DeleteUser", UserName="alice")
    assert (err.code, err.message) == (
        "DeleteConflict",
        "Cannot delete entity, must delete MFA device first.",
    )

    aws("DeactivateMFADevice", UserName="alice", SerialNumber=serial)
    assert aws("ListMFADevices", UserName="alice")["MFADevices"] == []
    unassigned = aws("ListVirtualMFADevices", AssignmentStatus="Unassigned")
    assert unassigned["VirtualMFADevices"] == [{"SerialNumber": serial}]
    entity = stored(services, serial)
    assert entity is not None and entity.user_name is None and entity.last_step == S

    aws("DeleteVirtualMFADevice", SerialNumber=serial)
    assert stored(services, serial) is None
    aws("DeleteUser", UserName="alice")


def test_reenabling_refuses_codes_used_before(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    aws("DeactivateMFADevice", UserName="alice", SerialNumber=serial)
    err = error(aws, "EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S - 1))
    assert err.code == "InvalidAuthenticationCode"
    aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S + 1))
    assert aws("ListMFADevices", UserName="alice")["MFADevices"][0]["SerialNumber"] == serial


# ------------------------------------------------------------------- enable errors


def wrong(code: str) -> str:
    """A six-digit code that is not `code`."""
    return f"{(int(code) + 1) % 10**6:06d}"


@pytest.mark.parametrize(
    "pair",
    [
        pytest.param(
            lambda seed: (wrong(totp.code_at(seed, S - 1)), totp.code_at(seed, S)),
            id="wrong-first",
        ),
        pytest.param(
            lambda seed: (totp.code_at(seed, S - 1), wrong(totp.code_at(seed, S))),
            id="wrong-second",
        ),
        pytest.param(
            lambda seed: (totp.code_at(seed, S), totp.code_at(seed, S - 1)), id="reversed"
        ),
        pytest.param(lambda seed: (totp.code_at(seed, S - 1), totp.code_at(seed, S + 1)), id="gap"),
        pytest.param(
            lambda seed: (totp.code_at(seed, S - 1), totp.code_at(seed, S - 1)), id="same"
        ),
        pytest.param(
            lambda seed: (totp.code_at(seed, S + 40), totp.code_at(seed, S + 41)), id="far"
        ),
        pytest.param(
            lambda seed: (totp.code_at(OTHER_SEED, S - 1), totp.code_at(OTHER_SEED, S)),
            id="other-seed",
        ),
    ],
)
def test_wrong_codes_are_refused(aws: Call, services: Services, pair: Callable[[str], Any]):
    aws("CreateUser", UserName="alice")
    serial, seed = create(aws, "d")
    code1, code2 = pair(seed)
    err = error(
        aws,
        "EnableMFADevice",
        UserName="alice",
        SerialNumber=serial,
        AuthenticationCode1=code1,
        AuthenticationCode2=code2,
    )
    assert (err.code, err.http_status) == ("InvalidAuthenticationCode", 403)
    assert err.message == "Authentication code for device is not valid."
    entity = stored(services, serial)
    assert entity is not None and entity.user_name is None and entity.last_step is None


def test_enable_within_the_window_records_the_step_of_the_second_code(
    aws: Call, services: Services
):
    aws("CreateUser", UserName="alice")
    serial, seed = create(aws, "d")
    aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S - 12))
    entity = stored(services, serial)
    assert entity is not None and entity.last_step == S - 11


def test_enable_errors(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    serial, seed = create(aws, "d")
    ok = codes(seed, S - 1)
    err = error(aws, "EnableMFADevice", UserName="ghost", SerialNumber=serial, **ok)
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name ghost cannot be found.")
    missing = f"{MFA}nope"
    err = error(aws, "EnableMFADevice", UserName="alice", SerialNumber=missing, **ok)
    assert (err.code, err.http_status) == ("NoSuchEntity", 404)
    assert err.message == f"VirtualMFADevice with serial number {missing} doesn't exist."

    aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **ok)
    for user in ("alice", "bob"):
        err = error(
            aws, "EnableMFADevice", UserName=user, SerialNumber=serial, **codes(seed, S + 1)
        )
        assert (err.code, err.message) == ("EntityAlreadyExists", "MFA Device is already in use.")


def test_eight_devices_per_user(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    for i in range(iam_mfa.MFA_DEVICES_PER_USER):
        enable(aws, "alice", f"d{i}")
    serial, seed = create(aws, "one-too-many")
    err = error(aws, "EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S))
    assert (err.code, err.http_status) == ("LimitExceeded", 409)
    assert err.message == "Cannot exceed quota for MFADevicesPerUser: 8"
    assert len(aws("ListMFADevices", UserName="alice")["MFADevices"]) == 8


# ---------------------------------------------------------------- resync, deactivate


def test_resync(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    # The codes that enabled the device cannot be replayed.
    err = error(aws, "ResyncMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S - 1))
    assert (err.code, err.message) == (
        "InvalidAuthenticationCode",
        "Authentication code for device is not valid.",
    )
    aws("ResyncMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S + 3))
    entity = stored(services, serial)
    assert entity is not None and entity.last_step == S + 4 and entity.enabled == NOW


def test_resync_and_deactivate_need_the_device_assigned_to_the_user(aws: Call):
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    serial, seed = enable(aws, "alice", "d")
    spare, _ = create(aws, "spare")
    for name, extra in (
        ("ResyncMFADevice", codes(seed, S + 1)),
        ("DeactivateMFADevice", {}),
        ("GetMFADevice", {}),
    ):
        for user, device in (("bob", serial), ("alice", spare)):
            err = error(aws, name, UserName=user, SerialNumber=device, **extra)
            assert (err.code, err.message) == ("NoSuchEntity", "MFA Device invalid for user.")
        err = error(aws, name, UserName="alice", SerialNumber=f"{MFA}gone", **extra)
        assert err.message == f"VirtualMFADevice with serial number {MFA}gone doesn't exist."
        err = error(aws, name, UserName="ghost", SerialNumber=serial, **extra)
        assert err.message == "The user with name ghost cannot be found."
    assert aws("ListMFADevices", UserName="alice")["MFADevices"][0]["SerialNumber"] == serial


def test_delete_missing_device(aws: Call):
    err = error(aws, "DeleteVirtualMFADevice", SerialNumber=f"{MFA}gone")
    assert (err.code, err.message) == (
        "NoSuchEntity",
        f"VirtualMFADevice with serial number {MFA}gone doesn't exist.",
    )


# ------------------------------------------------------------------ the code check


def test_codes_work_once_with_one_step_of_drift(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d", first=S - 3)  # last accepted step: S - 2
    assert not check(services, serial, totp.code_at(seed, S - 2), "alice")  # used at enable
    assert check(services, serial, totp.code_at(seed, S - 1), "alice")  # one step behind
    assert not check(services, serial, totp.code_at(seed, S - 1), "alice")  # replay
    assert check(services, serial, totp.code_at(seed, S + 1), "alice")  # one step ahead
    assert not check(services, serial, totp.code_at(seed, S), "alice")  # older than last
    assert not check(services, serial, totp.code_at(seed, S + 2), "alice")  # beyond drift
    entity = stored(services, serial)
    assert entity is not None and entity.last_step == S + 1
    later = NOW + dt.timedelta(seconds=90)  # three steps on
    assert check(services, serial, totp.code_at(seed, S + 3), "alice", now=later)


def test_code_check_refuses_other_users_unassigned_devices_and_junk(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    serial, seed = enable(aws, "alice", "d")
    spare, spare_seed = create(aws, "spare")
    code = totp.code_at(seed, S + 1)
    assert not check(services, serial, code, "bob")
    assert not check(services, serial, code, ROOT)
    assert not check(services, spare, totp.code_at(spare_seed, S), "alice")
    assert not check(services, f"{MFA}gone", code, "alice")
    for junk in ("", "12345", "1234567", "abcdef", code + " "):
        assert not check(services, serial, junk, "alice")
    with services.store.unit_of_work() as uow:  # five wrong codes: the limit (tested below)
        throttle.clear(uow, throttle.MFA_DEVICE, throttle.mfa_key(ACCOUNT, serial))
    assert check(services, serial, code, "ALICE")  # user names are case-insensitive
    entity = stored(services, serial)
    assert entity is not None and entity.last_step == S + 1


def test_wrong_codes_past_the_limit_refuse_every_code_for_a_while(aws: Call, services: Services):
    """Guessing is bounded: the fifth attempt locks the device for a minute, each further
    one for twice as long; while locked even the right code is refused (unchecked); a
    right code clears the count."""
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    near = {totp.code_at(seed, S + k) for k in range(-1, 12)}
    wrong = next(c for c in ("000000", "000001", "000002", "000003", "000004") if c not in near)

    def right(at: dt.datetime) -> str:
        return totp.code_at(seed, totp.step_at(at))

    for _ in range(4):
        assert not check(services, serial, wrong, "alice")
    assert check(services, serial, totp.code_at(seed, S + 1), "alice")  # clears the count
    for _ in range(5):
        assert not check(services, serial, wrong, "alice")
    soon = NOW + dt.timedelta(seconds=30)
    assert not check(services, serial, right(soon), "alice", now=soon)  # locked: 1 minute
    after = NOW + dt.timedelta(seconds=90)
    assert not check(services, serial, wrong, "alice", now=after)  # the 6th: 2 minutes
    locked = after + dt.timedelta(seconds=100)
    assert not check(services, serial, right(locked), "alice", now=locked)
    later = after + dt.timedelta(seconds=121)
    assert check(services, serial, right(later), "alice", now=later)


def test_resync_is_counted_with_the_other_paths_and_refused_while_locked(
    aws: Call, services: Services
):
    """ResyncMFADevice's pairs count against the device like every code check; while the
    device is locked a right pair gets LimitExceeded (IAM lists it for ResyncMFADevice,
    https://docs.aws.amazon.com/IAM/latest/APIReference/API_ResyncMFADevice.html), is
    not checked, and clears nothing; STS refuses a right code too."""
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    near = {totp.code_at(seed, S + k) for k in range(-2, 12)}
    pairs = [(a, b) for a, b in (("000000", "000001"), ("111111", "111112"), ("222222", "222223"))]
    wrong = next(p for p in pairs if not set(p) & near)
    bad = {"AuthenticationCode1": wrong[0], "AuthenticationCode2": wrong[1]}
    assert not check(services, serial, wrong[0], "alice")  # one wrong code by STS
    for _ in range(4):
        with pytest.raises(ServiceError) as excinfo:
            aws("ResyncMFADevice", UserName="alice", SerialNumber=serial, **bad)
        assert excinfo.value.code == "InvalidAuthenticationCode"
    before = stored(services, serial)
    with pytest.raises(ServiceError) as excinfo:
        aws("ResyncMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S + 1))
    assert (excinfo.value.code, excinfo.value.message) == (
        "LimitExceeded",
        "Attempt limit exceeded, please try after some time.",
    )
    assert stored(services, serial) == before  # not checked, nothing learned or cleared
    assert not check(services, serial, totp.code_at(seed, S + 1), "alice")
    later = NOW + dt.timedelta(minutes=1)  # the first lock is over
    step = totp.step_at(later)
    params = {"UserName": "alice", "SerialNumber": serial, **codes(seed, step)}
    execute(services, root_caller(), meta(later), "iam", "ResyncMFADevice", params)
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.counters.get("mfa-device", throttle.mfa_key(ACCOUNT, serial)) is None


def test_enable_is_counted_too(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    serial, seed = create(aws, "d")
    bad = {"AuthenticationCode1": "000000", "AuthenticationCode2": "000000"}
    for _ in range(5):
        with pytest.raises(ServiceError) as excinfo:
            aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **bad)
        assert excinfo.value.code == "InvalidAuthenticationCode"
    with pytest.raises(ServiceError) as excinfo:
        aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S))
    assert excinfo.value.code == "LimitExceeded"


def test_a_device_made_again_under_a_deleted_ones_name_starts_with_no_count(
    aws: Call, services: Services
):
    aws("CreateUser", UserName="alice")
    serial, _ = enable(aws, "alice", "d")
    for _ in range(5):
        assert not check(services, serial, "000000", "alice")
    aws("DeactivateMFADevice", UserName="alice", SerialNumber=serial)
    aws("DeleteVirtualMFADevice", SerialNumber=serial)
    again, seed = enable(aws, "alice", "d")
    assert again == serial
    assert check(services, serial, totp.code_at(seed, S + 1), "alice")


def test_renamed_user_keeps_the_device(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    aws("UpdateUser", UserName="alice", NewUserName="alicia")
    devices = aws("ListMFADevices", UserName="alicia")["MFADevices"]
    assert [(d["UserName"], d["SerialNumber"]) for d in devices] == [("alicia", serial)]
    assert check(services, serial, totp.code_at(seed, S + 1), "alicia")


# ---------------------------------------------------------------------- root user


def test_root_user_enables_a_device_for_itself(iam: Call, aws: Call, services: Services):
    serial, seed = create(aws, "root-account-mfa-device")
    # EnableMFADevice without UserName (the console's call for the root user).
    iam("EnableMFADevice", SerialNumber=serial, **codes(seed, S - 1))
    entity = stored(services, serial)
    assert entity is not None and entity.user_name == ROOT and entity.ref == ROOT
    listed = aws("ListMFADevices")["MFADevices"]
    assert listed == [{"SerialNumber": serial, "EnableDate": NOW}]
    [virtual] = aws("ListVirtualMFADevices")["VirtualMFADevices"]
    assert virtual["User"] == {
        "UserId": ACCOUNT,
        "Arn": f"arn:aws:iam::{ACCOUNT}:root",
        "CreateDate": NOW,
    }
    assert aws("GetAccountSummary")["SummaryMap"]["AccountMFAEnabled"] == 1
    assert check(services, serial, totp.code_at(seed, S + 1), ROOT)
    assert not check(services, serial, totp.code_at(seed, S + 1), ROOT)
    iam("DeactivateMFADevice", SerialNumber=serial)
    assert aws("ListMFADevices")["MFADevices"] == []


def test_root_user_with_mfa_is_reported_locked_down(iam: Call, aws: Call) -> None:
    """IAM API Reference, GetAccountSummary: AccountMFAEnabled is 1 when the root user
    has an MFA device; "Getting credential reports for your AWS account": the root row's
    mfa_active says whether the root user has one (https://docs.aws.amazon.com/IAM/
    latest/UserGuide/id_credentials_getting-report.html)."""
    serial, seed = create(aws, "root-account-mfa-device")
    iam("EnableMFADevice", SerialNumber=serial, **codes(seed, S - 1))
    assert aws("GetAccountSummary")["SummaryMap"]["AccountMFAEnabled"] == 1
    aws("GenerateCredentialReport")
    content = aws("GetCredentialReport")["Content"]
    text = content.decode() if isinstance(content, bytes) else base64.b64decode(content).decode()
    header, root_row = text.splitlines()[:2]
    row = dict(zip(header.split(","), root_row.split(","), strict=True))
    assert (row["user"], row["mfa_active"]) == ("<root_account>", "true")


# --------------------------------------------------------------- list and paginate


def test_list_virtual_devices_by_assignment_status_and_pages(aws: Call):
    aws("CreateUser", UserName="alice")
    serials = [create(aws, f"d{i}")[0] for i in range(5)]
    assigned = [enable(aws, "alice", f"e{i}")[0] for i in range(2)]

    def names(status: str | None) -> list[str]:
        params = {"AssignmentStatus": status} if status else {}
        out = aws("ListVirtualMFADevices", **params)
        assert out["IsTruncated"] is False
        return [d["SerialNumber"] for d in out["VirtualMFADevices"]]

    assert names("Assigned") == assigned
    assert names("Unassigned") == serials
    assert names("Any") == names(None) == sorted(serials + assigned)

    pages, marker = [], None
    while True:
        params: dict[str, Any] = {"MaxItems": 2}
        if marker:
            params["Marker"] = marker
        out = aws("ListVirtualMFADevices", **params)
        pages.append([d["SerialNumber"] for d in out["VirtualMFADevices"]])
        if not out["IsTruncated"]:
            assert "Marker" not in out
            break
        marker = out["Marker"]
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [s for page in pages for s in page] == sorted(serials + assigned)
    page = aws("ListVirtualMFADevices", AssignmentStatus="Unassigned", MaxItems=4)
    assert page["IsTruncated"] is True and len(page["VirtualMFADevices"]) == 4
    rest = aws("ListVirtualMFADevices", AssignmentStatus="Unassigned", Marker=page["Marker"])
    assert [d["SerialNumber"] for d in rest["VirtualMFADevices"]] == serials[4:]


def test_list_mfa_devices_pages_and_callers_own(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    mine = sorted(enable(aws, "alice", f"a{i}")[0] for i in range(3))
    enable(aws, "bob", "b")
    first = aws("ListMFADevices", UserName="alice", MaxItems=2)
    assert first["IsTruncated"] is True
    second = aws("ListMFADevices", UserName="alice", MaxItems=2, Marker=first["Marker"])
    assert second["IsTruncated"] is False
    listed = [d["SerialNumber"] for d in first["MFADevices"] + second["MFADevices"]]
    assert listed == mine
    # Without UserName: the calling user's own devices.
    put_policy(services, "alice", [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}])
    own = aws("ListMFADevices", caller=user_caller("alice"))["MFADevices"]
    assert [d["SerialNumber"] for d in own] == mine
    err = error(aws, "ListMFADevices", UserName="ghost")
    assert (err.code, err.message) == ("NoSuchEntity", "The user with name ghost cannot be found.")


# ---------------------------------------------------------------------------- tags


def test_tag_untag_list_tags(aws: Call):
    serial, _ = create(aws, "d", Tags=[{"Key": "a", "Value": "1"}])
    aws(
        "TagMFADevice",
        SerialNumber=serial,
        Tags=[{"Key": "A", "Value": "2"}, {"Key": "b", "Value": ""}],
    )
    tags = aws("ListMFADeviceTags", SerialNumber=serial)
    assert tags == {
        "Tags": [{"Key": "a", "Value": "2"}, {"Key": "b", "Value": ""}],
        "IsTruncated": False,
    }
    page = aws("ListMFADeviceTags", SerialNumber=serial, MaxItems=1)
    assert page["IsTruncated"] is True and page["Tags"] == [{"Key": "a", "Value": "2"}]
    aws("UntagMFADevice", SerialNumber=serial, TagKeys=["A"])
    assert aws("ListMFADeviceTags", SerialNumber=serial)["Tags"] == [{"Key": "b", "Value": ""}]
    # Listing devices shows no tags (AWS's listing operations leave them out).
    assert aws("ListVirtualMFADevices")["VirtualMFADevices"] == [{"SerialNumber": serial}]
    for name, extra in (
        ("TagMFADevice", {"Tags": [{"Key": "k", "Value": "v"}]}),
        ("UntagMFADevice", {"TagKeys": ["k"]}),
        ("ListMFADeviceTags", {}),
    ):
        err = error(aws, name, SerialNumber=f"{MFA}gone", **extra)
        assert err.code == "NoSuchEntity"


def test_tag_limit(aws: Call):
    serial, _ = create(aws, "d", Tags=[{"Key": f"k{i}", "Value": ""} for i in range(50)])
    err = error(aws, "TagMFADevice", SerialNumber=serial, Tags=[{"Key": "one-more", "Value": ""}])
    assert err.code == "LimitExceeded"


# ------------------------------------------------------------------- authorization


def test_user_without_permission_is_denied(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    serial, seed = create(aws, "bob")
    alice = user_caller("alice")
    denied = (
        ("CreateVirtualMFADevice", {"VirtualMFADeviceName": "x"}, f"{MFA}x"),
        ("EnableMFADevice", {"UserName": "bob", "SerialNumber": serial, **codes(seed, S)}, "bob"),
        ("ListMFADevices", {"UserName": "bob"}, f"arn:aws:iam::{ACCOUNT}:user/bob"),
        ("ListVirtualMFADevices", {}, MFA),
        ("DeleteVirtualMFADevice", {"SerialNumber": serial}, serial),
        ("ListMFADeviceTags", {"SerialNumber": serial}, serial),
    )
    for name, params, resource in denied:
        err = error(aws, name, caller=alice, **params)
        assert (err.code, err.http_status) == ("AccessDenied", 403)
        assert f"iam:{name} on resource: " in err.message and resource in err.message
    entity = stored(services, serial)
    assert entity is not None and entity.user_name is None


def test_aws_self_service_mfa_policy(aws: Call, services: Services):
    """AWS's example policy letting users manage their own MFA device."""
    aws("CreateUser", UserName="alice")
    aws("CreateUser", UserName="bob")
    put_policy(
        services,
        "alice",
        [
            {
                "Effect": "Allow",
                "Action": "iam:ListVirtualMFADevices",
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": ["iam:CreateVirtualMFADevice", "iam:DeleteVirtualMFADevice"],
                "Resource": "arn:aws:iam::*:mfa/${aws:username}",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "iam:EnableMFADevice",
                    "iam:ListMFADevices",
                    "iam:ResyncMFADevice",
                    "iam:DeactivateMFADevice",
                ],
                "Resource": "arn:aws:iam::*:user/${aws:username}",
            },
        ],
    )
    alice = user_caller("alice")
    serial, seed = create(aws, "alice", caller=alice)
    aws("EnableMFADevice", caller=alice, UserName="alice", SerialNumber=serial, **codes(seed, S))
    own = aws("ListMFADevices", caller=alice)["MFADevices"]
    assert [d["SerialNumber"] for d in own] == [serial]
    assert len(aws("ListVirtualMFADevices", caller=alice)["VirtualMFADevices"]) == 1

    err = error(aws, "CreateVirtualMFADevice", caller=alice, VirtualMFADeviceName="bob")
    assert err.code == "AccessDenied" and f"{MFA}bob" in err.message
    other, other_seed = create(aws, "bob")
    err = error(
        aws,
        "EnableMFADevice",
        caller=alice,
        UserName="bob",
        SerialNumber=other,
        **codes(other_seed, S),
    )
    assert err.code == "AccessDenied" and f"arn:aws:iam::{ACCOUNT}:user/bob" in err.message
    # Tags on create need iam:TagMFADevice too.
    aws("DeactivateMFADevice", caller=alice, SerialNumber=serial)
    aws("DeleteVirtualMFADevice", caller=alice, SerialNumber=serial)
    err = error(
        aws,
        "CreateVirtualMFADevice",
        caller=alice,
        VirtualMFADeviceName="alice",
        Tags=[{"Key": "k", "Value": "v"}],
    )
    assert err.code == "AccessDenied" and "iam:TagMFADevice" in err.message
    assert stored(services, serial) is None


def test_resource_tags_condition_on_device_operations(aws: Call, services: Services):
    aws("CreateUser", UserName="alice")
    mine, _ = create(aws, "mine", Tags=[{"Key": "owner", "Value": "alice"}])
    theirs, _ = create(aws, "theirs", Tags=[{"Key": "owner", "Value": "bob"}])
    put_policy(
        services,
        "alice",
        [
            {
                "Effect": "Allow",
                "Action": ["iam:ListMFADeviceTags", "iam:UntagMFADevice"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/owner": "${aws:username}"}},
            }
        ],
    )
    alice = user_caller("alice")
    assert aws("ListMFADeviceTags", caller=alice, SerialNumber=mine)["Tags"]
    assert error(aws, "ListMFADeviceTags", caller=alice, SerialNumber=theirs).code == (
        "AccessDenied"
    )
    aws("UntagMFADevice", caller=alice, SerialNumber=mine, TagKeys=["owner"])
    # Without its tag the device no longer matches the condition.
    assert error(aws, "ListMFADeviceTags", caller=alice, SerialNumber=mine).code == ("AccessDenied")


def test_resync_learns_the_device_clock_offset(iam: Any, services: Any) -> None:
    """A device whose clock runs 3 steps fast works again after a resync."""
    import datetime as dt

    from chamberlain.crypto.totp import code_at, step_at
    from chamberlain.domain import MfaDevice

    from ..conftest import ACCOUNT, NOW

    iam("CreateUser", UserName="drift")
    device = iam("CreateVirtualMFADevice", VirtualMFADeviceName="drift")["VirtualMFADevice"]
    seed, serial = device["Base32StringSeed"].decode(), device["SerialNumber"]
    now = step_at(NOW)
    iam(
        "EnableMFADevice",
        UserName="drift",
        SerialNumber=serial,
        AuthenticationCode1=code_at(seed, now - 1),
        AuthenticationCode2=code_at(seed, now),
    )
    fast = now + 3  # the device's clock has run ahead
    iam(
        "ResyncMFADevice",
        UserName="drift",
        SerialNumber=serial,
        AuthenticationCode1=code_at(seed, fast - 1),
        AuthenticationCode2=code_at(seed, fast),
    )
    with services.store.unit_of_work() as uow:
        stored = uow.repo(MfaDevice).get(ACCOUNT, serial)
        assert stored.offset == 3
    later = NOW + dt.timedelta(seconds=90)

    assert check(services, serial, code_at(seed, step_at(later) + 3), "drift", now=later)


def test_enabling_again_forgets_an_offset_learned_before(aws: Call, services: Services):
    """Resync taught the device a +4 offset; deactivated and enabled again (its clock now
    right), it is checked against the server's clock, not the stale offset."""
    aws("CreateUser", UserName="alice")
    serial, seed = enable(aws, "alice", "d")
    aws("ResyncMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S + 3))
    assert stored(services, serial).offset == 4  # type: ignore[union-attr]
    aws("DeactivateMFADevice", UserName="alice", SerialNumber=serial)
    aws("EnableMFADevice", UserName="alice", SerialNumber=serial, **codes(seed, S + 5))
    assert stored(services, serial).offset == 0  # type: ignore[union-attr]
    later = NOW + dt.timedelta(minutes=10)  # 20 steps on: past the codes used so far
    now = totp.step_at(later)
    assert not check(services, serial, totp.code_at(seed, now + 4), "alice", now=later)
    assert check(services, serial, totp.code_at(seed, now), "alice", now=later)
