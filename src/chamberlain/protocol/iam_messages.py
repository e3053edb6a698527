"""IAM's own words for a name or path that breaks its pattern.

IAM does not answer a bad UserName, Path or PathPrefix with the generic "1 validation error
detected: ... Member must satisfy regular expression pattern: ..." line. Its generic
validation (required members, lengths, enums) runs first; then IAM checks these patterns
itself and answers ValidationError (400) with one sentence naming the member, e.g.

    The specified value for path is invalid. It must begin and end with / and contain
    only alphanumeric characters and/or / characters.

Texts as IAM sends them, quoted from real responses: pathPrefix in
https://github.com/aws/aws-cli/issues/5860, roleName in
https://github.com/aws-amplify/amplify-cli/issues/9120, path in
https://github.com/aws-cloudformation/cfn-lint/issues/722, userName in
https://developer.sailpoint.com/discuss/t/aws-account-creation-issue-for-non-alphanumeric-characters/125330
(the groupName, policyName and other name texts are assumed to follow the same form).
Which members they cover is derived from the model:
every IAM input member whose pattern is the IAM name pattern and whose name ends in
"Name", and every member whose pattern is one of IAM's path patterns (the API reference
describes these patterns in the same words for every such member:
https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html).
"""

from __future__ import annotations

from typing import Any

from botocore.model import Shape, StructureShape

from chamberlain.protocol.models import compiled_pattern, member_path_name

NAME_PATTERN = r"[\w+=,.@-]+"
# pathType, pathPrefixType and policyPathType in botocore's IAM model.
PATH_PATTERNS = frozenset(
    {
        r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)",
        r"\u002F[\u0021-\u007F]*",
        r"((/[A-Za-z0-9\.,\+@=_-]+)*)/",
    }
)
# Members with the name pattern that are not entity names (IAM's wording is unknown).
_NOT_NAMES = frozenset({"AWSServiceName", "CustomSuffix"})

NAME_RULE = "It must contain only alphanumeric characters and/or the following: +=,.@_-"
PATH_RULE = (
    "It must begin and end with / and contain only alphanumeric characters and/or / characters."
)
PATH_PREFIX_RULE = (
    "It must begin with the / character and contain only alphanumeric characters "
    "and/or / characters."
)


def rule_for(member: str, shape: Shape) -> str | None:
    """IAM's sentence for `member` breaking its pattern, or None if IAM uses the generic
    validation text for it."""
    if shape.type_name != "string":
        return None
    pattern = shape.metadata.get("pattern")
    if pattern == NAME_PATTERN and member.endswith("Name") and member not in _NOT_NAMES:
        return NAME_RULE
    if pattern in PATH_PATTERNS:
        return PATH_PREFIX_RULE if member == "PathPrefix" else PATH_RULE
    return None


def checks_pattern(member: str, shape: Shape) -> bool:
    """Whether IAM checks this member's pattern itself (see `validate_input`)."""
    return rule_for(member, shape) is not None


def pattern_message(shape: StructureShape | None, params: dict[str, Any]) -> str | None:
    """IAM's message for the first member (in model order) whose value breaks its
    pattern, among the members IAM checks itself; None if all are valid."""
    if shape is None:
        return None
    for member, member_shape in shape.members.items():
        value = params.get(member)
        rule = rule_for(member, member_shape)
        if rule is None or not isinstance(value, str):
            continue
        compiled = compiled_pattern(member_shape.metadata["pattern"])
        if compiled is not None and compiled.fullmatch(value) is None:
            return f"The specified value for {member_path_name(member)} is invalid. {rule}"
    return None
