"""Goal: garbage on the wire and oversized messages are refused cleanly, and the server keeps serving everyone else.

Method: a real server process with the smallest maximum message size the
configuration allows (WALLET_MAX_MESSAGE_BYTES=4096).
- Raw sockets send bytes that are not HTTP/2 (HTTP/1.1, TLS, zeros, random
  bytes, a wrong preface, frames beyond the size limit): the server closes
  each connection within a few seconds, and a normal caller is served after
  each. A real HTTP/2 connection that then breaks the protocol (bad HPACK,
  data on an idle stream, a truncated frame) may stay open, but others are
  served while it is. Hypothesis-drawn bytes, with or without the preface,
  likewise. Many such connections at once, and connections that open and
  then say nothing, do not stop other callers either.
- Requests just at and just above the maximum size: the one at the limit is
  served; the one above fails with RESOURCE_EXHAUSTED, writes nothing, and
  the same channel keeps working. So does a 10 MiB blob of bytes.
Every test ends with the ledger check.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import random
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.consistency import assert_ledger_consistent
from tests.faults.servers import ServerProcess, server_process
from tests.seeding import seed_credits
from wallet.v1 import wallet_pb2, wallet_pb2_grpc

pytestmark = pytest.mark.slow

MAX_MESSAGE_BYTES = 4096
CLOSE_WITHIN_S = 10.0
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _frame(kind: int, flags: int, stream: int, payload: bytes, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    return size.to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


_RNG = random.Random(8)
# Not HTTP/2 at all: the server must close the connection.
NOT_HTTP2 = {
    "an HTTP/1.1 request": b"GET / HTTP/1.1\r\nHost: wallet\r\nConnection: keep-alive\r\n\r\n",
    "an HTTP/1.1 upgrade to h2c": b"GET / HTTP/1.1\r\nHost: w\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n",
    "a TLS ClientHello": bytes.fromhex("160301006e0100006a0303") + bytes(_RNG.randrange(256) for _ in range(100)),
    "a megabyte of zeros": bytes(1 << 20),
    "64 KiB of random bytes": bytes(_RNG.randrange(256) for _ in range(1 << 16)),
    "a wrong preface": b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + EMPTY_SETTINGS,
    "the preface, then garbage": PREFACE + bytes(_RNG.randrange(256) for _ in range(4096)),
    "a frame longer than the maximum frame size": PREFACE
    + EMPTY_SETTINGS
    + _frame(0, 0, 1, b"x" * 100, length=(1 << 24) - 1),
}
# A real HTTP/2 connection that then breaks the protocol: the server may reset
# the stream and keep the connection, or close it; either way others are served.
BROKEN_HTTP2 = {
    "headers with broken HPACK": PREFACE + EMPTY_SETTINGS + _frame(1, 0x4 | 0x1, 1, b"\xff\xff\xff\xff\x0f" * 8),
    "data on a stream never opened": PREFACE + EMPTY_SETTINGS + _frame(0, 0x1, 7, b"\x00\x00\x00\x00\x05hello"),
    "a window update of zero": PREFACE + EMPTY_SETTINGS + _frame(8, 0, 0, b"\x00\x00\x00\x00"),
    "a truncated frame, then silence": PREFACE + EMPTY_SETTINGS + _frame(1, 0x4, 1, b"\x82", length=200),
}


@pytest.fixture(scope="module")
def server(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    log = Path(tmp_path_factory.mktemp("raw")) / "server.log"
    with server_process(database_url, log, WALLET_MAX_MESSAGE_BYTES=str(MAX_MESSAGE_BYTES)) as running:
        yield running


def _host_port(address: str) -> tuple[str, int]:
    host, port = address.rsplit(":", 1)
    return host, int(port)


def _send_garbage(address: str, payload: bytes, *, must_close: bool) -> float | None:
    """Sends `payload` on a raw connection; checks that other callers are served while it is open.

    Returns how long the server took to close the connection, or None if it was
    still open (allowed only when not `must_close`) after a short wait.
    """
    wait_s = CLOSE_WITHIN_S if must_close else 0.3
    started = time.monotonic()
    with socket.create_connection(_host_port(address), timeout=wait_s) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(payload)
        closed_in: float | None = None
        try:
            while closed_in is None and time.monotonic() - started < wait_s:
                if not sock.recv(65536):
                    closed_in = time.monotonic() - started
        except ConnectionResetError:
            closed_in = time.monotonic() - started
        except TimeoutError:
            pass
        if closed_in is None:
            assert not must_close, f"the server kept a connection of garbage open for {wait_s}s"
            _assert_serving(address)
    return closed_in


def _must_close(payload: bytes) -> bool:
    """Bytes that are not the start of an HTTP/2 conversation must get the connection closed."""
    return not (payload.startswith(PREFACE) or PREFACE.startswith(payload))


def _assert_serving(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        response = wallet_pb2_grpc.WalletServiceStub(channel).GetBalances(
            wallet_pb2.GetBalancesRequest(customer_id="cus_raw_probe"), timeout=5
        )
    assert response.customer_id == "cus_raw_probe"


@pytest.mark.parametrize("payload", list(NOT_HTTP2.values()), ids=list(NOT_HTTP2))
def test_bytes_that_are_not_http2_get_the_connection_closed_and_others_are_still_served(
    server: ServerProcess, payload: bytes
) -> None:
    closed_in = _send_garbage(server.address, payload, must_close=True)
    assert closed_in is not None and closed_in < CLOSE_WITHIN_S
    _assert_serving(server.address)
    assert server.process is not None and server.process.poll() is None


@pytest.mark.parametrize("payload", list(BROKEN_HTTP2.values()), ids=list(BROKEN_HTTP2))
def test_a_broken_http2_conversation_does_not_stop_other_callers(server: ServerProcess, payload: bytes) -> None:
    _send_garbage(server.address, payload, must_close=False)
    _assert_serving(server.address)
    assert server.process is not None and server.process.poll() is None


def test_arbitrary_bytes_on_a_raw_connection_never_stop_the_server(server: ServerProcess, database_url: str) -> None:
    @settings(max_examples=40, deadline=None, database=None)
    @given(payload=st.binary(min_size=1, max_size=4096), after_preface=st.booleans())
    def examples(payload: bytes, after_preface: bool) -> None:
        payload = (PREFACE + EMPTY_SETTINGS if after_preface else b"") + payload
        _send_garbage(server.address, payload, must_close=_must_close(payload))
        _assert_serving(server.address)

    examples()
    assert_ledger_consistent(database_url)


def test_many_garbage_and_silent_connections_at_once_do_not_stop_other_callers(
    server: ServerProcess, database_url: str
) -> None:
    silent: list[socket.socket] = []
    try:
        # Connections that open (some with a bare preface) and then say nothing at all.
        for i in range(50):
            sock = socket.create_connection(_host_port(server.address), timeout=5)
            if i % 2:
                sock.sendall(PREFACE)
            silent.append(sock)
        payloads = [payload for name, payload in NOT_HTTP2.items() if "megabyte" not in name] * 5
        with concurrent.futures.ThreadPoolExecutor(max_workers=16) as executor:
            closing = [executor.submit(_send_garbage, server.address, p, must_close=True) for p in payloads]
            started = time.monotonic()
            for _ in range(20):
                _assert_serving(server.address)
            served_in = time.monotonic() - started
            assert all(future.result(timeout=30) is not None for future in closing)
        assert served_in < 10, served_in
    finally:
        for sock in silent:
            sock.close()
    _assert_serving(server.address)
    assert_ledger_consistent(database_url)


def _request_of_size(customer_id: str, size: int) -> wallet_pb2.CreateLedgerEntryRequest:
    """A valid CreateLedgerEntry request whose encoding is exactly `size` bytes (metadata pads it)."""
    request = wallet_pb2.CreateLedgerEntryRequest(
        customer_id=customer_id,
        amount=1,
        currency="USD",
        entry_type=wallet_pb2.ENTRY_TYPE_CREDIT,
        idempotency_key=f"sized-{size}",
    )
    index = 0
    while request.ByteSize() < size:
        key = f"pad{index:02d}"
        request.metadata[key] = ""
        room = size - request.ByteSize()
        # A value's length prefix grows from one byte to two at 128 characters.
        value = "v" * min(500, room if room < 128 else room - 1)
        request.metadata[key] = value
        if request.ByteSize() > size:
            request.metadata[key] = value[: len(value) - (request.ByteSize() - size)]
        index += 1
    assert request.ByteSize() == size, request.ByteSize()
    return request


def _entries_of(database_url: str, customer_id: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM ledger_entries WHERE customer_id = %s", (customer_id,)).fetchone()
    return int(row[0]) if row else 0


def test_a_request_at_the_maximum_size_is_served_and_one_byte_more_is_resource_exhausted(
    server: ServerProcess, database_url: str
) -> None:
    customer_id = f"cus_size_{uuid.uuid4().hex[:12]}"
    with grpc.insecure_channel(server.address) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        at_limit = stub.CreateLedgerEntry(_request_of_size(customer_id, MAX_MESSAGE_BYTES), timeout=10)
        assert at_limit.wallet.balance == 1
        with pytest.raises(grpc.RpcError) as raised:
            stub.CreateLedgerEntry(_request_of_size(customer_id, MAX_MESSAGE_BYTES + 1), timeout=10)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, raised.value
        blob = channel.unary_unary(
            "/wallet.v1.WalletService/CreateLedgerEntry", request_serializer=None, response_deserializer=None
        )
        with pytest.raises(grpc.RpcError) as raised:
            blob(b"\x0a" + bytes(10 << 20), timeout=30)
        assert raised.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, raised.value
        # The same channel still works, and nothing of the refused requests was written.
        assert stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=5).wallets
    assert _entries_of(database_url, customer_id) == 1
    assert_ledger_consistent(database_url)


def test_an_export_completes_under_the_smallest_configured_maximum_message_size(
    server: ServerProcess, database_url: str
) -> None:
    customer_id = f"cus_export_{uuid.uuid4().hex[:12]}"
    seed_credits(database_url, customer_id, 3_000)
    with grpc.insecure_channel(server.address) as channel:
        stream = wallet_pb2_grpc.WalletServiceStub(channel).ListLedgerEntries(
            wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id), timeout=30
        )
        received = 0
        try:
            for message in stream:
                received += len(message.entries)
        except grpc.RpcError as error:
            raise AssertionError(f"export failed after {received} entries: {error.code()} {error.details()}") from error
    assert received == 3_000
    assert_ledger_consistent(database_url)
