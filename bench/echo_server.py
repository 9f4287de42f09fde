"""The baseline of GetBalances and CreateLedgerEntry: a bare grpc.aio WalletService answering from memory.

Same proto types and the same (de)serialisation as the real service, no
interceptor, no database: the most a Python grpc.aio server can answer on
this machine. Each answer is built per call and carries every field the
service fills in (a write's entry echoes the request, with an id, balances and
timestamps), so that the baseline pays for the same message work and only the
service's own work (validation, database, bookkeeping) separates the two.
Nothing is remembered between calls: balances are made up, not kept.
`python -m bench.echo_server --port N`; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
import time

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from bench.infra import die_with_parent
from wallet.v1 import wallet_pb2, wallet_pb2_grpc


def canned_response(customer_id: str) -> wallet_pb2.GetBalancesResponse:
    """What the service answers for a seeded customer: two written wallets with timestamps."""
    response = wallet_pb2.GetBalancesResponse(customer_id=customer_id)
    for code in ("INR", "USD"):
        wallet = response.wallets.add(customer_id=customer_id, currency=code, balance=1_000_000_000)
        wallet.minor_unit_exponent = 2
        wallet.created_at.FromSeconds(1_790_000_000)
        wallet.updated_at.FromSeconds(1_790_000_123)
    return response


def write_response(request: wallet_pb2.CreateLedgerEntryRequest, number: int) -> wallet_pb2.CreateLedgerEntryResponse:
    """What the service answers for an applied entry: the entry (as the request asked) and its wallet after it."""
    before = 1_000_000_000
    after = before - request.amount if request.entry_type == wallet_pb2.ENTRY_TYPE_DEBIT else before + request.amount
    now_ns = time.time_ns()
    response = wallet_pb2.CreateLedgerEntryResponse()
    entry = response.entry
    # An id of the service's shape (`le_` + 32 hex digits), unique within the process.
    entry.id = f"le_{now_ns // 1_000_000:012x}{number:020x}"
    entry.customer_id = request.customer_id
    entry.currency = request.currency
    entry.entry_type = request.entry_type
    entry.amount = request.amount
    entry.before_balance = before
    entry.after_balance = after
    entry.reason = request.reason
    entry.idempotency_key = request.idempotency_key
    if request.metadata:
        entry.metadata.update(request.metadata)
    entry.created_at.FromNanoseconds(now_ns // 1_000 * 1_000)
    wallet = response.wallet
    wallet.customer_id = request.customer_id
    wallet.currency = request.currency
    wallet.balance = after
    wallet.created_at.FromSeconds(1_790_000_000)
    wallet.updated_at.CopyFrom(entry.created_at)
    wallet.minor_unit_exponent = 2
    wallet.available_balance = after
    wallet.version = number
    return response


class EchoServicer(wallet_pb2_grpc.WalletServiceServicer):
    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    async def GetBalances(
        self, request: wallet_pb2.GetBalancesRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.GetBalancesResponse:
        # Build the answer per call, as the service must: a fixed message would flatter the baseline.
        return canned_response(request.customer_id)

    async def CreateLedgerEntry(
        self, request: wallet_pb2.CreateLedgerEntryRequest, context: grpc.aio.ServicerContext
    ) -> wallet_pb2.CreateLedgerEntryResponse:
        return write_response(request, next(self._numbers))


async def serve(port: int) -> None:
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    wallet_pb2_grpc.add_WalletServiceServicer_to_server(EchoServicer(), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    if server.add_insecure_port(f"127.0.0.1:{port}") == 0:
        raise SystemExit(f"echo server: cannot listen on 127.0.0.1:{port}")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    await server.stop(1.0)


def main() -> None:
    die_with_parent()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
