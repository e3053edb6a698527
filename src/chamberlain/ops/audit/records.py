"""The audit trail: every call becomes a CloudTrail record, chained and sealed.

`record` turns one operation (its caller, input, output or error) into a record in
CloudTrail's format (eventVersion 1.08) and appends it to the account's event log in the
caller's unit of work, so the event commits or rolls back with the operation. A call that
failed rolled its unit of work back, so `record_detached` writes in a unit of work of its
own; so do `record_auth_failure` and `record_sign_in`. The root user's console password
change is the sign-in service's PasswordUpdated event (`record_password_updated`), as AWS
records it, not IAM's ChangePassword.

Secrets never reach a record: members CloudTrail hides (secret keys, passwords, MFA seeds
and codes, session tokens, private keys, SAML assertions, web identity tokens) read
"HIDDEN_DUE_TO_SECURITY_REASONS", wherever they appear in the input or output.

Tamper evidence: event n of an account stores
    hash_n = SHA-256(account | n | hash_{n-1} | resources | record)    (hash_0 = 64 zeros)
and a seal, an AES-GCM tag under the operator's key (the SecretBox: `encrypt(b"", aad)`,
i.e. GMAC over the aad) of (account, n, hash_n). Without the key nobody can change,
insert, drop or reorder events without verify noticing, except cutting off the newest
events (nothing later refers to them): signed digests (audit_trail.checkpoint) and
exports bound that. The seal keeps verifying after key rotation as long as the key file
still holds the old key.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import botocore.session

from chamberlain.crypto.secrets import SecretBox, SecretBoxError
from chamberlain.domain import Event
from chamberlain.ops.core.context import Caller, OpContext, RequestMeta, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.policy import PrincipalType
from chamberlain.store.api import UnitOfWork
from chamberlain.store.events import Digest

EVENT_VERSION = "1.08"
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
GENESIS = "0" * 64
SOURCES = {
    "iam": "iam.amazonaws.com",
    "sts": "sts.amazonaws.com",
    "cloudtrail": "cloudtrail.amazonaws.com",
    "signin": "signin.amazonaws.com",
}
#: Input/output members CloudTrail never shows (botocore member names).
SECRET_MEMBERS = frozenset(
    {
        "SecretAccessKey",
        "ServiceCredentialSecret",
        "AddPrivateKey",
        "Password",
        "OldPassword",
        "NewPassword",
        "ServicePassword",
        "Base32StringSeed",
        "QRCodePNG",
        "AuthenticationCode1",
        "AuthenticationCode2",
        "TokenCode",
        "SessionToken",
        "PrivateKey",
        "SAMLAssertion",
        "WebIdentityToken",
    }
)
#: CloudTrail's eventType for events the service records on its own (no caller's call).
SERVICE_EVENT = "AwsServiceEvent"
#: eventType of the sign-in service's events (ConsoleLogin, PasswordUpdated).
SIGN_IN_EVENT = "AwsConsoleSignIn"
#: The summary of a window of failed authentications with one access key.
AUTH_FAILURE_SUMMARY = "AuthenticationFailureSummary"
#: Errors that mean the caller was not authenticated (no principal to credit the call to).
AUTH_FAILURES = frozenset(
    {
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "MissingAuthenticationToken",
        "ExpiredToken",
        "ExpiredTokenException",
        "RequestExpired",
    }
)


# CloudTrail names a modeled error by its shape (the SDK's exception class), e.g.
# "NoSuchEntityException"; common errors (AccessDenied, ...) keep their code.
@functools.cache
def _shape_names(service: str) -> dict[str, str]:
    """{wire error code: shape name} where the two differ, from the botocore model the wire
    is generated from (e.g. ReportInProgress -> CredentialReportNotReadyException)."""
    if service not in ("iam", "sts"):
        return {}
    model = botocore.session.get_session().get_service_model(service)
    return {s.error_code: s.name for s in model.error_shapes if s.error_code != s.name}


# Input/output members naming a resource, and its LookupEvents ResourceType.
_RESOURCE_MEMBERS = {
    "UserName": "AWS::IAM::User",
    "GroupName": "AWS::IAM::Group",
    "RoleName": "AWS::IAM::Role",
    "RoleArn": "AWS::IAM::Role",
    "PolicyArn": "AWS::IAM::Policy",
    "InstanceProfileName": "AWS::IAM::InstanceProfile",
    "AccessKeyId": "AWS::IAM::AccessKey",
    "SerialNumber": "AWS::IAM::MFADevice",
    "OpenIDConnectProviderArn": "AWS::IAM::OIDCProvider",
    "SAMLProviderArn": "AWS::IAM::SAMLProvider",
    "ServerCertificateName": "AWS::IAM::ServerCertificate",
    "SSHPublicKeyId": "AWS::IAM::SSHPublicKey",
}
# Output structures whose Arn names the resource created (CreatePolicy's Policy.Arn).
_CREATED_ARNS = {"Policy": "AWS::IAM::Policy"}
_SEAL_LABEL = b"chamberlain audit seal v1\x00"
_DIGEST_LABEL = b"chamberlain audit digest v1\x00"
_EVENT_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", re.ASCII)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# ------------------------------------------------------------------------- formats


def event_source(service: str) -> str:
    return SOURCES.get(service, f"{service}.amazonaws.com")


def iso_time(moment: dt.datetime) -> str:
    """CloudTrail's eventTime: UTC, whole seconds."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def element_time(moment: dt.datetime) -> str:
    """A date inside request parameters/response elements, as IAM's records show it
    (Java's default "MMM d, yyyy h:mm:ss a"): "Nov 28, 2026 12:00:00 PM"."""
    t = moment.astimezone(dt.UTC)
    hour = t.hour % 12 or 12
    half = "AM" if t.hour < 12 else "PM"
    return f"{_MONTHS[t.month - 1]} {t.day}, {t.year} {hour}:{t.minute:02d}:{t.second:02d} {half}"


def camel(member: str) -> str:
    """A botocore member name as CloudTrail's records spell it: UserName -> userName."""
    return member[:1].lower() + member[1:]


def elements(value: Any) -> Any:
    """Input or output as requestParameters/responseElements: camelCase keys, secrets
    hidden, dates as IAM writes them, blobs in base64."""
    if isinstance(value, Mapping):
        return {
            camel(str(k)): HIDDEN if k in SECRET_MEMBERS else elements(v)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, list | tuple):
        return [elements(v) for v in value]
    if isinstance(value, dt.datetime):
        return element_time(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def canonical(record: Mapping[str, Any]) -> str:
    """The stored (and hashed) text of a record: sorted keys, no spaces, UTF-8 kept.
    A value JSON cannot hold (none should reach here) is written as its str(); text that
    is not Unicode (a lone surrogate) is written escaped, so that it can be stored."""
    text = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    try:
        text.encode()
    except UnicodeEncodeError:
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)
    return text


def error_code(service: str, code: str) -> str:
    return _shape_names(service).get(code, code)


# ----------------------------------------------------------------------- identity


def _session_context(caller: Caller, issuer_type: str | None) -> dict[str, Any]:
    session = caller.session
    assert session is not None
    context: dict[str, Any] = {
        "attributes": {
            "creationDate": iso_time(session.issued),
            "mfaAuthenticated": "true" if session.mfa_authenticated else "false",
        }
    }
    if issuer_type is not None:
        context["sessionIssuer"] = {
            "type": issuer_type,
            "principalId": session.issuer_id,
            "arn": session.issuer_arn,
            "accountId": caller.account_id,
            "userName": session.issuer_arn.rsplit("/", 1)[-1],
        }
    else:
        context["sessionIssuer"] = {}
    if session.federated_provider:
        context["webIdFederationData"] = {
            "federatedProvider": session.federated_provider,
            "attributes": {},
        }
    if session.source_identity:
        context["sourceIdentity"] = session.source_identity
    return context


def user_identity(caller: Caller) -> dict[str, Any]:
    """The record's userIdentity for a caller (Root, IAMUser, AssumedRole, FederatedUser)."""
    kind = {
        PrincipalType.ROOT: "Root",
        PrincipalType.USER: "IAMUser",
        PrincipalType.ASSUMED_ROLE: "AssumedRole",
        PrincipalType.FEDERATED_USER: "FederatedUser",
    }.get(caller.type, caller.type.value)
    identity: dict[str, Any] = {
        "type": kind,
        "principalId": caller.principal_id,
        "arn": caller.arn,
        "accountId": caller.account_id,
    }
    if caller.access_key_id:
        identity["accessKeyId"] = caller.access_key_id
    if caller.type is PrincipalType.USER and caller.user_name:
        identity["userName"] = caller.user_name
    if caller.session is not None:
        issuer = {PrincipalType.ASSUMED_ROLE: "Role", PrincipalType.FEDERATED_USER: "IAMUser"}
        identity["sessionContext"] = _session_context(caller, issuer.get(caller.type))
    return identity


# ------------------------------------------------------------------------ records


def resources_of(params: Mapping[str, Any], output: Mapping[str, Any] | None) -> list[list[str]]:
    """(ResourceType, ResourceName) pairs a call names: its input members, and the
    resources a successful write created (found in its output, one level deep)."""
    found: dict[tuple[str, str], None] = {}

    def scan(values: Mapping[str, Any]) -> None:
        for member, kind in _RESOURCE_MEMBERS.items():
            value = values.get(member)
            if isinstance(value, str) and value:
                found[(kind, value)] = None

    scan(params)
    for member, value in (output or {}).items():
        if isinstance(value, Mapping):
            scan(value)
            created = _CREATED_ARNS.get(member)
            if created and isinstance(value.get("Arn"), str):
                found[(created, value["Arn"])] = None
    scan(output or {})
    return [list(pair) for pair in found]


def build_record(
    *,
    caller: Caller | None,
    meta: RequestMeta,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    read_only: bool,
    output: Mapping[str, Any] | None = None,
    error: ServiceError | None = None,
    account_id: str,
    event_type: str = "AwsApiCall",
) -> dict[str, Any]:
    """A CloudTrail record (eventVersion 1.08) for one call."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": user_identity(caller) if caller is not None else {},
        "eventTime": iso_time(meta.now),
        "eventSource": event_source(service),
        "eventName": operation,
        "awsRegion": meta.region,
        "sourceIPAddress": meta.source_ip,
        "userAgent": meta.user_agent,
    }
    if meta.invoked_by and caller is not None:
        record["userIdentity"]["invokedBy"] = meta.invoked_by
    if error is not None:
        record["errorCode"] = error_code(service, error.code)
        record["errorMessage"] = error.message
    record["requestParameters"] = elements(params) if params else None
    if read_only or error is not None or not output:
        record["responseElements"] = None
    else:
        record["responseElements"] = elements(output)
    record.update(
        {
            "requestID": meta.request_id,
            "eventID": str(uuid.uuid4()),
            "readOnly": read_only,
            "eventType": event_type,
            "managementEvent": True,
            "recipientAccountId": account_id,
            "eventCategory": "Management",
        }
    )
    return record


def _username(identity: Mapping[str, Any]) -> str | None:
    """LookupEvents' Username: "root", the user name, or the session's name."""
    kind, arn = identity.get("type"), str(identity.get("arn", ""))
    if kind == "Root":
        return "root"
    if kind == "IAMUser":
        return identity.get("userName") or arn.rsplit("/", 1)[-1] or None
    if kind in ("AssumedRole", "FederatedUser") and "/" in arn:
        return arn.rsplit("/", 1)[-1]
    return None


def _principal(record: Mapping[str, Any]) -> str | None:
    """Whom service-last-accessed credits: the user, root, or a session's issuer."""
    if record.get("errorCode") in AUTH_FAILURES or record.get("eventType") == SERVICE_EVENT:
        return None
    identity = record.get("userIdentity") or {}
    if identity.get("invokedBy"):  # Chamberlain's own call (RequestMeta.invoked_by)
        return None
    response = record.get("responseElements") or {}
    if record.get("eventType") == SIGN_IN_EVENT and response.get(record["eventName"]) != "Success":
        return None
    if identity.get("type") in ("AssumedRole", "FederatedUser"):
        issuer = (identity.get("sessionContext") or {}).get("sessionIssuer") or {}
        return issuer.get("arn") or None
    return identity.get("arn") or None


def _event_time(text: str) -> dt.datetime:
    """A record's eventTime back (`iso_time`'s format only: ValueError otherwise; without
    strptime, which costs more than the rest of event_fields)."""
    if not _EVENT_TIME.fullmatch(text):
        raise ValueError(f"eventTime {text[:40]!r} is not YYYY-MM-DDTHH:MM:SSZ")
    return dt.datetime(
        int(text[0:4]), int(text[5:7]), int(text[8:10]),
        int(text[11:13]), int(text[14:16]), int(text[17:19]), tzinfo=dt.UTC,
    )  # fmt: skip


def event_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """What an Event repeats of its record (verify checks they still agree)."""
    identity = record.get("userIdentity") or {}
    return {
        "event_id": record["eventID"],
        "event_time": _event_time(record["eventTime"]),
        "event_name": record["eventName"],
        "event_source": record["eventSource"],
        "read_only": bool(record.get("readOnly")),
        "username": _username(identity),
        "access_key_id": identity.get("accessKeyId") or None,
        "principal": _principal(record),
    }


# ------------------------------------------------------------------ chain and seals


def chain_hash(account_id: str, seq: int, previous: str, resources: str, record: str) -> str:
    """hash_n = SHA-256(account | n | hash_{n-1} | resources JSON | record text)."""
    digest = hashlib.sha256()
    for part in (account_id, str(seq), previous, resources):
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(record.encode())
    return digest.hexdigest()


def resources_text(resources: tuple[tuple[str, str], ...]) -> str:
    return json.dumps([list(r) for r in resources], ensure_ascii=False, separators=(",", ":"))


def event_hash(event: Event, previous: str, seq: int | None = None) -> str:
    """The hash `event` should have at `seq` (its own by default) after `previous`."""
    return chain_hash(
        event.account_id,
        event.seq if seq is None else seq,
        previous,
        resources_text(event.resources),
        event.record,
    )


def _seal_aad(account_id: str, seq: int, hash_: str) -> bytes:
    return _SEAL_LABEL + f"{account_id}\x00{seq}\x00{hash_}".encode()


def seal(secrets: SecretBox, account_id: str, seq: int, hash_: str) -> bytes:
    return secrets.encrypt(b"", _seal_aad(account_id, seq, hash_))


def check_seal(secrets: SecretBox, blob: bytes, aad: bytes) -> str | None:
    """None when the seal holds; otherwise why not (never any key material)."""
    try:
        if secrets.blob_key_id(blob) not in secrets.key_ids:
            return f"sealed with key id {secrets.blob_key_id(blob)}, not in the key file"
        secrets.decrypt(blob, aad)
    except SecretBoxError:
        return "its seal does not match (not written by Chamberlain with this key)"
    return None


def event_seal_problem(secrets: SecretBox, event: Event, seq: int | None = None) -> str | None:
    seq = event.seq if seq is None else seq
    return check_seal(secrets, event.seal, _seal_aad(event.account_id, seq, event.hash))


def digest_aad(account_id: str, seq: int, hash_: str, created: dt.datetime, kind: str) -> bytes:
    text = f"{account_id}\x00{seq}\x00{hash_}\x00{iso_time(created)}\x00{kind}"
    return _DIGEST_LABEL + text.encode()


def make_digest(
    secrets: SecretBox, account_id: str, seq: int, hash_: str, created: dt.datetime, kind: str
) -> Digest:
    created = created.astimezone(dt.UTC).replace(microsecond=0)
    blob = secrets.encrypt(b"", digest_aad(account_id, seq, hash_, created, kind))
    return Digest(account_id, seq, hash_, created, kind, blob)


def prune_anchor(digests: Iterable[Digest]) -> Digest | None:
    """The newest "prune" digest: where what remains of a pruned chain starts."""
    anchors = [d for d in digests if d.kind == "prune"]
    return max(anchors, key=lambda d: d.seq) if anchors else None


@dataclass(frozen=True)
class PendingEvent:
    """A record ready to be chained: everything but its seq, hash and seal (built with
    no lock held; `append_pending` chains a batch of them under the account's lock)."""

    account_id: str
    text: str
    resources: tuple[tuple[str, str], ...]
    fields: Mapping[str, Any]
    secrets: SecretBox


def pending_event(
    secrets: SecretBox, account_id: str, record: Mapping[str, Any], resources: list[list[str]]
) -> PendingEvent:
    pairs = tuple((str(t), str(n)) for t, n in resources)
    return PendingEvent(account_id, canonical(record), pairs, event_fields(record), secrets)


def _chain_head(uow: UnitOfWork, account_id: str) -> tuple[int, str]:
    """The seq and hash the account's next event follows (read under its lock)."""
    head = uow.events.last(account_id)
    if head is not None:
        return head.seq, head.hash
    # No events: a new account, or retention pruned them all. Then the chain goes on
    # from the newest prune anchor (verify starts there), not from a blank chain.
    anchor = prune_anchor(uow.events.digests(account_id))
    return (anchor.seq, anchor.hash) if anchor else (0, GENESIS)


def _chained(pending: PendingEvent, seq: int, previous: str) -> Event:
    account_id = pending.account_id
    hash_ = chain_hash(account_id, seq, previous, resources_text(pending.resources), pending.text)
    return Event(
        account_id=account_id,
        seq=seq,
        record=pending.text,
        hash=hash_,
        seal=seal(pending.secrets, account_id, seq, hash_),
        resources=pending.resources,
        **pending.fields,
    )


def append_pending(uow: UnitOfWork, batch: Sequence[PendingEvent]) -> None:
    """Append a batch of pending events, each account's in order: one read of each
    chain's head (under the account's lock), then one multi-row insert of them all."""
    accounts = sorted({p.account_id for p in batch})
    heads: dict[str, tuple[int, str]] = {}
    for account_id in accounts:
        uow.lock_account(account_id)
        heads[account_id] = _chain_head(uow, account_id)
    chained: list[Event] = []
    for pending in batch:
        seq, previous = heads[pending.account_id]
        event = _chained(pending, seq + 1, previous)
        heads[pending.account_id] = (event.seq, event.hash)
        chained.append(event)
    uow.events.append_many(chained)


def append(
    uow: UnitOfWork,
    secrets: SecretBox,
    account_id: str,
    record: Mapping[str, Any],
    resources: list[list[str]],
) -> Event:
    """Append a record to the account's chain. Takes the account lock first, so the head
    read here is the head the new event follows."""
    pending = pending_event(secrets, account_id, record, resources)
    uow.lock_account(account_id)
    seq, previous = _chain_head(uow, account_id)
    event = _chained(pending, seq + 1, previous)
    uow.events.append(event)
    return event


# ------------------------------------------------------------------ entry points


def record(
    ctx: OpContext,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    *,
    read_only: bool,
    output: Mapping[str, Any] | None = None,
    error: ServiceError | None = None,
    account_id: str | None = None,
) -> Event:
    """Record one call in ctx's (writing) unit of work, in `account_id`'s trail (the
    caller's by default)."""
    account = account_id or ctx.account_id
    rec = build_record(
        caller=ctx.caller,
        meta=ctx.meta,
        service=service,
        operation=operation,
        params=params,
        read_only=read_only,
        output=output,
        error=error,
        account_id=account,
    )
    found = resources_of(params or {}, None if (read_only or error) else output)
    return append(ctx.uow, ctx.services.secrets, account, rec, found)


def record_detached(
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    *,
    read_only: bool,
    output: Mapping[str, Any] | None = None,
    error: ServiceError | None = None,
    account_id: str | None = None,
) -> Event:
    """`record` in a unit of work of its own: for read-only calls (whose unit of work
    cannot write) and failed calls (whose unit of work rolled back)."""
    with services.store.unit_of_work() as uow:
        ctx = OpContext(caller=caller, meta=meta, uow=uow, services=services)
        return record(
            ctx,
            service,
            operation,
            params,
            read_only=read_only,
            output=output,
            error=error,
            account_id=account_id,
        )


def record_deferred(
    services: Services,
    caller: Caller,
    meta: RequestMeta,
    service: str,
    operation: str,
    params: Mapping[str, Any] | None,
    *,
    error: ServiceError | None = None,
    account_id: str,
    read_only: bool = True,
) -> None:
    """A read-only call's event (or a refused write's, `read_only` False, whose unit of
    work rolled back): built now, appended by the group-commit writer (batched with other
    requests' events, within milliseconds), or at once without one."""
    rec = build_record(
        caller=caller,
        meta=meta,
        service=service,
        operation=operation,
        params=params,
        read_only=read_only,
        error=error,
        account_id=account_id,
    )
    append_deferred(services, account_id, rec, resources_of(params or {}, None))


def record_auth_failure(
    services: Services,
    meta: RequestMeta,
    *,
    service: str,
    operation: str,
    access_key_id: str,
    account_id: str,
    identity: Caller | None,
    error: ServiceError,
    read_only: bool = False,
) -> Event:
    """A request whose signature (or token) failed, made with a key Chamberlain knows:
    recorded in the key owner's account, credited to no one. `identity` is whom the key
    belongs to (without its session, if any); the request's input is not recorded."""
    caller = identity
    if caller is not None and caller.access_key_id != access_key_id:
        caller = Caller(
            account_id=caller.account_id,
            arn=caller.arn,
            principal_id=caller.principal_id,
            type=caller.type,
            user_name=caller.user_name,
            access_key_id=access_key_id,
            session=caller.session,
        )
    rec = build_record(
        caller=caller,
        meta=meta,
        service=service,
        operation=operation,
        params=None,
        read_only=read_only,
        error=error,
        account_id=account_id,
    )
    if caller is None:
        rec["userIdentity"] = {"accountId": account_id, "accessKeyId": access_key_id}
    with services.store.unit_of_work() as uow:
        return append(uow, services.secrets, account_id, rec, [])


def record_failure_summary(
    services: Services,
    *,
    account_id: str,
    identity: dict[str, Any],
    service: str,
    last: dt.datetime,
    details: dict[str, Any],
    resources: list[list[str]],
) -> Event:
    """An AwsServiceEvent named AuthenticationFailureSummary from `service`, credited to
    no one (`identity` is whose credentials failed): a window of failures, the first of
    which was recorded in full, counted in `details` (its serviceEventDetails)."""
    rec: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": identity,
        "eventTime": iso_time(last),
        "eventSource": event_source(service),
        "eventName": AUTH_FAILURE_SUMMARY,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "AWS Internal",
        "userAgent": "AWS Internal",
        "requestParameters": None,
        "responseElements": None,
        "eventID": str(uuid.uuid4()),
        "readOnly": True,
        "eventType": SERVICE_EVENT,
        "managementEvent": True,
        "recipientAccountId": account_id,
        "eventCategory": "Management",
        "serviceEventDetails": details,
    }
    with services.store.unit_of_work() as uow:
        return append(uow, services.secrets, account_id, rec, resources)


def _sign_in_record(
    meta: RequestMeta, identity: Caller, name: str, success: bool
) -> dict[str, Any]:
    """An event of AWS's sign-in service (eventSource signin.amazonaws.com, eventType
    AwsConsoleSignIn): no request parameters; responseElements {name: Success|Failure}."""
    rec = build_record(
        caller=identity,
        meta=meta,
        service="signin",
        operation=name,
        params=None,
        read_only=False,
        account_id=identity.account_id,
        event_type=SIGN_IN_EVENT,
    )
    rec["responseElements"] = {name: "Success" if success else "Failure"}
    return rec


def record_sign_in(
    services: Services,
    meta: RequestMeta,
    *,
    identity: Caller,
    success: bool,
    mfa_used: bool,
    login_to: str = "",
    error_message: str = "Failed authentication",
    deferred: bool = False,
) -> Event | None:
    """A console sign-in (eventType AwsConsoleSignIn, eventName ConsoleLogin); `deferred`:
    appended by the group-commit writer (if any), so this thread takes no account lock."""
    rec = _sign_in_record(meta, identity, "ConsoleLogin", success)
    rec["additionalEventData"] = {
        "LoginTo": login_to,
        "MobileVersion": "No",
        "MFAUsed": "Yes" if mfa_used else "No",
    }
    if not success:
        rec["errorMessage"] = error_message
    if deferred:
        return append_deferred(services, identity.account_id, rec)
    with services.store.unit_of_work() as uow:
        return append(uow, services.secrets, identity.account_id, rec, [])


def append_deferred(
    services: Services,
    account_id: str,
    rec: Mapping[str, Any],
    resources: list[list[str]] | None = None,
) -> Event | None:
    """Append a record built by the caller to `account_id`'s trail by the group-commit
    writer (so this thread takes no account lock): serialized here, chained with the
    batch's other events (one read of the chain's head, multi-row inserts), in the order
    handed over, as `record_deferred`'s. Without a writer, at once (and returned)."""
    if services.group_commit is None:
        with services.store.unit_of_work() as uow:
            return append(uow, services.secrets, account_id, rec, resources or [])
    pending = pending_event(services.secrets, account_id, rec, resources or [])
    services.group_commit.submit_item((account_id,), append_pending, pending)
    return None


def record_password_updated(
    uow: UnitOfWork, secrets: SecretBox, meta: RequestMeta, identity: Caller, *, success: bool
) -> Event:
    """The root user's console password change, as AWS's sign-in service records it
    (eventName PasswordUpdated, responseElements.PasswordUpdated Success or Failure),
    in the change's `uow` (a failure: `record_password_update_failure`)."""
    rec = _sign_in_record(meta, identity, "PasswordUpdated", success)
    return append(uow, secrets, identity.account_id, rec, [])


def record_password_update_failure(
    services: Services, meta: RequestMeta, identity: Caller
) -> Event | None:
    """A refused root password change (PasswordUpdated Failure), appended by the
    group-commit writer: the refused request waits for no account lock."""
    rec = _sign_in_record(meta, identity, "PasswordUpdated", False)
    return append_deferred(services, identity.account_id, rec)
