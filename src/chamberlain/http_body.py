"""Reading a request body with a cap, for every endpoint that takes one."""

from __future__ import annotations

from starlette.requests import Request

from chamberlain.protocol.wire_errors import ProtocolError

#: The largest body any endpoint accepts (AWS's query APIs refuse far smaller ones).
MAX_BODY = 1024 * 1024


def _too_large() -> ProtocolError:
    return ProtocolError("RequestEntityTooLarge", "Request body is too large.", 413)


async def read_body(request: Request) -> bytes:
    """The body, refused with RequestEntityTooLarge (413) past MAX_BODY; never more than
    MAX_BODY + 1 bytes are held in memory, whatever Content-Length claims."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        chunks.append(chunk)
        if size > MAX_BODY:
            raise _too_large()
    return b"".join(chunks)
