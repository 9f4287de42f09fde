"""Small helpers for end-to-end tests: building requests and reading rich errors."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from wallet.v1 import wallet_pb2, wallet_pb2_grpc

CREDIT = wallet_pb2.ENTRY_TYPE_CREDIT
DEBIT = wallet_pb2.ENTRY_TYPE_DEBIT


def entry_request(
    customer_id: str,
    amount: int,
    entry_type: int = CREDIT,
    currency: str = "USD",
    reason: str = "test",
    idempotency_key: str = "",
    metadata: dict[str, str] | None = None,
) -> wallet_pb2.CreateLedgerEntryRequest:
    return wallet_pb2.CreateLedgerEntryRequest(
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        entry_type=entry_type,  # type: ignore[arg-type]
        reason=reason,
        idempotency_key=idempotency_key,
        metadata=metadata or {},
    )


def error_info(error: grpc.aio.AioRpcError | grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo detail of a failed call (fails the test if there is none)."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return info
    raise AssertionError("no ErrorInfo detail")


def error_reason(error: grpc.aio.AioRpcError | grpc.RpcError) -> str:
    """The ErrorInfo reason of a failed call, or "" for a status from gRPC itself (no details)."""
    status = rpc_status.from_call(error)
    return error_info(error).reason if status is not None and status.details else ""


def field_violations(error: grpc.aio.AioRpcError | grpc.RpcError) -> list[str]:
    """The fields named by the BadRequest detail of a failed call."""
    status = rpc_status.from_call(error)
    assert status is not None, "the error carries no google.rpc.Status"
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad_request = error_details_pb2.BadRequest()
            detail.Unpack(bad_request)
            return [v.field for v in bad_request.field_violations]
    raise AssertionError("no BadRequest detail")


def entry_outcome(address: str, request: wallet_pb2.CreateLedgerEntryRequest) -> tuple[grpc.StatusCode, str, bool]:
    """Sends `request` on a channel of its own: the status code, its ErrorInfo reason, whether it was a replay."""
    with grpc.insecure_channel(address) as channel:
        try:
            response = wallet_pb2_grpc.WalletServiceStub(channel).CreateLedgerEntry(request, timeout=60)
        except grpc.RpcError as error:
            return error.code(), error_reason(error), False
        return grpc.StatusCode.OK, "", response.idempotent_replay
