"""IAM virtual MFA devices: CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice,
DeactivateMFADevice, DeleteVirtualMFADevice, ListMFADevices, ListVirtualMFADevices,
GetMFADevice, TagMFADevice, UntagMFADevice, ListMFADeviceTags. Codes presented to STS
(and later the console) are checked by `sessions.verify_mfa_code`. Every path that checks a
code counts the attempt first in the device's shared counter (throttle.MFA_DEVICE, in
the database: the bound holds across nodes and restarts): Enable and Resync answer
LimitExceeded while the device is locked, without looking at the codes. Their preparer
refuses wrong codes before the unit of work, so a guess takes no account lock, and is
recorded in the trail only as the first of its window (auth_failures).

The TOTP seed is generated here, encrypted at rest with the operator's key (bound to the
device's serial number, so a blob copied onto another row does not decrypt) and shown
exactly once, in CreateVirtualMFADevice's answer, as text and as a QR code. Nothing else
returns or logs it.

A device belongs to nobody until EnableMFADevice assigns it (`MfaDevice.user_name`, the
user's name or `domain.ROOT` for the root user, which is also the device's `ref`, so
DeleteUser sees it). `MfaDevice.last_step` is the last TOTP step accepted from the device;
every later check refuses codes at or before it (replay protection, RFC 6238 section 5.2).
Deactivation unassigns a device but keeps `last_step`, so codes seen before cannot enable
it again.

Authorization follows AWS's Service Authorization Reference: the device operations act on
the `mfa` resource (its serial number, which is its ARN), the per-user ones (Enable,
Deactivate, Resync, ListMFADevices, GetMFADevice) on the user.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import segno

from chamberlain.crypto import totp
from chamberlain.domain import ROOT, Account, MfaDevice, User
from chamberlain.ops.core import throttle
from chamberlain.ops.core.arns import account_root_arn, iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import MFA_DEVICES
from chamberlain.ops.core.errors import (
    DeleteConflict,
    EntityAlreadyExists,
    NoSuchEntity,
    ValidationError,
)
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.quotas import quota_exceeded
from chamberlain.ops.core.registry import (
    Later,
    Output,
    Params,
    StalePreparation,
    Target,
    compact,
    operation,
)
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import (
    check_tag_count,
    tags_in,
    tags_out,
)
from chamberlain.ops.iam.user_credentials import credential_owner, owner_target, user_name_out
from chamberlain.ops.iam.users import user_summary
from chamberlain.ops.sts.sessions import (
    MfaAttempt,
    mfa_attempt_counted,
    mfa_code_accepted,
    reserve_mfa_attempt,
)

# AWS's quotas: MFA devices in use per user (and per root user), and virtual MFA devices
# (assigned or unassigned) per account, which AWS sets equal to the users quota.
MFA_DEVICES_PER_USER = 8
VIRTUAL_MFA_DEVICES_PER_ACCOUNT = 5000
#: VirtualMFADeviceName's length limit in AWS's API reference (CreateVirtualMFADevice:
#: "Minimum length of 1. Maximum length of 226", so that the serial number, an
#: arn:aws:iam::ACCOUNT:mfa/NAME of at most 256 characters, fits); older botocore models
#: state no maximum.
VIRTUAL_MFA_DEVICE_NAME_MAX = 226

# What AWS's QR codes carry: otpauth://totp/Amazon%20Web%20Services:NAME@ACCOUNT?...
QR_ISSUER = "Amazon Web Services"
QR_SCALE = 4  # pixels per module: a ~150-pixel image, as easy to scan as AWS's

ACCOUNT_KEY = "account"  # domain.Account.key
INVALID_CODE = "Authentication code for device is not valid."
IN_USE = "MFA Device is already in use."
INVALID_FOR_USER = "MFA Device invalid for user."
DELETE_IN_USE = "MFA VirtualDevice in use. Must deactivate first."
ASSIGNMENT_FILTERS = {
    "Assigned": lambda d: d.user_name is not None,
    "Unassigned": lambda d: d.user_name is None,
}


# --------------------------------------------------------------------------- helpers


def device_name(serial: str) -> str:
    """The VirtualMFADeviceName inside a serial number (arn:...:mfa/PATH/NAME)."""
    return serial.rsplit("/", 1)[-1]


def _repo(ctx: OpContext) -> Any:
    return ctx.uow.repo(MfaDevice)


def _assigned_to(device: MfaDevice, owner: str) -> bool:
    return device.user_name is not None and device.user_name.lower() == owner.lower()


def _require_assigned(ctx: OpContext, serial: str, owner: str) -> MfaDevice:
    device = MFA_DEVICES.require(ctx, serial)
    if not _assigned_to(device, owner):
        raise NoSuchEntity(INVALID_FOR_USER)
    return device


def _seed(ctx: OpContext, device: MfaDevice) -> str:
    """The seed in clear, for checking a code. Never log or return it."""
    aad = device.serial_number.encode()
    return ctx.services.secrets.decrypt(device.seed_encrypted, aad=aad).decode("ascii")


def _account_name(ctx: OpContext) -> str:
    """The account alias if there is one, else the account id (AWS's QR label)."""
    account: Account | None = ctx.uow.repo(Account).get(ctx.account_id, ACCOUNT_KEY)
    return account.alias if account is not None and account.alias else ctx.account_id


def provisioning_uri(seed: str, name: str, account_name: str) -> str:
    """The otpauth:// URI of a new device, labelled as AWS labels its QR codes:
    issuer "Amazon Web Services", account "DEVICE_NAME@ACCOUNT_ALIAS_OR_ID"."""
    return totp.otpauth_uri(seed, f"{QR_ISSUER}:{name}", account_name, issuer=QR_ISSUER)


def qr_png(uri: str) -> bytes:
    """The PNG image of a QR code encoding `uri`."""
    buffer = io.BytesIO()
    segno.make(uri, error="m", micro=False).save(buffer, kind="png", scale=QR_SCALE)
    return buffer.getvalue()


def _code_preparer(
    checks: Callable[[OpContext, Params], MfaDevice],
) -> Callable[[OpContext, Params], MfaAttempt | None]:
    """The preparer of EnableMFADevice and ResyncMFADevice, before the unit of work: count
    the attempt at the two codes in the device's shared counter (CodeLocked, i.e.
    LimitExceeded, while the device is locked: the codes are not checked then, right or
    wrong), run the operation's `checks` (so their errors come first, as before), and
    refuse wrong codes (WrongCode). A refused attempt so takes no account lock; the
    operation checks again under it, and accepts the codes once."""

    def prepare(ctx: OpContext, params: Params) -> MfaAttempt | None:
        attempt = reserve_mfa_attempt(ctx, params["SerialNumber"])
        if attempt is not None and attempt.locked:
            raise throttle.refused_code(
                throttle.CodeLocked, throttle.LOCKED_MESSAGE, attempt.serial_number
            )
        device = checks(ctx, params)
        if attempt is None or _codes_step(ctx, device, params) is None:
            raise throttle.refused_code(throttle.WrongCode, INVALID_CODE, device.serial_number)
        return attempt

    return prepare


def _codes_step(ctx: OpContext, device: MfaDevice, params: Params) -> int | None:
    """The step of AuthenticationCode2, if the two codes are consecutive codes of the
    device not used before (writes nothing)."""
    return totp.verify_two_consecutive(
        _seed(ctx, device),
        params["AuthenticationCode1"],
        params["AuthenticationCode2"],
        ctx.now,
        last_used_step=device.last_step,
    )


def _check_codes(ctx: OpContext, device: MfaDevice, params: Params) -> int:
    """Under the lock: the step of AuthenticationCode2, if the codes are still right (the
    preparer counted the attempt and checked them; they may have been used since);
    else WrongCode. Right codes clear the device's count."""
    step = _codes_step(ctx, device, params)
    if not mfa_attempt_counted(ctx, device.serial_number) or step is None:
        raise throttle.refused_code(throttle.WrongCode, INVALID_CODE, device.serial_number)
    mfa_code_accepted(ctx, device.serial_number)
    return step


# ------------------------------------------------------------------------ rendering


def _mfa_device_out(device: MfaDevice) -> dict[str, Any]:
    return compact(
        {
            "UserName": user_name_out(device.user_name) if device.user_name else None,
            "SerialNumber": device.serial_number,
            "EnableDate": device.enabled,
        }
    )


def _root_user_out(ctx: OpContext) -> dict[str, Any]:
    """The User element AWS shows for a device of the root user: no path, no name."""
    account: Account | None = ctx.uow.repo(Account).get(ctx.account_id, ACCOUNT_KEY)
    return compact(
        {
            "UserId": ctx.account_id,
            "Arn": account_root_arn(ctx),
            "CreateDate": account.created if account else None,
            "PasswordLastUsed": account.root_password_last_used if account else None,
        }
    )


def _virtual_device_out(ctx: OpContext, device: MfaDevice) -> dict[str, Any]:
    """A ListVirtualMFADevices member: no seed, no tags (AWS lists no tags)."""
    out: dict[str, Any] = {"SerialNumber": device.serial_number}
    if device.user_name is None:
        return out
    if device.user_name == ROOT:
        out["User"] = _root_user_out(ctx)
    else:
        user: User | None = ctx.uow.repo(User).get(ctx.account_id, device.user_name.lower())
        if user is not None:
            out["User"] = user_summary(user)
    out["EnableDate"] = device.enabled
    return compact(out)


# ------------------------------------------------------------ authorization targets


def _check_device_name(name: str) -> None:
    """AWS's length check (input validation comes before authorization)."""
    if len(name) > VIRTUAL_MFA_DEVICE_NAME_MAX:
        raise ValidationError(
            f"1 validation error detected: Value '{name}' at 'virtualMFADeviceName' failed to "
            "satisfy constraint: Member must have length less than or equal to "
            f"{VIRTUAL_MFA_DEVICE_NAME_MAX}"
        )


def _create_target(ctx: OpContext, params: Params) -> Target:
    _check_device_name(params["VirtualMFADeviceName"])
    return MFA_DEVICES.create_target(ctx, params, "iam:TagMFADevice", "VirtualMFADeviceName")


def _list_virtual_target(ctx: OpContext, params: Params) -> Target:
    # AWS names the account's mfa/ prefix in its denial of ListVirtualMFADevices.
    return Target(iam_arn(ctx, "mfa", ""))


# ----------------------------------------------------------------------- operations


@dataclass(frozen=True)
class _NewSeed:
    """A new device's seed and its QR code, made before the unit of work (rendering the
    image is slow enough that it must not hold the account's write lock)."""

    seed: str
    account_name: str
    png: bytes


def _new_seed(ctx: OpContext, params: Params) -> Later:
    account_name = _account_name(ctx)

    def render() -> _NewSeed:
        seed = totp.new_seed()
        uri = provisioning_uri(seed, params["VirtualMFADeviceName"], account_name)
        return _NewSeed(seed, account_name, qr_png(uri))

    return Later(render)


@operation("iam", "CreateVirtualMFADevice", resource=_create_target, prepare=_new_seed)
def create_virtual_mfa_device(ctx: OpContext, params: Params) -> Output:
    name, path = params["VirtualMFADeviceName"], params.get("Path") or "/"
    tags = check_tag_count(tags_in(params.get("Tags")))
    new = ctx.prepared
    if not isinstance(new, _NewSeed):
        raise RuntimeError("CreateVirtualMFADevice runs only after _new_seed")
    if _account_name(ctx) != new.account_name:  # the alias in the QR label changed
        raise StalePreparation()
    repo = _repo(ctx)
    devices: list[MfaDevice] = repo.list(ctx.account_id)
    # Device names are unique in the account, case-insensitively, like every IAM name.
    if any(device_name(d.serial_number).lower() == name.lower() for d in devices):
        raise EntityAlreadyExists("MFADevice entity at the same path and name already exists.")
    if len(devices) >= VIRTUAL_MFA_DEVICES_PER_ACCOUNT:
        raise quota_exceeded("MFADevices", VIRTUAL_MFA_DEVICES_PER_ACCOUNT)
    serial = iam_arn(ctx, "mfa", name, path)
    repo.add(
        MfaDevice(
            account_id=ctx.account_id,
            serial_number=serial,
            seed_encrypted=ctx.services.secrets.encrypt(new.seed.encode(), aad=serial.encode()),
            created=ctx.now,
            tags=tags,
        )
    )
    device = {
        "SerialNumber": serial,
        "Base32StringSeed": new.seed.encode("ascii"),
        "QRCodePNG": new.png,
        "Tags": tags_out(tags) or None,
    }
    return {"VirtualMFADevice": compact(device)}


def _enabling(ctx: OpContext, params: Params) -> MfaDevice:
    """EnableMFADevice's checks before the codes: the device, free, and the quota."""
    owner = credential_owner(ctx, params)
    device = MFA_DEVICES.require(ctx, params["SerialNumber"])
    if device.user_name is not None:
        raise EntityAlreadyExists(IN_USE)
    if _repo(ctx).count(ctx.account_id, ref=owner.lower()) >= MFA_DEVICES_PER_USER:
        raise quota_exceeded("MFADevicesPerUser", MFA_DEVICES_PER_USER)
    return device


def _resyncing(ctx: OpContext, params: Params) -> MfaDevice:
    """ResyncMFADevice's check before the codes: the device is the user's."""
    return _require_assigned(ctx, params["SerialNumber"], credential_owner(ctx, params))


@operation("iam", "EnableMFADevice", resource=owner_target, prepare=_code_preparer(_enabling))
def enable_mfa_device(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    device = _enabling(ctx, params)
    step = _check_codes(ctx, device, params)
    # A clock offset learned (ResyncMFADevice) while the device was assigned before does
    # not carry over: a newly enabled device is checked against the server's clock.
    _repo(ctx).put(replace(device, user_name=owner, enabled=ctx.now, last_step=step, offset=0))
    return None


@operation("iam", "ResyncMFADevice", resource=owner_target, prepare=_code_preparer(_resyncing))
def resync_mfa_device(ctx: OpContext, params: Params) -> Output:
    device = _resyncing(ctx, params)
    step = _check_codes(ctx, device, params)
    # Resynchronizing is how a device whose clock drifted is brought back: its offset
    # is learned from the two codes and used from now on.
    _repo(ctx).put(replace(device, last_step=step, offset=totp.offset_for(step, ctx.now)))
    return None


@operation("iam", "DeactivateMFADevice", resource=owner_target)
def deactivate_mfa_device(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    device = _require_assigned(ctx, params["SerialNumber"], owner)
    # The device stays (DeleteVirtualMFADevice removes it); last_step stays too.
    _repo(ctx).put(replace(device, user_name=None, enabled=None))
    return None


@operation("iam", "DeleteVirtualMFADevice", resource=MFA_DEVICES.resolve)
def delete_virtual_mfa_device(ctx: OpContext, params: Params) -> Output:
    device = MFA_DEVICES.require(ctx, params["SerialNumber"])
    if device.user_name is not None:
        raise DeleteConflict(DELETE_IN_USE)
    _repo(ctx).delete(ctx.account_id, device.key)
    # A device created later under the same name must not inherit this one's count.
    throttle.clear(ctx.uow, throttle.MFA_DEVICE, throttle.mfa_key(ctx.account_id, device.key))
    return None


@operation("iam", "ListMFADevices", resource=owner_target, read_only=True)
def list_mfa_devices(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    devices = _repo(ctx).list(ctx.account_id, ref=owner.lower())
    return paginate(
        params,
        devices,
        lambda d: d.serial_number,
        member="MFADevices",
        render=_mfa_device_out,
    )


@operation("iam", "ListVirtualMFADevices", resource=_list_virtual_target, read_only=True)
def list_virtual_mfa_devices(ctx: OpContext, params: Params) -> Output:
    devices: list[MfaDevice] = _repo(ctx).list(ctx.account_id)
    keep = ASSIGNMENT_FILTERS.get(params.get("AssignmentStatus") or "Any")
    if keep is not None:
        devices = [d for d in devices if keep(d)]
    return paginate(
        params,
        devices,
        lambda d: d.serial_number,
        member="VirtualMFADevices",
        render=lambda d: _virtual_device_out(ctx, d),
    )


@operation("iam", "GetMFADevice", resource=owner_target, read_only=True)
def get_mfa_device(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    device = _require_assigned(ctx, params["SerialNumber"], owner)
    # Certifications are FIDO metadata; a virtual device has none.
    return _mfa_device_out(device)


tag_operations(MFA_DEVICES, "MFADevice")
