"""Service-linked roles are protected: only their service changes them. `is_service_linked`
tells one apart and `require_modifiable` is the check the ordinary role operations make
(AWS answers UnmodifiableEntity). service_linked.py creates and deletes these roles.
"""

from __future__ import annotations

from chamberlain.domain import Role
from chamberlain.ops.core.errors import UnmodifiableEntity

#: The path of service-linked roles; CreateRole refuses it.
PATH_PREFIX = "/aws-service-role/"


def is_service_linked(role: Role) -> bool:
    """True for a service-linked role. The path identifies it: AWS refuses
    /aws-service-role/ to CreateRole, so only CreateServiceLinkedRole puts roles there."""
    return role.path.startswith(PATH_PREFIX)


def require_modifiable(role: Role) -> Role:
    """UnmodifiableEntity, as AWS words it, for a role only its service may change."""
    if is_service_linked(role):
        raise UnmodifiableEntity(
            f"Cannot perform the operation on the protected role '{role.name}' "
            "- this role is only modifiable by AWS"
        )
    return role
