"""The console's security properties in-process: headers, cookies, CSRF, the session's
lifetime and idle timeout, tampering, and revocation when credentials change."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from chamberlain.console import session as sessions
from chamberlain.ops.core.accounts import root_caller
from chamberlain.ops.core.context import RequestMeta
from chamberlain.ops.core.dispatch import execute

from .conftest import BASE, Console


def _cookie(console: Console) -> str:
    value = console.client.cookies.get(sessions.COOKIE)
    assert value
    return str(value)


def test_every_console_answer_has_a_strict_csp_and_no_framing(console: Console) -> None:
    for path in ("/console/signin", "/console/static/console.css", "/console/nope"):
        answer = console.client.get(path)
        csp = answer.headers["content-security-policy"]
        assert "default-src 'none'" in csp
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert answer.headers["x-frame-options"] == "DENY"
        assert answer.headers["x-content-type-options"] == "nosniff"


def test_session_cookie_is_httponly_samesite_strict_and_scoped(console: Console) -> None:
    answer = console.sign_in_root()
    assert answer.status_code == 303
    header = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(sessions.COOKIE))
    assert "HttpOnly" in header
    assert "SameSite=strict" in header
    assert "Path=/console" in header
    assert f"Max-Age={12 * 3600}" in header
    assert "Secure" not in header  # plain HTTP here; set over TLS (next test)


def test_session_cookie_is_secure_over_https(services: object) -> None:
    from starlette.testclient import TestClient

    from chamberlain.app import create_app

    from .conftest import ROOT_EMAIL, ROOT_PASSWORD

    client = TestClient(create_app(services), base_url="https://console.test")  # type: ignore[arg-type]
    tls = Console(client, services)  # type: ignore[arg-type]
    token = tls.csrf("/console/signin")
    answer = client.post(
        "/console/signin",
        data={"csrf": token, "kind": "root", "email": ROOT_EMAIL, "password": ROOT_PASSWORD},
        follow_redirects=False,
    )
    header = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(sessions.COOKIE))
    assert "Secure" in header


def test_sign_in_without_the_form_token_is_refused(console: Console) -> None:
    console.csrf("/console/signin")  # the pre-session token cookie is set
    answer = console.client.post(
        "/console/signin",
        data={"csrf": "forged", "kind": "root", "email": "x@y.z", "password": "p"},
        follow_redirects=False,
    )
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    assert sessions.COOKIE not in console.client.cookies


def test_a_post_without_the_sessions_csrf_token_changes_nothing(console: Console) -> None:
    console.sign_in_root()
    answer = console.client.post(
        "/console/dashboard/fix/password-policy", data={"csrf": "wrong"}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert "CSRF" in answer.text
    settings = console.client.get("/console/settings")
    assert 'id="no-policy"' in settings.text
    # a JSON or multipart body has no readable token either
    answer = console.client.post(
        "/console/dashboard/fix/password-policy", json={"csrf": "x"}, follow_redirects=False
    )
    assert answer.status_code == 403


def test_signed_out_pages_redirect_to_sign_in(console: Console) -> None:
    for path in ("/console/", "/console/users", "/console/credentials"):
        answer = console.client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].endswith("/console/signin")


def test_a_tampered_cookie_is_no_session(console: Console) -> None:
    console.sign_in_root()
    value = _cookie(console)
    flipped = value[:-3] + ("A" if value[-3] != "A" else "B") + value[-2:]
    console.client.cookies.set(sessions.COOKIE, flipped, path="/console")
    answer = console.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303


def _reseal(console: Console, **changes: Any) -> None:
    box = console.services.secrets
    opened = sessions.open_cookie(box, _cookie(console), dt.datetime.now(dt.UTC))
    assert opened is not None
    console.client.cookies.clear()
    console.client.cookies.set(
        sessions.COOKIE,
        sessions.seal(box, dataclasses.replace(opened, **changes)),
        domain="127.0.0.1",
        path="/console",
    )


def test_idle_timeout_and_lifetime_end_the_session(console: Console) -> None:
    console.sign_in_root()
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    now = int(dt.datetime.now(dt.UTC).timestamp())
    _reseal(console, seen=now - int(sessions.IDLE.total_seconds()) - 1)
    assert console.client.get("/console/", follow_redirects=False).status_code == 303
    console.sign_in_root()
    _reseal(console, issued=now - int(sessions.LIFETIME.total_seconds()) - 1)
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_each_answer_refreshes_the_idle_timer(console: Console) -> None:
    console.sign_in_root()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    _reseal(console, seen=now - 600)
    assert console.client.get("/console/users", follow_redirects=False).status_code == 200
    opened = sessions.open_cookie(
        console.services.secrets, _cookie(console), dt.datetime.now(dt.UTC)
    )
    assert opened is not None and opened.seen >= now


def test_a_key_created_elsewhere_ends_the_session(console: Console) -> None:
    """Revocation: the session's fingerprint covers the principal's access keys, MFA
    devices and password; a change made outside this session signs it out."""
    console.sign_in_root()
    assert console.client.get("/console/", follow_redirects=False).status_code == 200
    meta = RequestMeta(request_id="r", now=dt.datetime.now(dt.UTC).replace(microsecond=0))
    execute(console.services, root_caller("123456789012"), meta, "iam", "CreateAccessKey", {})
    answer = console.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/console/signin?ended=1")


def test_the_sessions_own_change_keeps_it_signed_in(console: Console) -> None:
    console.sign_in_root()
    answer = console.post("/console/keys/create", {}, page="/console/credentials")
    assert answer.status_code == 200
    assert "new-key-secret" in answer.text
    assert console.client.get("/console/", follow_redirects=False).status_code == 200


def test_sign_out_ends_the_session(console: Console) -> None:
    console.sign_in_root()
    answer = console.post("/console/signout", {}, page="/console/")
    assert answer.status_code == 303
    assert console.client.get("/console/", follow_redirects=False).status_code == 303


def test_sign_out_revokes_a_copied_cookie(console: Console) -> None:
    """The cookie is stateless, but sign-out records its session id as revoked: a copy
    taken before sign-out no longer works."""
    console.sign_in_root()
    copied = _cookie(console)
    console.post("/console/signout", {}, page="/console/")
    console.client.cookies.set(sessions.COOKIE, copied, domain="127.0.0.1", path="/console")
    answer = console.client.get("/console/", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].endswith("/console/signin?ended=1")
    # a new sign-in is a new session, unaffected
    console.client.cookies.clear()
    console.sign_in_root()
    assert console.client.get("/console/", follow_redirects=False).status_code == 200


def test_sign_out_on_one_node_ends_the_session_on_another(tmp_path: Path) -> None:
    """Two apps, each with its own connection pool on one database (two nodes): the
    session signed out on the first is refused by the second."""
    from starlette.testclient import TestClient

    from chamberlain.app import create_app
    from chamberlain.store.sql import SqlStore

    from .conftest import provisioned, services_on

    url = f"sqlite:///{tmp_path / 'nodes.db'}"
    first_store, second_store = SqlStore(url), SqlStore(url)
    first_store.migrate()
    try:
        first = services_on(first_store)
        provisioned(first, tmp_path)
        second = services_on(second_store, like=first)
        node_a = Console(TestClient(create_app(first), base_url=BASE), first)
        node_a.sign_in_root()
        cookie = _cookie(node_a)
        node_b = TestClient(create_app(second), base_url=BASE)
        node_b.cookies.set(sessions.COOKIE, cookie, domain="127.0.0.1", path="/console")
        assert node_b.get("/console/", follow_redirects=False).status_code == 200
        node_a.post("/console/signout", {}, page="/console/")
        assert node_b.get("/console/", follow_redirects=False).status_code == 303
    finally:
        first_store.close()
        second_store.close()


def test_revocations_expire_with_the_session_and_are_pruned(console: Console) -> None:
    from chamberlain.console import revocation

    console.sign_in_root()
    opened = sessions.open_cookie(
        console.services.secrets, _cookie(console), dt.datetime.now(dt.UTC)
    )
    assert opened is not None
    console.post("/console/signout", {}, page="/console/")
    with console.services.store.unit_of_work(read_only=True) as uow:
        assert revocation.is_revoked(uow, opened.sid)
    # still revoked the instant before the session would have expired...
    last = sessions.expires(opened) - dt.timedelta(seconds=1)
    revocation.revoke(console.services, dataclasses.replace(opened, sid="first"), last)
    with console.services.store.unit_of_work(read_only=True) as uow:
        assert revocation.is_revoked(uow, opened.sid)
    # ...and once it would have expired anyway, the next sign-out prunes the row
    later = sessions.expires(opened) + dt.timedelta(seconds=1)
    other = dataclasses.replace(opened, sid="another", issued=int(later.timestamp()))
    revocation.revoke(console.services, other, later)
    with console.services.store.unit_of_work(read_only=True) as uow:
        assert not revocation.is_revoked(uow, opened.sid)
        assert revocation.is_revoked(uow, "another")
