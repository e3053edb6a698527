"""SigV4 over the wire: bad keys, bad signatures, presigned URLs, key status, last used."""

from __future__ import annotations

import datetime as dt
import uuid
from unittest import mock

import httpx
import pytest
from botocore.exceptions import ClientError

from .conftest import ACCOUNT, Server


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    r = exc.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def _new_user_key(server: Server) -> tuple[str, dict]:
    iam = server.client("iam")
    name = f"k-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    return name, iam.create_access_key(UserName=name)["AccessKey"]


def test_unknown_key_is_invalid_client_token_id(server: Server) -> None:
    sts = server.client_with_keys("sts", "AKIAIOSFODNN7EXAMPLE", "x" * 40)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == ("InvalidClientTokenId", 403)


def test_wrong_secret_is_signature_does_not_match(server: Server) -> None:
    _, key = _new_user_key(server)
    sts = server.client_with_keys("sts", key["AccessKeyId"], "y" * 40)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == ("SignatureDoesNotMatch", 403)
    assert "y" * 40 not in str(exc.value)


def test_inactive_and_deleted_keys_are_refused(server: Server) -> None:
    name, key = _new_user_key(server)
    sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    iam = server.client("iam")
    iam.update_access_key(UserName=name, AccessKeyId=key["AccessKeyId"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == ("InvalidClientTokenId", 403)
    iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == ("InvalidClientTokenId", 403)


def test_session_token_beside_a_long_term_key_is_refused(server: Server) -> None:
    """A stale AWS_SESSION_TOKEN left set next to long-term keys: AWS refuses the
    request instead of ignoring the token."""
    name, key = _new_user_key(server)
    token = server.client("sts").get_session_token()["Credentials"]["SessionToken"]
    sts = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"], token)
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert _code(exc) == ("InvalidClientTokenId", 403)
    assert token not in str(exc.value.response)
    ok = server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"])
    assert ok.get_caller_identity()["Arn"].endswith(f":user/{name}")


def test_request_signed_too_long_ago_is_refused(server: Server) -> None:
    sts = server.client("sts")
    stale = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=stale),
        pytest.raises(ClientError) as exc,
    ):
        sts.get_caller_identity()
    assert _code(exc) == ("SignatureDoesNotMatch", 403)
    assert "Signature expired" in exc.value.response["Error"]["Message"]


def test_presigned_url(server: Server) -> None:
    url = server.client("sts").generate_presigned_url(
        "get_caller_identity", ExpiresIn=60, HttpMethod="GET"
    )
    response = httpx.get(url)
    assert response.status_code == 200, response.text
    assert f"arn:aws:iam::{ACCOUNT}:user/admin" in response.text
    tampered = url.replace("X-Amz-Expires=60", "X-Amz-Expires=61")
    assert httpx.get(tampered).status_code == 403


def test_unsigned_request_is_refused(server: Server) -> None:
    response = httpx.post(server.endpoint, data={"Action": "ListUsers", "Version": "2010-05-08"})
    assert response.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in response.text
    assert response.headers["x-amzn-RequestId"]


def test_access_key_last_used(server: Server) -> None:
    name, key = _new_user_key(server)
    iam = server.client("iam")
    never = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])
    assert never["UserName"] == name
    assert never["AccessKeyLastUsed"]["ServiceName"] == "N/A"
    server.client_with_keys("sts", key["AccessKeyId"], key["SecretAccessKey"]).get_caller_identity()
    used = iam.get_access_key_last_used(AccessKeyId=key["AccessKeyId"])["AccessKeyLastUsed"]
    assert used["ServiceName"] == "sts"
    assert used["Region"] == "us-east-1"
    assert "LastUsedDate" in used
