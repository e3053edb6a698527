"""Protocol-level errors and the error shapes the service models declare.

`ProtocolError` is what the decoders raise for a request that cannot be turned into a
typed input (unknown action, malformed encoding, constraint violations). The HTTP layer
renders it with `xml_out.serialize_error` or `json11.serialize_error`.

`error_spec` answers, from botocore's models, which HTTP status and fault a modeled error
code carries (IAM's `NoSuchEntity` is 404, `EntityAlreadyExists` 409, ...), so the ops
layer's error classes can be checked against the model instead of a hand-kept table.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from chamberlain.protocol.models import service_model

#: Namespace AWS uses for errors raised before an operation is resolved (InvalidAction).
AWS_FAULT_NAMESPACE = "http://webservices.amazon.com/AWSFault/2005-15-09"


class ProtocolError(Exception):
    """A request the wire layer rejects, with what AWS puts on the wire for it."""

    def __init__(
        self,
        code: str,
        message: str,
        http_status: int = 400,
        sender_fault: bool = True,
        *,
        aws_fault_namespace: bool = False,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status
        self.sender_fault = sender_fault
        # AWS answers errors found before the operation is known (InvalidAction) in the
        # generic AWSFault namespace instead of the service's own.
        self.aws_fault_namespace = aws_fault_namespace


def invalid_action(action: str, version: str | None) -> ProtocolError:
    """AWS's answer to an unknown Action or a Version the service does not have."""
    shown = "NO_VERSION_SPECIFIED" if version is None else version
    return ProtocolError(
        "InvalidAction",
        f"Could not find operation {action} for version {shown}",
        aws_fault_namespace=True,
    )


def unknown_action(service: str, operation: str) -> ProtocolError:
    """What a client gets for an operation the service does not serve: InvalidAction for the
    query services, UnknownOperationException for the JSON ones (as for a bad X-Amz-Target)."""
    model = service_model(service)
    if model.protocol == "json":
        return unknown_operation(f"{model.metadata['targetPrefix']}.{operation}")
    return invalid_action(operation, model.api_version)


def unknown_operation(target: str | None) -> ProtocolError:
    """The JSON services' answer to an X-Amz-Target naming no operation they serve."""
    return ProtocolError("UnknownOperationException", f"Unknown operation: {target or ''}", 400)


def missing_action() -> ProtocolError:
    """A query request without an Action parameter."""
    return ProtocolError("MissingAction", "Missing Action", aws_fault_namespace=True)


def malformed_query_string(detail: str) -> ProtocolError:
    """A form body or query string that cannot be decoded at all.

    AWS's common-errors table gives MalformedQueryString HTTP status 404.
    """
    return ProtocolError("MalformedQueryString", detail, 404)


def malformed_input(detail: str) -> ProtocolError:
    """A parameter whose text cannot be converted to its modeled type (AWS: MalformedInput)."""
    return ProtocolError("MalformedInput", detail, 400)


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """One modeled error: its wire code, HTTP status and whether the caller is at fault."""

    code: str
    http_status: int
    sender_fault: bool
    shape_name: str


@functools.cache
def error_specs(service: str) -> dict[str, ErrorSpec]:
    """Every error the service model declares, by wire code.

    Query-protocol models carry `error: {code, httpStatusCode, senderFault}`; JSON models
    (CloudTrail) usually do not, and then the code is the shape name, the status 400 and
    the fault the sender's.
    """
    specs: dict[str, ErrorSpec] = {}
    for shape in service_model(service).error_shapes:
        meta = shape.metadata.get("error", {})
        code = meta.get("code", shape.name)
        specs[code] = ErrorSpec(
            code=code,
            http_status=int(meta.get("httpStatusCode", 400)),
            # A query model that states an error but not senderFault means the server's
            # fault (IAM's ServiceFailure); a JSON model stating nothing is a client error.
            sender_fault=bool(meta.get("senderFault", not meta)),
            shape_name=shape.name,
        )
    return specs


def error_spec(service: str, code: str) -> ErrorSpec | None:
    """The modeled error with this wire code, or None if the model has no such error."""
    return error_specs(service).get(code)


def operation_error_codes(service: str, operation: str) -> tuple[str, ...]:
    """The error codes the model lists for one operation, in model order."""
    op = service_model(service).operation_model(operation)
    codes: list[str] = []
    for shape in op.error_shapes:
        codes.append(shape.metadata.get("error", {}).get("code", shape.name))
    return tuple(codes)
