"""One descriptor per kind of IAM entity an operation names: users, groups, roles, managed
policies, instance profiles, server certificates, OIDC and SAML providers, virtual MFA
devices.

A descriptor (`EntityKind`) knows the stored class, the ARN's resource type
("instance-profile"), the request member naming an entity ("InstanceProfileName") and
AWS's not-found message. From them come the lookups (`get`, `require`: the entity the
operation's resolver read is taken instead of a second read), the authorization target
(`target`, `resolve`: the entity's ARN and aws:ResourceTag/* keys, and the entity read,
handed to the handler) and, in tagging.py, TagX/UntagX/ListXTags.

Registers no operation (iam/users.py, iam/policies.py, iam/instance_profiles.py ... do).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Generic, Protocol, TypeVar

from chamberlain.domain import (
    Attachment,
    BoundaryUse,
    Group,
    InlinePolicy,
    InstanceProfile,
    ManagedPolicy,
    MfaDevice,
    OidcProvider,
    Role,
    SamlProvider,
    ServerCertificate,
    User,
    joined,
)
from chamberlain.ops.core.arns import iam_arn
from chamberlain.ops.core.aws_managed import AWS_MANAGED, AwsManagedPolicy
from chamberlain.ops.core.context import OpContext
from chamberlain.ops.core.errors import (
    AccessDenied,
    EntityAlreadyExists,
    InvalidInput,
    NoSuchEntity,
)
from chamberlain.ops.core.quotas import quota_exceeded
from chamberlain.ops.core.registry import Params, Resolver, Target
from chamberlain.ops.core.tags import creation_target, resource_tag_context
from chamberlain.policy.request import ContextValue

Context = dict[str, ContextValue]


class Entity(Protocol):
    """A stored entity an operation names (domain.py): its account, key and ARN."""

    @property
    def account_id(self) -> str: ...

    @property
    def key(self) -> str: ...

    @property
    def arn(self) -> str: ...


E = TypeVar("E", bound=Entity)


class NamedEntity(Entity, Protocol):
    """An entity with a name and a path (users, groups, roles, server certificates...)."""

    @property
    def name(self) -> str: ...

    @property
    def path(self) -> str: ...


N = TypeVar("N", bound=NamedEntity)


@dataclass(frozen=True)
class EntityKind(Generic[E]):
    """One kind of entity: the stored class, the ARN's resource type, the request member
    naming one and AWS's not-found message (`{name}`: the name or ARN as requested)."""

    entity: type[E]
    arn_kind: str
    name_param: str
    not_found_message: str
    #: Requests name the entity by its ARN (its key), which must match `arn_pattern`
    #: (InvalidInput otherwise); else by its name (its key lower-cased).
    by_arn: bool = False
    arn_pattern: re.Pattern[str] | None = None
    #: Its tags are iam:ResourceTag/* keys too (users and roles, as AWS lists them).
    iam_tag_keys: bool = False

    # ------------------------------------------------------------------ lookups

    def valid(self, name: str) -> bool:
        return self.arn_pattern is None or self.arn_pattern.fullmatch(name) is not None

    def check(self, name: str) -> None:
        """InvalidInput for text that is not an ARN of this kind, as IAM words it."""
        if not self.valid(name):
            raise InvalidInput(f"ARN {name} is not valid.")

    def key(self, name: str) -> str:
        return name if self.by_arn else name.lower()

    def is_named(self, entity: E, name: str) -> bool:
        return entity.key == self.key(name)

    def read(self, ctx: OpContext, name: str) -> E | None:
        """The stored entity `name` (None for an ARN not of this kind)."""
        if not self.valid(name):
            return None
        return ctx.uow.repo(self.entity).get(ctx.account_id, self.key(name))

    def get(self, ctx: OpContext, name: str) -> E | None:
        """The entity `name`: the one the resolver read (taken once: a later lookup reads
        the store, which may have changed since), else the store's."""
        self.check(name)
        taken = ctx.take_resolved(self.entity, lambda entity: self.is_named(entity, name))
        return taken if taken is not None else self.read(ctx, name)

    def not_found(self, name: str) -> NoSuchEntity:
        return NoSuchEntity(self.not_found_message.format(name=name))

    def require(self, ctx: OpContext, name: str) -> E:
        """The entity `name`, or AWS's NoSuchEntity."""
        entity = self.get(ctx, name)
        if entity is None:
            raise self.not_found(name)
        return entity

    def check_free(
        self, ctx: OpContext, key: str, taken_message: str, quota_name: str, quota: int
    ) -> None:
        """Before creating the entity stored at `key`: EntityAlreadyExists
        (`taken_message`) when that key is taken, LimitExceeded at the account's quota."""
        self.check_untaken(ctx, key, taken_message)
        self.check_quota(ctx, quota_name, quota)

    def check_untaken(self, ctx: OpContext, key: str, taken_message: str) -> None:
        if ctx.uow.repo(self.entity).get(ctx.account_id, key) is not None:
            raise EntityAlreadyExists(taken_message)

    def check_quota(self, ctx: OpContext, quota_name: str, quota: int) -> None:
        if ctx.uow.repo(self.entity).count(ctx.account_id) >= quota:
            raise quota_exceeded(quota_name, quota)

    # ------------------------------------------------------------ authorization

    def arn(self, ctx: OpContext, name: str) -> str:
        """The resource of a call on `name` when there is no such entity (authorization
        comes before the existence check): the ARN as given, or the path-less ARN."""
        return name if self.by_arn else iam_arn(ctx, self.arn_kind, name)

    def resource_context(self, entity: E, boundary_key: bool) -> Context:
        """aws:ResourceTag/* of the entity's tags (a group has none)."""
        return resource_tag_context(getattr(entity, "tags", ()), iam_keys=self.iam_tag_keys)

    def target(
        self,
        ctx: OpContext,
        name: str,
        *,
        extra: Mapping[str, ContextValue] | None = None,
        boundary_key: bool = False,
        also: tuple[str, ...] = (),
    ) -> Target:
        """The target of an operation on the entity `name`: its ARN (with its path) and
        its tags' condition keys when it exists; `extra` condition keys; `also` further
        actions on the same resource. The entity read goes to the handler."""
        entity = self.read(ctx, name)
        context: Context = {}
        arn = self.arn(ctx, name)
        if entity is not None:
            arn = entity.arn
            context.update(self.resource_context(entity, boundary_key))
        if extra:
            context.update(extra)
        also_pairs = tuple((action, arn) for action in also)
        return Target(resource=arn, context=context, also=also_pairs, entity=entity)

    def of(self, target: Target) -> E | None:
        """The entity of this kind `target` read, if any."""
        return target.entity if isinstance(target.entity, self.entity) else None

    def resolve(self, ctx: OpContext, params: Params) -> Target:
        """The resolver of an operation on the entity the request names."""
        return self.target(ctx, params[self.name_param])

    def resolver(self, **kwargs: Any) -> Resolver:
        """`resolve`, with `target`'s keyword arguments."""
        return lambda ctx, params: self.target(ctx, params[self.name_param], **kwargs)

    def rename_target(
        self: EntityKind[N], ctx: OpContext, params: Params, new_name_param: str, action: str
    ) -> Target:
        """UpdateX, which may rename (`new_name_param`) or move (NewPath) the entity:
        AWS authorizes `action` on the new ARN too when it differs."""
        target = self.resolve(ctx, params)
        entity = self.of(target)
        name = params.get(new_name_param) or (entity.name if entity else params[self.name_param])
        path = params.get("NewPath") or (entity.path if entity else "/")
        new_arn = iam_arn(ctx, self.arn_kind, name, path)
        if new_arn == target.resource:
            return target
        return replace(target, also=(*target.also, (action, new_arn)))

    def create_target(
        self, ctx: OpContext, params: Params, tag_action: str, name_param: str | None = None
    ) -> Target:
        """CreateX: the new entity's ARN (its name in `name_param`, default the kind's,
        with the request's Path), the request's tags as condition keys, and `tag_action`
        (iam:TagX) when tags come with it."""
        name = params[name_param or self.name_param]
        arn = iam_arn(ctx, self.arn_kind, name, params.get("Path") or "/")
        return creation_target(arn, params, tag_action)


# ------------------------------------------------------------ users, groups and roles

P = TypeVar("P", bound=User | Group | Role)


@dataclass(frozen=True)
class PrincipalKind(EntityKind[P]):
    """Users, groups and roles: also iam:PermissionsBoundary, and the checks before
    creating one."""

    def resource_context(self, entity: P, boundary_key: bool) -> Context:
        context = super().resource_context(entity, boundary_key)
        if boundary_key and not isinstance(entity, Group) and entity.permissions_boundary:
            context["iam:PermissionsBoundary"] = entity.permissions_boundary
        return context

    def create_target(
        self, ctx: OpContext, params: Params, tag_action: str, name_param: str | None = None
    ) -> Target:
        """CreateUser / CreateRole: also the requested boundary as iam:PermissionsBoundary."""
        target = super().create_target(ctx, params, tag_action, name_param)
        if not params.get("PermissionsBoundary"):
            return target
        boundary = {"iam:PermissionsBoundary": params["PermissionsBoundary"]}
        return replace(target, context={**target.context, **boundary})

    def check_new(self, ctx: OpContext, name: str, boundary: str | None, quota: int) -> None:
        """Before creating `name`: not taken, its boundary attachable, under the quota."""
        noun = self.arn_kind.capitalize()
        self.check_untaken(ctx, name.lower(), f"{noun} with name {name} already exists.")
        if boundary:
            POLICIES.require_attachable(ctx, boundary)
        self.check_quota(ctx, f"{noun}sPerAccount", quota)


def _principal(entity: type[P], arn_kind: str, name_param: str) -> PrincipalKind[P]:
    message = f"The {arn_kind} with name {{name}} cannot be found."
    return PrincipalKind(entity, arn_kind, name_param, message, iam_tag_keys=entity is not Group)


USERS = _principal(User, "user", "UserName")
GROUPS = _principal(Group, "group", "GroupName")
ROLES = _principal(Role, "role", "RoleName")
KINDS: dict[str, PrincipalKind[User] | PrincipalKind[Group] | PrincipalKind[Role]] = {
    "user": USERS,
    "group": GROUPS,
    "role": ROLES,
}
#: The word of IAM's per-principal operation names (AttachUserPolicy, PutRolePolicy, ...)
#: -> (principal kind, the request member naming one).
PRINCIPAL_WORDS = {
    word: (kind.arn_kind, kind.name_param)
    for word, kind in (("User", USERS), ("Group", GROUPS), ("Role", ROLES))
}

get_user = USERS.get
get_group = GROUPS.get
get_role = ROLES.get
require_user = USERS.require
require_group = GROUPS.require
require_role = ROLES.require


def require_principal(ctx: OpContext, kind: str, name: str) -> User | Group | Role:
    return KINDS[kind].require(ctx, name)


def principal_target(
    ctx: OpContext,
    kind: str,
    name: str,
    *,
    extra: Mapping[str, ContextValue] | None = None,
    boundary_key: bool = False,
    also: tuple[str, ...] = (),
) -> Target:
    """The target of an operation on the user, group or role `name` (EntityKind.target)."""
    return KINDS[kind].target(ctx, name, extra=extra, boundary_key=boundary_key, also=also)


def role_fields(role: Role) -> dict[str, Any]:
    """The Role shape's members every rendering of a role has (ListRoles, instance
    profiles, authorization details), its trust policy as given."""
    return {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": role.assume_role_policy,
    }


def rename_principal_policies(ctx: OpContext, kind: str, old: str, new: str) -> None:
    """Re-key the attachments, inline policies and boundary use of a renamed user or
    group."""
    account = ctx.account_id
    prefix = joined(kind, old.lower(), "")
    entity_types: tuple[type[Attachment] | type[InlinePolicy] | type[BoundaryUse], ...] = (
        Attachment,
        InlinePolicy,
        BoundaryUse,
    )
    for entity_type in entity_types:
        repo = ctx.uow.repo(entity_type)
        for entity in repo.list(account, key_prefix=prefix):
            repo.delete(account, entity.key)
            repo.put(replace(entity, principal_name=new))


# ------------------------------------------------------------------ managed policies

_POLICY_ARN = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iam::(?P<account>[0-9]{12}|aws):policy"
    r"(?P<path>/(?:[\x21-\x7e]*/)?)(?P<name>[\w+=,.@-]+)"
)


@dataclass(frozen=True)
class PolicyKind(EntityKind[ManagedPolicy]):
    """Managed policies, named by ARN. The stored ones are this account's customer
    managed policies (`get`, `require`); AWS managed policies are built in (`find`)."""

    def read(self, ctx: OpContext, name: str) -> ManagedPolicy | None:
        if not self.valid(name):
            return None
        found = ctx.uow.repo(ManagedPolicy).list(ctx.account_id, ref=name)
        return found[0] if found else None

    def is_named(self, entity: ManagedPolicy, name: str) -> bool:
        return entity.arn == name

    def find(self, ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy | None:
        """The customer managed policy of this account or the AWS managed policy at `arn`."""
        builtin = AWS_MANAGED.get(arn)
        return builtin if builtin is not None else self.get(ctx, arn)

    def require_any(self, ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy:
        policy = self.find(ctx, arn)
        if policy is None:
            raise self.not_found(arn)
        return policy

    def require_attachable(self, ctx: OpContext, arn: str) -> ManagedPolicy | AwsManagedPolicy:
        """A policy to attach or to use as a permissions boundary."""
        policy = self.find(ctx, arn)
        if policy is None:
            raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
        return policy

    def require_customer(self, ctx: OpContext, arn: str, action: str) -> ManagedPolicy:
        """A policy the caller may change: AWS managed policies live in account "aws",
        where no one but AWS may write, so changing one is denied like any cross-account
        write."""
        policy = self.require_any(ctx, arn)
        if isinstance(policy, AwsManagedPolicy):
            raise AccessDenied(
                f"User: {ctx.caller.arn} is not authorized to perform: {action} on resource: "
                f"{arn} because no resource-based policy allows the {action} action"
            )
        return policy


POLICIES = PolicyKind(
    ManagedPolicy,
    "policy",
    "PolicyArn",
    "Policy {name} was not found.",
    by_arn=True,
    arn_pattern=_POLICY_ARN,
)
check_policy_arn = POLICIES.check
find_policy = POLICIES.find
require_policy = POLICIES.require_any
require_attachable = POLICIES.require_attachable
require_customer_policy = POLICIES.require_customer


def policy_target(
    ctx: OpContext, params: Mapping[str, Any], extra: Mapping[str, ContextValue] | None = None
) -> Target:
    """The target of an operation on the managed policy named by PolicyArn."""
    return POLICIES.target(ctx, params["PolicyArn"], extra=extra)


# ---------------------------------------------------------------- the other kinds


@dataclass(frozen=True)
class MfaKind(EntityKind[MfaDevice]):
    """Virtual MFA devices, named by serial number (their ARN)."""

    def arn(self, ctx: OpContext, name: str) -> str:
        return name if name.startswith("arn:") else iam_arn(ctx, self.arn_kind, name)


def _provider_arn(kind: str) -> re.Pattern[str]:
    return re.compile(rf"arn:[\w-]+:iam::\d{{12}}:{kind}/\S+")


INSTANCE_PROFILES = EntityKind(
    InstanceProfile,
    "instance-profile",
    "InstanceProfileName",
    "Instance Profile {name} cannot be found.",
)
SERVER_CERTIFICATES = EntityKind(
    ServerCertificate,
    "server-certificate",
    "ServerCertificateName",
    "The Server Certificate with name {name} cannot be found.",
)
OIDC_PROVIDERS = EntityKind(
    OidcProvider,
    "oidc-provider",
    "OpenIDConnectProviderArn",
    "OpenIDConnect Provider not found for arn {name}",
    by_arn=True,
    arn_pattern=_provider_arn("oidc-provider"),
)
SAML_PROVIDERS = EntityKind(
    SamlProvider,
    "saml-provider",
    "SAMLProviderArn",
    "Manifest not found for arn {name}",
    by_arn=True,
    arn_pattern=_provider_arn("saml-provider"),
)
MFA_DEVICES = MfaKind(
    MfaDevice,
    "mfa",
    "SerialNumber",
    "VirtualMFADevice with serial number {name} doesn't exist.",
    by_arn=True,
)
