"""The AWS SDK for JavaScript v3 against a real server: tests/e2e/js/workload.mjs runs
users, groups, policies and versions, access keys, roles, AssumeRole and GetSessionToken
with calls on the temporary credentials, paginated lists (the SDK's paginators), the
credential report and LookupEvents pages, and exits non-zero naming the first call that
failed or whose reply did not parse; tests/e2e/js/web_identity.mjs exchanges an OpenID
Connect token (AssumeRoleWithWebIdentity, unsigned) and uses the credentials.

Its packages are pinned in tests/e2e/js/package-lock.json; `npm ci --prefix tests/e2e/js`
installs them. Without them the test skips, except in CI (CI set), where it fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ACCOUNT, Server
from .oidc_issuer import Issuer, SigningKey

JS_DIR = Path(__file__).parent / "js"
SDK_PACKAGES = ("client-iam", "client-sts", "client-cloudtrail")


def _sdk_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    modules = JS_DIR / "node_modules" / "@aws-sdk"
    absent = [name for name in SDK_PACKAGES if not (modules / name).is_dir()]
    if absent:
        return f"tests/e2e/js/node_modules lacks @aws-sdk/{', '.join(absent)}"
    return None


@pytest.fixture(scope="module")
def node_workload() -> Path:
    missing = _sdk_missing()
    if missing is not None:
        reason = f"{missing}: run `npm ci --prefix tests/e2e/js`"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the JS SDK tests, but {reason}")
        pytest.skip(reason)
    return JS_DIR / "workload.mjs"


def _admin_keys(server: Server) -> tuple[str, str]:
    credentials = server.session("admin").get_credentials()
    assert credentials is not None
    return credentials.access_key, credentials.secret_key


def run_node(script: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a script with only the environment given (none of the machine's AWS_*)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        ["node", str(script)],
        cwd=JS_DIR,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # no shared config or credentials of the machine's may leak in
        env={
            **clean,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            **env,
        },
    )


def run_workload(server: Server, script: Path, **env: str) -> subprocess.CompletedProcess[str]:
    key_id, secret = _admin_keys(server)
    given = {
        "CHAMBERLAIN_ENDPOINT": server.endpoint,
        "CHAMBERLAIN_ACCOUNT": ACCOUNT,
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    return run_node(script, **{**given, **env})


@pytest.mark.parametrize("sts_region", ["eu-west-1", "us-east-1"])
def test_js_sdk_workload(node_workload: Path, server: Server, sts_region: str) -> None:
    """STS signed for a regional endpoint's region (eu-west-1, what an SDK configured for
    that region sends) and for the global endpoint's (us-east-1)."""
    done = run_workload(server, node_workload, CHAMBERLAIN_STS_REGION=sts_region)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ok: JS SDK workload" in done.stdout


def test_workload_failure_names_the_call(node_workload: Path, server: Server) -> None:
    """The workload is not a test that cannot fail: a bad secret makes its first call fail,
    and the message names it."""
    done = run_workload(server, node_workload, AWS_SECRET_ACCESS_KEY="0" * 40)
    assert done.returncode == 1
    assert "FAILED GetCallerIdentity: SignatureDoesNotMatch" in done.stderr, done.stderr


AUDIENCE = "sts.amazonaws.com"
SUBJECT = "system:serviceaccount:default:js"


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    with Issuer() as running:
        yield running


def test_js_sdk_web_identity(node_workload: Path, server: Server, issuer: Issuer) -> None:
    """The JS SDK sends AssumeRoleWithWebIdentity unsigned, from a client without
    credentials; the credentials it returns work; a token signed by another key is
    InvalidIdentityToken (400), as in AWS (STS API Reference, AssumeRoleWithWebIdentity,
    https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html)."""
    iam = server.client("iam")
    provider = iam.create_open_id_connect_provider(
        Url=issuer.provider_url, ClientIDList=[AUDIENCE], ThumbprintList=[]
    )["OpenIDConnectProviderArn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Federated": provider},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {"StringEquals": {f"{issuer.host_path}:sub": SUBJECT}},
            }
        ],
    }
    name = f"js-web-{uuid.uuid4().hex[:8]}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    allow = {"Effect": "Allow", "Action": "iam:ListRoles", "Resource": "*"}
    iam.put_role_policy(
        RoleName=name,
        PolicyName="list",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow]}),
    )
    done = run_node(
        node_workload.with_name("web_identity.mjs"),
        CHAMBERLAIN_ENDPOINT=server.endpoint,
        CHAMBERLAIN_ROLE_ARN=role["Arn"],
        CHAMBERLAIN_WEB_IDENTITY_TOKEN=issuer.mint(sub=SUBJECT, aud=AUDIENCE),
        CHAMBERLAIN_BAD_WEB_IDENTITY_TOKEN=issuer.mint(
            sub=SUBJECT, aud=AUDIENCE, key=SigningKey.generate()
        ),
    )
    assert done.returncode == 0, done.stderr + done.stdout
    assert "ok: JS SDK web identity passed" in done.stdout
