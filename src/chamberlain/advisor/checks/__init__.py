"""Every check, one module per practice family; importing this package registers them
(in the order of the issue's table, which is the order reports list them)."""

from chamberlain.advisor.checks import (  # noqa: F401
    auditing,
    certificates,
    credentials,
    delegation,
    escalation,
    groups,
    least_privilege,
    mfa,
    passwords,
    roles,
    root,
    usage,
)
