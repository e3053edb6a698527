"""`GET /advisor/findings`: the advisor's JSON for the signed-in principal's account.

Authorized as the advisor's two reads (iam:GenerateCredentialReport and
iam:GetAccountAuthorizationDetails in the account), so a principal gets exactly what those
API calls would give it; a refusal is AWS's AccessDenied in JSON. The app answers
`/advisor/findings` with a redirect here, under /console, where the session cookie lives.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from chamberlain.advisor.api import live_findings
from chamberlain.console.web import Page
from chamberlain.ops.core import authz
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import AccessDenied

#: The advisor reads what these two calls read.
ACTIONS = ("iam:GenerateCredentialReport", "iam:GetAccountAuthorizationDetails")


def _findings(page: Page) -> dict[str, object]:
    with page.services.store.unit_of_work(read_only=True) as uow:
        ctx = OpContext(page.principal.caller, page.meta, uow, page.services)
        for action in ACTIONS:
            authz.authorize(ctx, action, "*")
    return live_findings(page.services, page.principal.account_id, page.meta.now)


async def findings(page: Page) -> Response:
    try:
        document = await run_in_threadpool(_findings, page)
    except AccessDenied as denied:
        body = {"__type": denied.code, "message": denied.message}
        return JSONResponse(body, status_code=denied.http_status)
    return JSONResponse(document, headers={"Cache-Control": "no-store"})
