"""Every check, one module per practice family; importing this package registers them.

`ORDER` is the order of the issue's table: reports list checks run in this order.
"""

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

ORDER = (
    "root-access-key",
    "root-mfa",
    "root-used",
    "password-policy",
    "user-console-no-mfa",
    "privileged-no-mfa",
    "access-key-at-setup",
    "credential-unused",
    "access-key-old",
    "two-active-keys",
    "user-direct-policy",
    "admin-policy",
    "privilege-escalation",
    "role-trust-broad",
    "unused-role",
    "unused-permissions",
    "expired-server-certificate",
    "audit-off",
)
