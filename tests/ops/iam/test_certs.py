"""SSH public keys, signing certificates and server certificates."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from chamberlain.crypto.ids import Prefix, is_unique_id
from chamberlain.domain import ServerCertificate
from chamberlain.ops.core.context import Caller, Services
from chamberlain.ops.core.errors import ServiceError
from chamberlain.protocol.models import find_operation, validate_input
from chamberlain.protocol.xml_out import serialize_response

from ..conftest import ACCOUNT, NOW, error, root_caller
from ..entity_seed import add_user

Call = Callable[..., Any]


# ------------------------------------------------------------------------ key material


@cache
def rsa_key(bits: int = 2048, index: int = 0) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def openssh(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )


def md5_fingerprint(openssh_line: str) -> str:
    digest = hashlib.md5(base64.b64decode(openssh_line.split()[1])).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, 32, 2))


def pem_private(key: Any) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def certificate(
    subject: str, key: Any, issuer: tuple[str, Any] | None = None, days: int = 365
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=days))
        .sign(issuer_key, hashes.SHA256())
    )


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@cache
def ec_key(index: int) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@cache
def ca_and_leaf() -> tuple[str, str, str]:
    """(CA certificate, leaf certificate signed by it, the leaf's private key), PEM."""
    ca_key, leaf_key = ec_key(100), ec_key(101)
    ca = certificate("Example CA", ca_key)
    leaf = certificate("www.example.com", leaf_key, issuer=("Example CA", ca_key))
    return pem(ca), pem(leaf), pem_private(leaf_key)


# ---------------------------------------------------------------------------- harness


@pytest.fixture
def aws(iam_as: Call) -> Call:
    """Run an operation with model-valid input and check the output serializes."""

    def call(name: str, caller: Caller | None = None, **params: Any) -> Any:
        op = find_operation("iam", name)
        assert op is not None
        assert validate_input(op.input_shape, params) == []
        out = iam_as(caller or root_caller(), name, **params)
        serialize_response("iam", name, out, "req")
        return out

    return call




@pytest.fixture
def alice(services: Services) -> Caller:
    return add_user(services, "alice")




# ===================================================================== SSH public keys


def test_upload_and_get_ssh_key(aws: Call, alice: Caller):
    line = openssh(rsa_key()) + " alice@laptop"
    key = aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line)["SSHPublicKey"]
    # AWS's SSH public key ids are 20 characters, APKA + 16 (IAM API Reference,
    # SSHPublicKey: SSHPublicKeyId, e.g. APKAEIBAERJR2EXAMPLE in the CLI's examples).
    assert re.fullmatch(r"APKA[A-Z0-9]{16}", key["SSHPublicKeyId"])
    assert key["Fingerprint"] == md5_fingerprint(line)
    assert (key["UserName"], key["Status"], key["UploadDate"]) == ("alice", "Active", NOW)
    assert key["SSHPublicKeyBody"] == line
    key_id = key["SSHPublicKeyId"]

    as_ssh = aws("GetSSHPublicKey", UserName="alice", SSHPublicKeyId=key_id, Encoding="SSH")
    assert as_ssh == {"SSHPublicKey": key}
    as_pem = aws("GetSSHPublicKey", UserName="alice", SSHPublicKeyId=key_id, Encoding="PEM")
    body = as_pem["SSHPublicKey"]["SSHPublicKeyBody"]
    assert body.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = serialization.load_pem_public_key(body.encode())
    assert loaded.public_numbers() == rsa_key().public_key().public_numbers()


def test_pem_and_ed25519_keys(aws: Call, alice: Caller):
    rsa_pem = (
        rsa_key(2048, 1)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    uploaded = aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=rsa_pem)
    key_id = uploaded["SSHPublicKey"]["SSHPublicKeyId"]
    got = aws("GetSSHPublicKey", UserName="alice", SSHPublicKeyId=key_id, Encoding="SSH")
    assert got["SSHPublicKey"]["SSHPublicKeyBody"] == openssh(rsa_key(2048, 1))
    assert uploaded["SSHPublicKey"]["Fingerprint"] == md5_fingerprint(openssh(rsa_key(2048, 1)))
    line = openssh(ed25519.Ed25519PrivateKey.generate())
    aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line)


def test_ssh_key_errors(aws: Call, alice: Caller):
    line = openssh(rsa_key())
    aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line)
    with pytest.raises(ServiceError) as excinfo:
        aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line + " again")
    assert excinfo.value.code == "DuplicateSSHPublicKey"
    assert excinfo.value.http_status == 400

    invalid = [
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ== broken",
        openssh(rsa_key(1024)),  # under 2048 bits
        openssh(ec_key(0)),  # ECDSA is not accepted
        "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
    ]
    for body in invalid:
        with pytest.raises(ServiceError) as excinfo:
            aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=body)
        assert error(excinfo) == (
            "InvalidPublicKey",
            "The public key is malformed or otherwise invalid.",
        )
    with pytest.raises(ServiceError) as excinfo:
        aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody="this is not a key")
    assert error(excinfo) == (
        "UnrecognizedPublicKeyEncoding",
        "The public key encoding format is unsupported or unrecognized.",
    )
    with pytest.raises(ServiceError) as excinfo:
        aws("UploadSSHPublicKey", UserName="nobody", SSHPublicKeyBody=line)
    assert error(excinfo) == ("NoSuchEntity", "The user with name nobody cannot be found.")


def test_ssh_key_quota_is_five(aws: Call, alice: Caller):
    for _ in range(5):
        line = openssh(ed25519.Ed25519PrivateKey.generate())
        aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line)
    with pytest.raises(ServiceError) as excinfo:
        line = openssh(ed25519.Ed25519PrivateKey.generate())
        aws("UploadSSHPublicKey", UserName="alice", SSHPublicKeyBody=line)
    assert error(excinfo) == ("LimitExceeded", "Cannot exceed quota for PublicKeysPerUser: 5")


def test_ssh_key_update_list_delete(aws: Call, services: Services, alice: Caller):
    add_user(services, "bob")
    ids = sorted(
        aws(
            "UploadSSHPublicKey",
            UserName="alice",
            SSHPublicKeyBody=openssh(ed25519.Ed25519PrivateKey.generate()),
        )["SSHPublicKey"]["SSHPublicKeyId"]
        for _ in range(3)
    )
    aws("UpdateSSHPublicKey", UserName="alice", SSHPublicKeyId=ids[0], Status="Inactive")
    page = aws("ListSSHPublicKeys", UserName="alice", MaxItems=2)
    assert [k["SSHPublicKeyId"] for k in page["SSHPublicKeys"]] == ids[:2]
    assert page["SSHPublicKeys"][0] == {
        "UserName": "alice",
        "SSHPublicKeyId": ids[0],
        "Status": "Inactive",
        "UploadDate": NOW,
    }
    rest = aws("ListSSHPublicKeys", UserName="alice", Marker=page["Marker"])
    assert [k["SSHPublicKeyId"] for k in rest["SSHPublicKeys"]] == ids[2:]
    with pytest.raises(ServiceError) as excinfo:  # not bob's key
        aws("DeleteSSHPublicKey", UserName="bob", SSHPublicKeyId=ids[0])
    assert error(excinfo) == ("NoSuchEntity", f"The Public Key with id {ids[0]} cannot be found.")
    aws("DeleteSSHPublicKey", UserName="alice", SSHPublicKeyId=ids[0])
    assert len(aws("ListSSHPublicKeys", UserName="alice")["SSHPublicKeys"]) == 2
    with pytest.raises(ServiceError) as excinfo:
        aws("GetSSHPublicKey", UserName="alice", SSHPublicKeyId=ids[0], Encoding="SSH")
    assert excinfo.value.code == "NoSuchEntity"


def test_ssh_keys_need_permission(aws: Call, services: Services, alice: Caller):
    with pytest.raises(ServiceError) as excinfo:
        aws("ListSSHPublicKeys", caller=alice)
    assert excinfo.value.code == "AccessDenied"
    own = f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"
    bob = add_user(services, "bob", [{"Effect": "Allow", "Action": "iam:*SSH*", "Resource": own}])
    line = openssh(ed25519.Ed25519PrivateKey.generate())
    aws("UploadSSHPublicKey", caller=bob, UserName="bob", SSHPublicKeyBody=line)
    assert len(aws("ListSSHPublicKeys", caller=bob)["SSHPublicKeys"]) == 1
    with pytest.raises(ServiceError) as excinfo:
        aws("ListSSHPublicKeys", caller=bob, UserName="alice")
    assert excinfo.value.code == "AccessDenied"


# ================================================================ signing certificates


def test_signing_certificate_lifecycle(aws: Call, alice: Caller):
    body = pem(certificate("alice", ec_key(1)))
    cert = aws("UploadSigningCertificate", UserName="alice", CertificateBody=body)["Certificate"]
    assert len(cert["CertificateId"]) >= 24
    assert (cert["UserName"], cert["Status"], cert["UploadDate"]) == ("alice", "Active", NOW)
    assert body.endswith("-----\n")
    assert cert["CertificateBody"] == body  # byte for byte, trailing newline included
    cert_id = cert["CertificateId"]
    aws("UpdateSigningCertificate", UserName="alice", CertificateId=cert_id, Status="Inactive")
    listed = aws("ListSigningCertificates", UserName="alice")
    assert listed == {"Certificates": [{**cert, "Status": "Inactive"}], "IsTruncated": False}
    aws("DeleteSigningCertificate", UserName="alice", CertificateId=cert_id)
    with pytest.raises(ServiceError) as excinfo:
        aws("DeleteSigningCertificate", UserName="alice", CertificateId=cert_id)
    assert error(excinfo) == ("NoSuchEntity", f"The Certificate with id {cert_id} cannot be found.")


def test_signing_certificate_rules(aws: Call, services: Services, alice: Caller):
    add_user(services, "bob")
    first = pem(certificate("one", ec_key(2)))
    aws("UploadSigningCertificate", UserName="alice", CertificateBody=first)
    with pytest.raises(ServiceError) as excinfo:  # one user per certificate, account-wide
        aws("UploadSigningCertificate", UserName="bob", CertificateBody=first)
    assert excinfo.value.code == "DuplicateCertificate"
    assert excinfo.value.http_status == 409
    aws(
        "UploadSigningCertificate",
        UserName="alice",
        CertificateBody=pem(certificate("2", ec_key(3))),
    )
    with pytest.raises(ServiceError) as excinfo:
        body = pem(certificate("three", ec_key(4)))
        aws("UploadSigningCertificate", UserName="alice", CertificateBody=body)
    assert error(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for CertificatesPerUser: 2",
    )
    with pytest.raises(ServiceError) as excinfo:
        aws("UploadSigningCertificate", UserName="bob", CertificateBody="not a certificate")
    assert error(excinfo) == (
        "MalformedCertificate",
        "Unable to parse certificate. Please ensure the certificate is in PEM format.",
    )


def test_root_signing_certificate(aws: Call):
    body = pem(certificate("root", ec_key(5)))
    cert = aws("UploadSigningCertificate", CertificateBody=body)["Certificate"]
    assert "UserName" not in cert
    assert aws("GetAccountSummary")["SummaryMap"]["AccountSigningCertificatesPresent"] == 1


# ================================================================= server certificates


def upload(aws: Call, name: str = "web", **extra: Any) -> dict[str, Any]:
    ca, leaf, key = ca_and_leaf()
    params = {"CertificateBody": leaf, "PrivateKey": key, "CertificateChain": ca, **extra}
    return aws("UploadServerCertificate", ServerCertificateName=name, **params)


def test_server_certificate_upload_and_get(aws: Call, services: Services):
    ca, leaf, key = ca_and_leaf()
    meta = upload(aws, Path="/cloudfront/")["ServerCertificateMetadata"]
    assert meta["Arn"] == f"arn:aws:iam::{ACCOUNT}:server-certificate/cloudfront/web"
    assert is_unique_id(meta["ServerCertificateId"], Prefix.CERTIFICATE)
    assert meta["Expiration"] == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert meta["UploadDate"] == NOW
    got = aws("GetServerCertificate", ServerCertificateName="web")["ServerCertificate"]
    assert got == {
        "ServerCertificateMetadata": meta,
        "CertificateBody": leaf,  # byte for byte, as uploaded
        "CertificateChain": ca,
    }
    assert "PRIVATE KEY" not in json.dumps(got, default=str)
    with services.store.unit_of_work(read_only=True) as uow:
        stored = uow.repo(ServerCertificate).get(ACCOUNT, "web")
    assert stored is not None
    assert b"PRIVATE KEY" not in stored.private_key_encrypted
    aad = stored.server_certificate_id.encode()
    assert services.secrets.decrypt(stored.private_key_encrypted, aad).decode() == key.strip()


def test_server_certificate_key_must_match(aws: Call):
    _, leaf, _ = ca_and_leaf()
    other_key = pem_private(ec_key(7))
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "UploadServerCertificate",
            ServerCertificateName="web",
            CertificateBody=leaf,
            PrivateKey=other_key,
        )
    assert excinfo.value.code == "KeyPairMismatch"
    assert "PRIVATE KEY" not in str(excinfo.value) and other_key not in str(excinfo.value)
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "UploadServerCertificate",
            ServerCertificateName="web",
            CertificateBody=leaf,
            PrivateKey="-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
        )
    assert excinfo.value.code == "MalformedCertificate"
    assert aws("ListServerCertificates")["ServerCertificateMetadataList"] == []


def test_server_certificate_chain_is_checked(aws: Call):
    _, leaf, key = ca_and_leaf()
    unrelated = pem(certificate("Other CA", ec_key(8)))
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "UploadServerCertificate",
            ServerCertificateName="web",
            CertificateBody=leaf,
            PrivateKey=key,
            CertificateChain=unrelated,
        )
    assert excinfo.value.code == "MalformedCertificate"
    assert excinfo.value.message.endswith(
        "The index within the chain of the invalid certificate is: 0"
    )
    with pytest.raises(ServiceError) as excinfo:
        aws(
            "UploadServerCertificate",
            ServerCertificateName="web",
            CertificateBody=leaf,
            PrivateKey=key,
            CertificateChain="garbage",
        )
    assert excinfo.value.code == "MalformedCertificate"


def test_server_certificate_name_and_quota(aws: Call):
    upload(aws, "web")
    with pytest.raises(ServiceError) as excinfo:
        upload(aws, "WEB")
    assert error(excinfo) == (
        "EntityAlreadyExists",
        "The Server Certificate with name WEB already exists.",
    )
    for i in range(19):
        upload(aws, f"cert{i:02d}")
    with pytest.raises(ServiceError) as excinfo:
        upload(aws, "one-too-many")
    assert error(excinfo) == (
        "LimitExceeded",
        "Cannot exceed quota for ServerCertificatesPerAccount: 20",
    )


def test_server_certificate_update_list_delete(aws: Call):
    upload(aws, "web")
    upload(aws, "api", Path="/internal/")
    aws(
        "UpdateServerCertificate",
        ServerCertificateName="web",
        NewServerCertificateName="www",
        NewPath="/internal/",
    )
    with pytest.raises(ServiceError) as excinfo:
        aws("GetServerCertificate", ServerCertificateName="web")
    assert error(excinfo) == (
        "NoSuchEntity",
        "The Server Certificate with name web cannot be found.",
    )
    moved = aws("GetServerCertificate", ServerCertificateName="www")["ServerCertificate"]
    assert moved["ServerCertificateMetadata"]["Arn"].endswith(":server-certificate/internal/www")
    with pytest.raises(ServiceError) as excinfo:
        aws("UpdateServerCertificate", ServerCertificateName="www", NewServerCertificateName="api")
    assert excinfo.value.code == "EntityAlreadyExists"
    internal = aws("ListServerCertificates", PathPrefix="/internal/")
    assert [c["ServerCertificateName"] for c in internal["ServerCertificateMetadataList"]] == [
        "api",
        "www",
    ]
    page = aws("ListServerCertificates", MaxItems=1)
    assert page["IsTruncated"] is True
    aws("DeleteServerCertificate", ServerCertificateName="api")
    aws("DeleteServerCertificate", ServerCertificateName="www")
    assert aws("ListServerCertificates")["ServerCertificateMetadataList"] == []


def test_server_certificate_tags(aws: Call):
    tags = [{"Key": "env", "Value": "prod"}]
    assert upload(aws, "web", Tags=tags)["Tags"] == tags
    aws("TagServerCertificate", ServerCertificateName="web", Tags=[{"Key": "team", "Value": "a"}])
    listed = aws("ListServerCertificateTags", ServerCertificateName="web")["Tags"]
    assert listed == [*tags, {"Key": "team", "Value": "a"}]
    aws("UntagServerCertificate", ServerCertificateName="web", TagKeys=["env"])
    got = aws("GetServerCertificate", ServerCertificateName="web")["ServerCertificate"]
    assert got["Tags"] == [{"Key": "team", "Value": "a"}]


def test_server_certificates_need_permission(aws: Call, services: Services, alice: Caller):
    with pytest.raises(ServiceError) as excinfo:
        upload(aws, "web", caller=alice)
    assert excinfo.value.code == "AccessDenied"
    upload(aws, "web")
    old = f"arn:aws:iam::{ACCOUNT}:server-certificate/web"
    bob = add_user(
        services,
        "bob",
        [{"Effect": "Allow", "Action": "iam:*ServerCertificate*", "Resource": old}],
    )
    assert aws("GetServerCertificate", caller=bob, ServerCertificateName="web")
    with pytest.raises(ServiceError) as excinfo:  # the new name needs permission too
        aws(
            "UpdateServerCertificate",
            caller=bob,
            ServerCertificateName="web",
            NewServerCertificateName="renamed",
        )
    assert excinfo.value.code == "AccessDenied"
    assert "server-certificate/renamed" in excinfo.value.message
