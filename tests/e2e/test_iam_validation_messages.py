"""IAM's own words for a bad path, path prefix or name, through boto3 (issue #14).
Texts as IAM returns them: see tests/protocol/test_iam_messages.py for the sources."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from .conftest import Server


def test_bad_path_prefix_and_name_get_iams_sentences(server: Server) -> None:
    iam = server.client("iam")
    with pytest.raises(ClientError) as caught:
        iam.create_user(UserName="valid-name", Path="test/")
    err = caught.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "ValidationError"
    assert err["Error"]["Message"] == (
        "The specified value for path is invalid. It must begin and end with / and contain "
        "only alphanumeric characters and/or / characters."
    )
    with pytest.raises(ClientError) as caught:
        iam.list_policies(PathPrefix="/foo")
    assert caught.value.response["Error"]["Message"] == (
        "The specified value for pathPrefix is invalid. It must begin with the / character "
        "and contain only alphanumeric characters and/or / characters."
    )
    with pytest.raises(ClientError) as caught:
        iam.get_user(UserName="no spaces")
    assert caught.value.response["Error"]["Message"] == (
        "The specified value for userName is invalid. It must contain only alphanumeric "
        "characters and/or the following: +=,.@_-"
    )
    with pytest.raises(ClientError):
        iam.get_user(UserName="valid-name")  # nothing was created
