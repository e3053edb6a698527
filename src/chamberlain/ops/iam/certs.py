"""Keys and certificates IAM keeps for other services.

SSH public keys (UploadSSHPublicKey, GetSSHPublicKey, UpdateSSHPublicKey,
DeleteSSHPublicKey, ListSSHPublicKeys): OpenSSH one-line (ssh-rsa of at least 2048 bits,
ssh-ed25519) or PEM public keys; the fingerprint is the MD5 of the key blob, written as
AWS and `ssh-keygen -E md5` write it.

Signing certificates (UploadSigningCertificate, UpdateSigningCertificate,
DeleteSigningCertificate, ListSigningCertificates): X.509 in PEM, two per user, and a
certificate belongs to one user of the account at most.

Server certificates (UploadServerCertificate, GetServerCertificate,
UpdateServerCertificate, DeleteServerCertificate, ListServerCertificates and tags): the
private key must match the certificate, is encrypted at rest and is never returned.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import replace
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import SSHPublicKeyTypes

from chamberlain.crypto.ids import ID_ALPHABET, Prefix, new_unique_id
from chamberlain.domain import ServerCertificate, SigningCertificate, SshPublicKey
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.entities import SERVER_CERTIFICATES
from chamberlain.ops.core.errors import (
    DuplicateCertificate,
    DuplicateSSHPublicKey,
    EntityAlreadyExists,
    InvalidPublicKey,
    KeyPairMismatch,
    LimitExceeded,
    MalformedCertificate,
    UnrecognizedPublicKeyEncoding,
)
from chamberlain.ops.core.path_lists import path_list_operation
from chamberlain.ops.core.registry import Output, Params, compact, operation
from chamberlain.ops.core.tagging import tag_operations
from chamberlain.ops.core.tags import (
    check_tag_count,
    tags_in,
    with_tags,
)
from chamberlain.ops.iam.user_credentials import (
    OwnedKind,
    credential_owner,
    owned_operations,
    owner_target,
    user_name_out,
)

SSH_KEYS_PER_USER = 5
SIGNING_CERTIFICATES_PER_USER = 2
SERVER_CERTIFICATES_PER_ACCOUNT = 20
MIN_RSA_BITS = 2048
SIGNING_CERTIFICATE_ID_LENGTH = 32  # AWS's are 24+ characters (certificateIdType)

_SSH_LINE = re.compile(r"(ssh|ecdsa|sk)-[\w@.-]+\s")
_PEM_BLOCK = re.compile(r"-----BEGIN CERTIFICATE-----\s.*?-----END CERTIFICATE-----", re.DOTALL)
_MALFORMED_CERT = "Unable to parse certificate. Please ensure the certificate is in PEM format."
_MALFORMED_KEY = "Unable to parse private key. Please ensure the private key is in PEM format."
_MALFORMED_CHAIN = "Unable to parse certificate chain. Please ensure the chain is in PEM format."
SSH_PUBLIC_KEY_ID_LENGTH = 20
_INVALID_KEY = "The public key is malformed or otherwise invalid."
_UNRECOGNIZED_KEY = "The public key encoding format is unsupported or unrecognized."


# ===================================================================== SSH public keys


def parse_ssh_public_key(body: str) -> tuple[PublicKeyTypes, str]:
    """The key and the encoding it came in ("SSH" or "PEM"). Raises InvalidPublicKey
    for a malformed or unsupported key, UnrecognizedPublicKeyEncoding for other text."""
    text = body.strip()
    try:
        if _SSH_LINE.match(text):
            encoding = "SSH"
            key: PublicKeyTypes | SSHPublicKeyTypes = serialization.load_ssh_public_key(
                text.encode()
            )
        elif text.startswith("-----BEGIN "):
            encoding = "PEM"
            key = serialization.load_pem_public_key(text.encode())
        else:
            raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED_KEY)
    except (ValueError, UnsupportedAlgorithm):
        raise InvalidPublicKey(_INVALID_KEY) from None
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidPublicKey(_INVALID_KEY)
    elif not isinstance(key, ed25519.Ed25519PublicKey):
        raise InvalidPublicKey(_INVALID_KEY)
    return key, encoding


def _openssh(key: PublicKeyTypes) -> str:
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def _pem(key: PublicKeyTypes) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def ssh_fingerprint(key: PublicKeyTypes) -> str:
    """MD5 of the SSH wire-format key blob, as colon-separated hex pairs."""
    blob = base64.b64decode(_openssh(key).split()[1])
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


SSH_PUBLIC_KEYS = OwnedKind(
    SshPublicKey,
    "SSHPublicKeyId",
    "The Public Key with id {id} cannot be found.",
    allow_root=False,
)


def _ssh_out(key: SshPublicKey, body: str | None = None) -> dict[str, Any]:
    return {
        "UserName": key.user_name,
        "SSHPublicKeyId": key.ssh_public_key_id,
        "Fingerprint": key.fingerprint,
        "SSHPublicKeyBody": key.body if body is None else body,
        "Status": key.status,
        "UploadDate": key.uploaded,
    }


@operation("iam", "UploadSSHPublicKey", resource=owner_target)
def upload_ssh_public_key(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params, allow_root=False)
    body = params["SSHPublicKeyBody"].strip()
    key, _ = parse_ssh_public_key(body)
    fingerprint = ssh_fingerprint(key)
    repo = ctx.uow.repo(SshPublicKey)
    existing = repo.list(ctx.account_id, ref=owner.lower())
    if any(k.fingerprint == fingerprint for k in existing):
        raise DuplicateSSHPublicKey(
            "The SSH public key is already associated with the specified IAM user."
        )
    if len(existing) >= SSH_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for PublicKeysPerUser: {SSH_KEYS_PER_USER}")
    while True:
        # AWS's SSH public key ids are 20 characters: APKA + 16.
        key_id = new_unique_id(Prefix.PUBLIC_KEY)[:SSH_PUBLIC_KEY_ID_LENGTH]
        if repo.get(ctx.account_id, key_id) is None:
            break
    stored = SshPublicKey(
        account_id=ctx.account_id,
        user_name=owner,
        ssh_public_key_id=key_id,
        body=body,
        fingerprint=fingerprint,
        status="Active",
        uploaded=ctx.now,
    )
    repo.add(stored)
    return {"SSHPublicKey": _ssh_out(stored)}


@operation("iam", "GetSSHPublicKey", resource=owner_target, read_only=True)
def get_ssh_public_key(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params, allow_root=False)
    stored = SSH_PUBLIC_KEYS.require(ctx, owner, params["SSHPublicKeyId"])
    try:
        key, uploaded_as = parse_ssh_public_key(stored.body)
    except (InvalidPublicKey, UnrecognizedPublicKeyEncoding):
        raise UnrecognizedPublicKeyEncoding(_UNRECOGNIZED_KEY) from None
    wanted = params["Encoding"]
    if wanted == uploaded_as:
        body = stored.body
    else:
        body = _openssh(key) if wanted == "SSH" else _pem(key)
    return {"SSHPublicKey": _ssh_out(stored, body.strip())}


owned_operations(
    SSH_PUBLIC_KEYS,
    "SSHPublicKey",
    listing=(
        "SSHPublicKeys",
        lambda k: {
            "UserName": k.user_name,
            "SSHPublicKeyId": k.ssh_public_key_id,
            "Status": k.status,
            "UploadDate": k.uploaded,
        },
    ),
)


# ================================================================ certificates (PEM)


def parse_certificate(body: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(body.strip().encode())
    except ValueError:
        raise MalformedCertificate(_MALFORMED_CERT) from None


def _der_digest(certificate: x509.Certificate) -> bytes:
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).digest()


def _spki(key: PublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


# ================================================================ signing certificates


SIGNING_CERTIFICATES = OwnedKind(
    SigningCertificate, "CertificateId", "The Certificate with id {id} cannot be found."
)


def _signing_out(cert: SigningCertificate) -> dict[str, Any]:
    return compact(
        {
            "UserName": user_name_out(cert.user_name),
            "CertificateId": cert.certificate_id,
            "CertificateBody": cert.body,
            "Status": cert.status,
            "UploadDate": cert.uploaded,
        }
    )


def _new_signing_id(ctx: OpContext) -> str:
    repo = ctx.uow.repo(SigningCertificate)
    while True:
        candidate = "".join(
            secrets.choice(ID_ALPHABET) for _ in range(SIGNING_CERTIFICATE_ID_LENGTH)
        )
        if repo.get(ctx.account_id, candidate) is None:
            return candidate


@operation("iam", "UploadSigningCertificate", resource=owner_target)
def upload_signing_certificate(ctx: OpContext, params: Params) -> Output:
    owner = credential_owner(ctx, params)
    body = params["CertificateBody"]  # returned byte for byte, as AWS returns it
    digest = _der_digest(parse_certificate(body))
    repo = ctx.uow.repo(SigningCertificate)
    for existing in repo.list(ctx.account_id):
        try:
            same = _der_digest(parse_certificate(existing.body)) == digest
        except MalformedCertificate:
            same = False
        if same:
            raise DuplicateCertificate(
                "The same certificate is already associated with an IAM user in the account."
            )
    if repo.count(ctx.account_id, ref=owner.lower()) >= SIGNING_CERTIFICATES_PER_USER:
        raise LimitExceeded(
            f"Cannot exceed quota for CertificatesPerUser: {SIGNING_CERTIFICATES_PER_USER}"
        )
    cert = SigningCertificate(
        account_id=ctx.account_id,
        user_name=owner,
        certificate_id=_new_signing_id(ctx),
        body=body,
        status="Active",
        uploaded=ctx.now,
    )
    repo.add(cert)
    return {"Certificate": _signing_out(cert)}


owned_operations(SIGNING_CERTIFICATES, "SigningCertificate", listing=("Certificates", _signing_out))


# ================================================================= server certificates


def _server_metadata(cert: ServerCertificate) -> dict[str, Any]:
    return {
        "Path": cert.path,
        "ServerCertificateName": cert.name,
        "ServerCertificateId": cert.server_certificate_id,
        "Arn": cert.arn,
        "UploadDate": cert.uploaded,
        "Expiration": cert.expiration,
    }


def _check_private_key(certificate: x509.Certificate, private_key_pem: str) -> None:
    try:
        key = serialization.load_pem_private_key(private_key_pem.strip().encode(), None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise MalformedCertificate(_MALFORMED_KEY) from None
    if _spki(key.public_key()) != _spki(certificate.public_key()):
        raise KeyPairMismatch("The public key in the certificate does not match the private key.")


def _check_chain(certificate: x509.Certificate, chain: str) -> None:
    """The chain must start with the certificate's issuer, then each next issuer."""
    blocks = _PEM_BLOCK.findall(chain)
    if not blocks:
        raise MalformedCertificate(_MALFORMED_CHAIN)
    issued = certificate
    for index, block in enumerate(blocks):
        try:
            issuer = x509.load_pem_x509_certificate(block.encode())
        except ValueError:
            raise MalformedCertificate(_MALFORMED_CHAIN) from None
        try:
            issued.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            raise MalformedCertificate(
                "Unable to validate certificate chain. The certificate chain must start with "
                "the immediate signing certificate, followed by any intermediaries in order. "
                f"The index within the chain of the invalid certificate is: {index}"
            ) from None
        issued = issuer


@operation(
    "iam",
    "UploadServerCertificate",
    resource=lambda ctx, params: SERVER_CERTIFICATES.create_target(
        ctx, params, "iam:TagServerCertificate"
    ),
)
def upload_server_certificate(ctx: OpContext, params: Params) -> Output:
    name = params["ServerCertificateName"]
    path = params.get("Path") or "/"
    tags = check_tag_count(tags_in(params.get("Tags")))
    body = params["CertificateBody"]  # body and chain are returned byte for byte
    certificate = parse_certificate(body)
    private_key = params["PrivateKey"]
    _check_private_key(certificate, private_key)
    chain = params.get("CertificateChain")
    if chain is not None:
        _check_chain(certificate, chain)
    SERVER_CERTIFICATES.check_free(
        ctx,
        name.lower(),
        f"The Server Certificate with name {name} already exists.",
        "ServerCertificatesPerAccount",
        SERVER_CERTIFICATES_PER_ACCOUNT,
    )
    cert_id = new_unique_id(Prefix.CERTIFICATE)
    stored = ServerCertificate(
        account_id=ctx.account_id,
        server_certificate_id=cert_id,
        name=name,
        path=path,
        arn=iam_arn(ctx, "server-certificate", name, path),
        body=body,
        chain=chain,
        private_key_encrypted=ctx.services.secrets.encrypt(
            private_key.strip().encode(), aad=cert_id.encode()
        ),
        uploaded=ctx.now,
        expiration=certificate.not_valid_after_utc,
        tags=tags,
    )
    ctx.uow.repo(ServerCertificate).add(stored)
    return with_tags({"ServerCertificateMetadata": _server_metadata(stored)}, tags)


@operation("iam", "GetServerCertificate", resource=SERVER_CERTIFICATES.resolve, read_only=True)
def get_server_certificate(ctx: OpContext, params: Params) -> Output:
    cert = SERVER_CERTIFICATES.require(ctx, params["ServerCertificateName"])
    out: dict[str, Any] = {
        "ServerCertificateMetadata": _server_metadata(cert),
        "CertificateBody": cert.body,
    }
    if cert.chain:
        out["CertificateChain"] = cert.chain
    return {"ServerCertificate": with_tags(out, cert.tags)}


@operation(
    "iam",
    "UpdateServerCertificate",
    resource=lambda ctx, params: SERVER_CERTIFICATES.rename_target(
        ctx, params, "NewServerCertificateName", "iam:UpdateServerCertificate"
    ),
)
def update_server_certificate(ctx: OpContext, params: Params) -> Output:
    cert = SERVER_CERTIFICATES.require(ctx, params["ServerCertificateName"])
    name = params.get("NewServerCertificateName") or cert.name
    path = params.get("NewPath") or cert.path
    repo = ctx.uow.repo(ServerCertificate)
    if name.lower() != cert.key and repo.get(ctx.account_id, name.lower()) is not None:
        raise EntityAlreadyExists(f"The Server Certificate with name {name} already exists.")
    updated = replace(
        cert, name=name, path=path, arn=iam_arn(ctx, "server-certificate", name, path)
    )
    if updated.key != cert.key:
        repo.delete(ctx.account_id, cert.key)
    repo.put(updated)
    return None


@operation("iam", "DeleteServerCertificate", resource=SERVER_CERTIFICATES.resolve)
def delete_server_certificate(ctx: OpContext, params: Params) -> Output:
    cert = SERVER_CERTIFICATES.require(ctx, params["ServerCertificateName"])
    ctx.uow.repo(ServerCertificate).delete(ctx.account_id, cert.key)
    return None


path_list_operation(
    "ListServerCertificates",
    ServerCertificate,
    "server-certificate",
    "ServerCertificateMetadataList",
    lambda ctx, cert: _server_metadata(cert),
)


tag_operations(SERVER_CERTIFICATES, "ServerCertificate")
