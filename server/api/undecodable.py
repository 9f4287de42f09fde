"""Request bodies that do not parse: refused with INVALID_ARGUMENT by the call scope, not UNKNOWN by gRPC.

gRPC answers a body its deserializer rejects with UNKNOWN and a traceback in
the log. The call scope's handlers get a tolerant deserializer instead,
which hands them a marker, and refuse the marker like any other bad request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from server.domain.errors import FieldViolation, InvalidArgument


class _Undecodable:
    """Stands in for a request body that did not parse, so that the handler wrapper can
    refuse it with INVALID_ARGUMENT instead of gRPC answering UNKNOWN with a traceback."""


_UNDECODABLE = _Undecodable()


def tolerant(deserializer: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserializer is None:
        return None

    def deserialize(data: bytes) -> Any:
        try:
            return deserializer(data)
        except Exception:
            return _UNDECODABLE

    return deserialize


def check_decoded(request: Any) -> None:
    if request is _UNDECODABLE:
        raise InvalidArgument([FieldViolation("request", "the body is not a valid message of the request type")])
