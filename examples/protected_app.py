"""A Starlette app whose every route is authorized by Chamberlain.

Its clients sign their requests with SigV4 for the signing name "widgets" (any AWS SDK
can: e.g. botocore's `SigV4Auth(credentials, "widgets", "us-east-1")`); the app itself
signs its calls to Chamberlain with its own key, which needs `chamberlain:Authorize`.

Run it:

    export CHAMBERLAIN_URL=http://127.0.0.1:8480 WIDGETS_ACCOUNT_ID=123456789012
    export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   # the app's own key
    python examples/protected_app.py            # serves on 127.0.0.1:8500
"""

from __future__ import annotations

import os

from botocore.credentials import Credentials
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chamberlain.middleware import AsyncAuthorizeClient, ChamberlainMiddleware, Rule

SIGNING_NAME = "widgets"


async def get_widget(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "widget": request.path_params["widget_id"],
            "caller": request.state.chamberlain_principal_arn,
        }
    )


async def put_widget(request: Request) -> JSONResponse:
    body = await request.json()  # the middleware read the body; the app still gets it
    return JSONResponse({"widget": request.path_params["widget_id"], "stored": body})


async def delete_widget(request: Request) -> JSONResponse:
    return JSONResponse({"deleted": request.path_params["widget_id"]})


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


def rules(account_id: str, region: str) -> list[Rule]:
    widget = f"arn:aws:widgets:{region}:{account_id}:widget/{{widget_id}}"
    return [
        Rule("GET", "/widgets/{widget_id}", "widgets:GetWidget", widget),
        Rule("PUT", "/widgets/{widget_id}", "widgets:PutWidget", widget),
        Rule("DELETE", "/widgets/{widget_id}", "widgets:DeleteWidget", widget),
    ]


def create_app(
    chamberlain_url: str,
    account_id: str,
    credentials: Credentials | None = None,
    region: str = "us-east-1",
) -> Starlette:
    client = AsyncAuthorizeClient(chamberlain_url, credentials, region)
    return Starlette(
        routes=[
            Route("/health", health),
            Route("/widgets/{widget_id}", get_widget, methods=["GET"]),
            Route("/widgets/{widget_id}", put_widget, methods=["PUT"]),
            Route("/widgets/{widget_id}", delete_widget, methods=["DELETE"]),
        ],
        middleware=[
            Middleware(
                ChamberlainMiddleware,
                client=client,
                signing_name=SIGNING_NAME,
                rules=rules(account_id, region),
                public=["/health"],
            )
        ],
    )


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        create_app(os.environ["CHAMBERLAIN_URL"], os.environ["WIDGETS_ACCOUNT_ID"]),
        host="127.0.0.1",
        port=int(os.environ.get("PORT", "8500")),
    )
