"""What other front ends call: the console's `GET /advisor/findings` builds its JSON here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from chamberlain.advisor import live
from chamberlain.advisor.findings import run_checks
from chamberlain.advisor.output import findings_json
from chamberlain.ops.core.context import Services


def live_findings(services: Services, account_id: str, now: dt.datetime) -> dict[str, Any]:
    """The advisor's JSON document for one live account (read-only).

    The caller authorizes first (the console: iam:GenerateCredentialReport and
    iam:GetAccountAuthorizationDetails in the account). Raises LookupError for an
    account that does not exist.
    """
    return findings_json(run_checks(live.load(services, account_id, now)))
