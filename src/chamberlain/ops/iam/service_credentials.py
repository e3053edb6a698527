"""Service-specific credentials: CreateServiceSpecificCredential,
ListServiceSpecificCredentials, ResetServiceSpecificCredential,
UpdateServiceSpecificCredential, DeleteServiceSpecificCredential.

Two kinds, as AWS has them:

* a user name and password for CodeCommit (Git over HTTPS) and Amazon Keyspaces
  (Cassandra): ServiceUserName `<user>-at-<account>` and a generated ServicePassword;
* an API key for Amazon Bedrock and CloudWatch Logs: ServiceCredentialAlias
  `<user>-at-<account>` and a ServiceCredentialSecret (a service prefix and the base64 of
  `alias:secret`, the shape Bedrock's `ABSK...` keys have), optionally expiring after
  CredentialAgeDays.

The secret is generated here, encrypted at rest with the operator's key (bound to the
credential id) and shown once, by Create and Reset. At most two per user and service.
`has_service_specific_credentials` is the check DeleteUser makes.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import secrets
from dataclasses import replace
from typing import Any

from chamberlain.crypto.ids import Prefix, new_unique_id
from chamberlain.domain import ServiceSpecificCredential
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext, Services
from chamberlain.ops.core.errors import (
    InvalidInput,
    LimitExceeded,
    ServiceNotSupported,
)
from chamberlain.ops.core.pagination import paginate
from chamberlain.ops.core.registry import Output, Params, Target, compact, operation
from chamberlain.ops.iam.user_credentials import OwnedKind, owned_operations, owner_target

CREDENTIALS_PER_USER_PER_SERVICE = 2
PASSWORD_SERVICES = ("codecommit.amazonaws.com", "cassandra.amazonaws.com")
# API-key services and the prefix their keys carry.
API_KEY_SERVICES = {"bedrock.amazonaws.com": "ABSK", "logs.amazonaws.com": "ACWL"}
_PASSWORD_BYTES = 44  # base64: 60 characters, as AWS's generated passwords are
_API_SECRET_BYTES = 45


# ------------------------------------------------------------------ for other modules


def has_service_specific_credentials(ctx: OpContext, user_name: str) -> bool:
    """DeleteUser's check: AWS refuses to delete a user who still has any."""
    repo = ctx.uow.repo(ServiceSpecificCredential)
    return repo.count(ctx.account_id, ref=user_name.lower()) > 0


def verify_service_secret(
    services: Services, credential: ServiceSpecificCredential, given: str
) -> bool:
    """Whether `given` is the credential's current password or API-key secret (constant
    time). For the services that authenticate with these credentials."""
    stored = _decrypt(services, credential)
    return hmac.compare_digest(stored.encode(), given.encode())


# ------------------------------------------------------------------------- helpers


def _check_service(name: str) -> str:
    if name not in PASSWORD_SERVICES and name not in API_KEY_SERVICES:
        raise ServiceNotSupported(
            f"No such service {name} is supported for Service Specific Credentials"
        )
    return name


def _aad(credential_id: str) -> bytes:
    return f"service-specific-credential:{credential_id}".encode()


def _decrypt(services: Services, credential: ServiceSpecificCredential) -> str:
    return services.secrets.decrypt(
        credential.secret_encrypted, aad=_aad(credential.credential_id)
    ).decode()


def _new_secret(service: str, alias: str | None) -> str:
    """A password (password services) or an API key (API-key services)."""
    if service not in API_KEY_SERVICES:
        return base64.b64encode(secrets.token_bytes(_PASSWORD_BYTES)).decode()
    raw = base64.b64encode(secrets.token_bytes(_API_SECRET_BYTES)).decode()
    return API_KEY_SERVICES[service] + base64.b64encode(f"{alias}:{raw}".encode()).decode()


def _status(ctx: OpContext, credential: ServiceSpecificCredential) -> str:
    if credential.expires is not None and ctx.now >= credential.expires:
        return "Expired"
    return credential.status


def _metadata(ctx: OpContext, credential: ServiceSpecificCredential) -> dict[str, Any]:
    return compact(
        {
            "UserName": credential.user_name,
            "Status": _status(ctx, credential),
            "ServiceUserName": credential.service_user_name,
            "ServiceCredentialAlias": credential.alias,
            "CreateDate": credential.created,
            "ExpirationDate": credential.expires,
            "ServiceSpecificCredentialId": credential.credential_id,
            "ServiceName": credential.service_name,
        }
    )


def _with_secret(
    ctx: OpContext, credential: ServiceSpecificCredential, secret: str
) -> dict[str, Any]:
    out = _metadata(ctx, credential)
    if credential.service_name in API_KEY_SERVICES:
        out["ServiceCredentialSecret"] = secret
    else:
        out["ServicePassword"] = secret
    return {"ServiceSpecificCredential": out}


SERVICE_CREDENTIALS = OwnedKind(
    ServiceSpecificCredential,
    "ServiceSpecificCredentialId",
    "No such credential {id} exists",
    allow_root=False,
)


def _new_id(ctx: OpContext) -> str:
    repo = ctx.uow.repo(ServiceSpecificCredential)
    while True:
        credential_id = new_unique_id(Prefix.CONTEXT_SPECIFIC_CREDENTIAL)
        if repo.find(credential_id) is None:
            return credential_id


# ---------------------------------------------------------------------- operations


def _create_target(ctx: OpContext, params: Params) -> Target:
    target = owner_target(ctx, params)
    context: dict[str, Any] = dict(target.context)
    context["iam:ServiceSpecificCredentialServiceName"] = params["ServiceName"]
    if params.get("CredentialAgeDays") is not None:
        context["iam:ServiceSpecificCredentialAgeDays"] = params["CredentialAgeDays"]
    return Target(target.resource, context)


@operation("iam", "CreateServiceSpecificCredential", resource=_create_target)
def create_service_specific_credential(ctx: OpContext, params: Params) -> Output:
    owner = SERVICE_CREDENTIALS.owner(ctx, params)
    service = _check_service(params["ServiceName"])
    age_days = params.get("CredentialAgeDays")
    if age_days is not None and service not in API_KEY_SERVICES:
        raise InvalidInput(
            "CredentialAgeDays is only valid for Bedrock and CloudWatch Logs API keys."
        )
    repo = ctx.uow.repo(ServiceSpecificCredential)
    held = [c for c in repo.list(ctx.account_id, ref=owner.lower()) if c.service_name == service]
    if len(held) >= CREDENTIALS_PER_USER_PER_SERVICE:
        raise LimitExceeded(
            "Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: "
            f"{CREDENTIALS_PER_USER_PER_SERVICE}"
        )
    credential_id = _new_id(ctx)
    login = f"{owner}-at-{ctx.account_id}"
    alias = login if service in API_KEY_SERVICES else None
    secret = _new_secret(service, alias)
    credential = ServiceSpecificCredential(
        account_id=ctx.account_id,
        credential_id=credential_id,
        user_name=owner,
        service_name=service,
        secret_encrypted=ctx.services.secrets.encrypt(secret.encode(), aad=_aad(credential_id)),
        status="Active",
        created=ctx.now,
        service_user_name=None if alias else login,
        alias=alias,
        expires=ctx.now + dt.timedelta(days=age_days) if age_days is not None else None,
    )
    repo.add(credential)
    return _with_secret(ctx, credential, secret)


def _list_target(ctx: OpContext, params: Params) -> Target:
    if params.get("AllUsers") and not params.get("UserName"):
        return Target(iam_arn(ctx, "user", "*"))
    return owner_target(ctx, params)


@operation("iam", "ListServiceSpecificCredentials", resource=_list_target, read_only=True)
def list_service_specific_credentials(ctx: OpContext, params: Params) -> Output:
    service = params.get("ServiceName")
    if service is not None:
        _check_service(service)
    repo = ctx.uow.repo(ServiceSpecificCredential)
    if params.get("AllUsers"):
        if params.get("UserName"):
            raise InvalidInput("AllUsers cannot be specified together with UserName.")
        found = repo.list(ctx.account_id)
    else:
        found = repo.list(ctx.account_id, ref=SERVICE_CREDENTIALS.owner(ctx, params).lower())
    if service is not None:
        found = [c for c in found if c.service_name == service]
    return paginate(
        params,
        found,
        lambda c: c.credential_id,
        member="ServiceSpecificCredentials",
        render=lambda c: _metadata(ctx, c),
    )


@operation("iam", "ResetServiceSpecificCredential", resource=owner_target)
def reset_service_specific_credential(ctx: OpContext, params: Params) -> Output:
    credential = SERVICE_CREDENTIALS.requested(ctx, params)
    secret = _new_secret(credential.service_name, credential.alias)
    encrypted = ctx.services.secrets.encrypt(secret.encode(), aad=_aad(credential.credential_id))
    credential = replace(credential, secret_encrypted=encrypted)
    ctx.uow.repo(ServiceSpecificCredential).put(credential)
    return _with_secret(ctx, credential, secret)


owned_operations(SERVICE_CREDENTIALS, "ServiceSpecificCredential")
