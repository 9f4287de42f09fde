"""Real network faults between a client and the real server, for the retry and resume tests.

`FaultyWalletProxy` is a gRPC server that forwards every WalletService call to
the real server through the generated stubs and, when told to, fails a call
with UNAVAILABLE *after* the real server has answered (so a credit is
committed but its caller never hears of it), or cuts a history stream after
some messages. `TcpCutter` is a plain TCP relay that can drop its connections
mid-stream, as a crashed load balancer would.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from wallet.v1 import wallet_pb2, wallet_pb2_grpc


@dataclass
class Faults:
    """What the proxy does to the next calls; each counter is used up one call at a time."""

    # The next N writes (CreateLedgerEntry, CreateHold, CaptureHold, ReleaseHold) are committed
    # upstream, then answered UNAVAILABLE.
    lose_write_responses: int = 0
    # The next N GetBalances calls fail UNAVAILABLE without reaching the server.
    refuse_reads: int = 0
    # The next len(list) streams (history or watch) are cut with UNAVAILABLE after this many messages each.
    cut_streams_after: list[int] = field(default_factory=list)
    # The ErrorInfo reason those lost answers carry ("": a bare UNAVAILABLE, as from a network fault).
    lost_write_reason: str = ""
    # Every call the proxy saw, by method name (to count attempts).
    calls: list[str] = field(default_factory=list)


async def _forward_error(context: grpc.aio.ServicerContext, error: grpc.aio.AioRpcError) -> None:
    # Pass the rich status (grpc-status-details-bin) through unchanged.
    await context.abort(error.code(), error.details() or "", error.trailing_metadata())


def _error_info(code: grpc.StatusCode, message: str, reason: str) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata of a rich status carrying `reason` in an ErrorInfo, as the server sends ("": none)."""
    if not reason:
        return ()
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain="wallet.internal"))
    # The status's code and message must be the call's, or it is ignored as inconsistent.
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    return (("grpc-status-details-bin", status.SerializeToString()),)


def _pass_through(method: str, *, write: bool) -> Any:
    """A handler that forwards unary `method` upstream unchanged (writes may lose their answer).

    Typed Any: one function stands for handlers of different request types.
    """

    async def handler(self: FaultyWalletProxy, request: Message, context: grpc.aio.ServicerContext) -> Any:
        return await self.forward(method, request, context, write=write)

    return handler


class FaultyWalletProxy(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self, upstream: wallet_pb2_grpc.WalletServiceStub, faults: Faults) -> None:
        self.upstream = upstream
        self.faults = faults

    async def GetBalances(
        self, request: wallet_pb2.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetBalancesResponse:
        self.faults.calls.append("GetBalances")
        if self.faults.refuse_reads > 0:
            self.faults.refuse_reads -= 1
            await context.abort(grpc.StatusCode.UNAVAILABLE, "injected: server unreachable")
        try:
            response: wallet_pb2.GetBalancesResponse = await self.upstream.GetBalances(request)
            return response
        except grpc.aio.AioRpcError as error:
            await _forward_error(context, error)
            raise

    async def forward(self, method: str, request: Message, context: grpc.aio.ServicerContext, *, write: bool) -> Any:
        """The upstream answer to a unary call; a write's answer is lost after its commit when told to."""
        self.faults.calls.append(method)
        try:
            response = await getattr(self.upstream, method)(request)
        except grpc.aio.AioRpcError as error:
            await _forward_error(context, error)
            raise
        if write and self.faults.lose_write_responses > 0:
            self.faults.lose_write_responses -= 1
            message = "injected: connection lost after commit"
            await context.abort(
                grpc.StatusCode.UNAVAILABLE,
                message,
                _error_info(grpc.StatusCode.UNAVAILABLE, message, self.faults.lost_write_reason),
            )
        return response

    CreateLedgerEntry = _pass_through("CreateLedgerEntry", write=True)
    BatchCreateLedgerEntries = _pass_through("BatchCreateLedgerEntries", write=True)
    CreateHold = _pass_through("CreateHold", write=True)
    CaptureHold = _pass_through("CaptureHold", write=True)
    ReleaseHold = _pass_through("ReleaseHold", write=True)
    GetHold = _pass_through("GetHold", write=False)
    ListHolds = _pass_through("ListHolds", write=False)
    SummarizeLedger = _pass_through("SummarizeLedger", write=False)
    GetCallerInfo = _pass_through("GetCallerInfo", write=False)

    async def stream(self, method: str, request: Message, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        """The upstream stream's messages, cut short with UNAVAILABLE when told to."""
        self.faults.calls.append(method)
        cut_after = self.faults.cut_streams_after.pop(0) if self.faults.cut_streams_after else None
        sent = 0
        call = getattr(self.upstream, method)(request)
        try:
            async for message in call:
                if cut_after is not None and sent >= cut_after:
                    await context.abort(grpc.StatusCode.UNAVAILABLE, "injected: stream cut")
                yield message
                sent += 1
        except grpc.aio.AioRpcError as error:
            await _forward_error(context, error)
        finally:
            call.cancel()

    SetLowBalanceThreshold = _pass_through("SetLowBalanceThreshold", write=True)
    ReverseLedgerEntry = _pass_through("ReverseLedgerEntry", write=True)

    # Async generators themselves: grpc.aio tells a streaming handler by its kind of function, and iterates
    # what a plain function returns as a synchronous iterator.
    async def ListLedgerEntries(
        self, request: wallet_pb2.ListLedgerEntriesRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wallet_pb2.ListLedgerEntriesResponse]:
        async for message in self.stream("ListLedgerEntries", request, context):
            yield message

    async def WatchEvents(
        self, request: wallet_pb2.WatchEventsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[wallet_pb2.WatchEventsResponse]:
        async for message in self.stream("WatchEvents", request, context):
            yield message


@contextlib.asynccontextmanager
async def faulty_proxy(upstream_target: str) -> AsyncIterator[tuple[str, Faults]]:
    """Runs a FaultyWalletProxy in front of `upstream_target`; yields its address and its fault knobs."""
    faults = Faults()
    async with grpc.aio.insecure_channel(upstream_target) as channel:
        server = grpc.aio.server()
        wallet_pb2_grpc.add_WalletServiceServicer_to_server(
            FaultyWalletProxy(wallet_pb2_grpc.WalletServiceStub(channel), faults), server
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            yield f"127.0.0.1:{port}", faults
        finally:
            await server.stop(0)


class TcpCutter:
    """A TCP relay to `upstream`; `cut_after(n)` drops every connection once n more bytes went to the client.

    After a cut it keeps relaying new connections, unless `refuse()` was
    called: then it closes them at once, as a host that is down would.
    """

    def __init__(self, upstream: str) -> None:
        host, _, port = upstream.rpartition(":")
        self._upstream = (host, int(port))
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._cut_at: int | None = None
        self._sent = 0
        self._refusing = False
        self._refuse_after_cut = False
        self.cuts = 0
        self.address = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.address = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def close(self) -> None:
        assert self._server is not None
        self._server.close()
        self._drop_all()
        await self._server.wait_closed()

    def cut_after(self, byte_count: int, *, then_refuse: bool = False) -> None:
        self._sent = 0
        self._cut_at = byte_count
        self._refuse_after_cut = then_refuse

    def refuse(self, refusing: bool = True) -> None:
        self._refusing = refusing

    def _drop_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        if self._refusing:
            client_writer.transport.abort()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self._upstream)
        self._writers.update((client_writer, upstream_writer))
        await asyncio.gather(
            self._pump(client_reader, upstream_writer, to_client=False),
            self._pump(upstream_reader, client_writer, to_client=True),
            return_exceptions=True,
        )
        self._writers.difference_update((client_writer, upstream_writer))
        for writer in (client_writer, upstream_writer):
            writer.transport.abort()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, to_client: bool) -> None:
        while data := await reader.read(16_384):
            if to_client and self._cut_at is not None:
                self._sent += len(data)
                if self._sent >= self._cut_at:
                    # Forward part of the chunk so the client is left with a torn HTTP/2 frame.
                    writer.write(data[: len(data) // 2])
                    self._cut_at = None
                    self.cuts += 1
                    if self._refuse_after_cut:
                        self._refusing = True
                    self._drop_all()
                    return
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
