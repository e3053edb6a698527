"""The web console at /console: sign-in, the advisor's dashboard and IAM pages.

Server-rendered (Jinja2) from the same process as the API; every asset is served from
here (no CDN), and every action runs as the signed-in principal through the operations
layer, exactly as an API call would.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from chamberlain.console import findings_api, pages
from chamberlain.console.auth import SignIn
from chamberlain.console.web import HERE, SecurityHeaders, signed_in
from chamberlain.ops.core.context import Services


def console_app(services: Services, *, region: str = "us-east-1") -> Starlette:
    """The console as an ASGI app, to mount at /console."""
    auth = SignIn(services, region)
    page = signed_in(services, region)
    get, post = ["GET"], ["POST"]
    return Starlette(
        routes=[
            Route("/signin", auth.show, methods=get),
            Route("/signin", auth.submit, methods=post),
            Route("/signin/mfa", auth.mfa, methods=["GET", "POST"]),
            Route("/signin/password", auth.change_password, methods=["GET", "POST"]),
            Route("/signout", auth.sign_out, methods=post),
            Route("/", page(pages.dashboard), methods=get),
            Route("/advisor/findings", page(findings_api.findings), methods=get),
            Route("/dashboard/fix/root-key", page(pages.fix_root_key), methods=post),
            Route("/dashboard/fix/password-policy", page(pages.fix_password_policy), methods=post),
            Route("/credentials", page(pages.credentials), methods=get),
            Route("/credentials/password", page(pages.change_own_password), methods=post),
            Route("/credentials/mfa/start", page(pages.start_mfa), methods=post),
            Route("/credentials/mfa/enable", page(pages.enable_mfa), methods=post),
            Route("/credentials/mfa/deactivate", page(pages.deactivate_mfa), methods=post),
            Route("/keys/create", page(pages.create_key), methods=post),
            Route("/keys/update", page(pages.update_key), methods=post),
            Route("/users", page(pages.users), methods=get),
            Route("/users/new", page(pages.new_user), methods=get),
            Route("/users/new", page(pages.create_user), methods=post),
            Route("/users/{name}", page(pages.user_detail), methods=get),
            Route("/users/{name}/groups", page(pages.user_groups), methods=post),
            Route("/users/{name}/access-advisor", page(pages.access_advisor), methods=get),
            Route("/users/{name}/mfa/start", page(pages.start_mfa), methods=post),
            Route("/users/{name}/mfa/enable", page(pages.enable_mfa), methods=post),
            Route("/groups", page(pages.groups), methods=get),
            Route("/groups/{name}", page(pages.group_detail), methods=get),
            Route("/groups/{name}/policies", page(pages.group_policy), methods=post),
            Route("/roles", page(pages.roles), methods=get),
            Route("/roles/new", page(pages.new_role), methods=get),
            Route("/roles/new", page(pages.create_role), methods=post),
            Route("/roles/{name}", page(pages.role_detail), methods=get),
            Route("/roles/{name}/trust", page(pages.role_trust), methods=post),
            Route("/roles/{name}/access-advisor", page(pages.access_advisor), methods=get),
            Route("/roles/{name}/revoke", page(pages.role_revoke), methods=post),
            Route("/instance-profiles", page(pages.instance_profiles), methods=["GET", "POST"]),
            Route("/instance-profiles/{name}", page(pages.instance_profile), methods=get),
            Route(
                "/instance-profiles/{name}", page(pages.instance_profile_change), methods=post
            ),
            Route("/simulator", page(pages.simulator), methods=["GET", "POST"]),
            Route("/policies", page(pages.policies), methods=get),
            Route("/policies/new", page(pages.new_policy), methods=get),
            Route("/policies/new", page(pages.create_policy), methods=post),
            Route("/policies/validate", page(pages.validate_policy), methods=post),
            Route("/policy", page(pages.policy_detail), methods=get),
            Route("/policy/version", page(pages.policy_new_version), methods=post),
            Route("/policy/default", page(pages.policy_set_default), methods=post),
            Route("/settings", page(pages.settings), methods=get),
            Route("/settings/password-policy", page(pages.save_password_policy), methods=post),
            Route("/settings/alias", page(pages.save_alias), methods=post),
            Route("/events", page(pages.events), methods=get),
            Route("/report", page(pages.credential_report), methods=get),
            Route("/report", page(pages.generate_report), methods=post),
            Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders)],
    )
