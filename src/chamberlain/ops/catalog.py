"""Imports every ops module so their operations are registered (see registry.py)."""

from __future__ import annotations

import importlib

MODULES = (
    "iam_users",
    "iam_groups",
    "iam_roles",
    "iam_policies",
    "iam_policy_versions",
    "iam_attachments",
    "iam_inline",
    "iam_access_keys",
    "iam_login",
    "iam_account",
    "iam_instance_profiles",
    "iam_providers",
    "iam_certs",
    "iam_simulate",
    "iam_auth_details",
    "iam_service_linked",
    "iam_service_credentials",
    "iam_account_settings",
    "iam_organizations",
    "iam_credential_report",
    "iam_mfa",
    "iam_service_last_accessed",
    "cloudtrail",
    "sts",
    "sts_web_identity",
    "sts_saml",
)

for _name in MODULES:
    try:
        importlib.import_module(f"chamberlain.ops.{_name}")
    except ModuleNotFoundError as exc:  # a module not written yet
        if exc.name != f"chamberlain.ops.{_name}":
            raise
