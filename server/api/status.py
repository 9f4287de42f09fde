"""The one mapping from a domain error to the gRPC status a caller receives.

The status code is the error's declared code name; the `ErrorInfo` reason is
its declared reason, a value name of the proto's `ErrorReason` enum (a unit
test holds the two to each other, both ways); an
`InvalidArgument` adds a `BadRequest` naming every bad field. A refused
request of a non-atomic batch carries the same code, reason, message and
metadata in its `BatchEntryError`.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

from server.domain.errors import ERROR_DOMAIN, InvalidArgument, WalletError
from wallet.v1 import wallet_pb2


def status_code(error: WalletError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


def _details(error: WalletError) -> list[any_pb2.Any]:
    info = any_pb2.Any()
    info.Pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))
    details = [info]
    if isinstance(error, InvalidArgument):
        bad_request = any_pb2.Any()
        bad_request.Pack(
            error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.description)
                    for v in error.violations
                ]
            )
        )
        details.append(bad_request)
    return details


def to_status(error: WalletError) -> status_pb2.Status:
    """The google.rpc.Status a caller receives for `error`."""
    return status_pb2.Status(code=getattr(code_pb2, error.code), message=error.message, details=_details(error))


def batch_entry_error(error: WalletError) -> wallet_pb2.BatchEntryError:
    """A refused request of a non-atomic batch: what its own call's status would have said."""
    return wallet_pb2.BatchEntryError(
        code=getattr(code_pb2, error.code), reason=error.reason, message=error.message, metadata=error.metadata
    )
