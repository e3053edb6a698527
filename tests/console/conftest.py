"""In-process console harness: the whole app (memory store) behind Starlette's TestClient,
an account whose root user has a known email and password, and an admin user."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from chamberlain.app import create_app
from chamberlain.cli import provision_account
from chamberlain.crypto.passwords import TEST_PARAMS
from chamberlain.crypto.secrets import SecretBox, generate_key
from chamberlain.crypto.tokens import TokenSealer
from chamberlain.ops.core.context import Services
from chamberlain.store.api import Store
from chamberlain.store.memory import MemoryStore

ACCOUNT = "123456789012"
ROOT_EMAIL = "root@example.com"
ROOT_PASSWORD = "S3cure!Passw0rd#Root"
BASE = "http://127.0.0.1"


@dataclass
class Console:
    client: TestClient
    services: Services

    def csrf(self, path: str) -> str:
        page = self.client.get(path)
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found, f"no CSRF token on {path}: {page.status_code} {page.text[:300]}"
        return found.group(1)

    def sign_in_root(self, password: str = ROOT_PASSWORD) -> httpx.Response:
        token = self.csrf("/console/signin")
        return self.client.post(
            "/console/signin",
            data={"csrf": token, "kind": "root", "email": ROOT_EMAIL, "password": password},
            follow_redirects=False,
        )

    def sign_in_user(self, name: str, password: str, account: str = ACCOUNT) -> httpx.Response:
        token = self.csrf("/console/signin")
        return self.client.post(
            "/console/signin",
            data={
                "csrf": token,
                "kind": "user",
                "account": account,
                "username": name,
                "password": password,
            },
            follow_redirects=False,
        )

    def post(self, path: str, data: dict[str, str], page: str | None = None) -> httpx.Response:
        token = self.csrf(page or path)
        return self.client.post(path, data={"csrf": token, **data}, follow_redirects=False)


def services_on(store: Store, like: Services | None = None) -> Services:
    """Services on `store`; with `like`, the same keys (another node of one deployment)."""
    if like is not None:
        return Services(
            store=store, secrets=like.secrets, tokens=like.tokens, password_params=TEST_PARAMS
        )
    key = generate_key()
    return Services(
        store=store,
        secrets=SecretBox(key),
        tokens=TokenSealer(key),
        password_params=TEST_PARAMS,
    )


def make_services() -> Services:
    return services_on(MemoryStore())


def provisioned(services: Services, tmp_path: Path) -> Services:
    """The test account (root with ROOT_EMAIL / ROOT_PASSWORD, user admin) in `services`."""
    provision_account(
        services,
        account_id=ACCOUNT,
        admin_user="admin",
        credentials_file=tmp_path / "credentials",
        profile="admin",
        root_access_key=False,
        email=ROOT_EMAIL,
        root_password=ROOT_PASSWORD,
    )
    return services


@pytest.fixture
def services(tmp_path: Path) -> Services:
    return provisioned(make_services(), tmp_path)


@pytest.fixture
def console(services: Services) -> Console:
    return Console(TestClient(create_app(services), base_url=BASE), services)
