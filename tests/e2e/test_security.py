"""TLS, mutual TLS, bearer tokens with scopes, and attribution of every entry to its caller."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
import pytest_asyncio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from server.api.auth import hash_token
from server.app import create_server
from server.config import Settings
from tests.certificates import CertificateAuthority
from tests.e2e.helpers import entry_request, error_info
from tests.waiting import eventually
from wallet.v1 import wallet_pb2, wallet_pb2_grpc, webhooks_pb2, webhooks_pb2_grpc

WRITER_TOKEN = "writer-secret-token-0123456789"
READER_TOKEN = "reader-secret-token-9876543210"
WEBHOOKS_TOKEN = "webhooks-secret-token-5555555555"


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> CertificateAuthority:
    return CertificateAuthority(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def auth_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("auth") / "callers.json"
    callers = [
        {
            "name": "billing-service",
            "scopes": ["wallet.read", "wallet.write"],
            "token_sha256": hash_token(WRITER_TOKEN),
        },
        {"name": "dashboard", "scopes": ["wallet.read"], "token_sha256": hash_token(READER_TOKEN)},
        {"name": "integrations", "scopes": ["webhooks.admin"], "token_sha256": hash_token(WEBHOOKS_TOKEN)},
        {"name": "refund-service", "scopes": ["wallet.write", "wallet.read"], "certificate_common_name": "refunds"},
    ]
    path.write_text(json.dumps({"callers": callers}))
    return str(path)


@pytest_asyncio.fixture(scope="module")
async def token_server(settings: Settings, database_url: str, auth_file: str) -> AsyncIterator[str]:
    server, port = await create_server(replace(settings, auth_file=auth_file), database_url)
    await server.start()
    yield f"127.0.0.1:{port}"
    await server.stop(0)


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def test_a_call_without_a_credential_is_unauthenticated(token_server: str, customer_id: str) -> None:
    async with grpc.aio.insecure_channel(token_server) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetBalances(wallet_pb2.GetBalancesRequest(customer_id=customer_id))
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.GetBalances(
                wallet_pb2.GetBalancesRequest(customer_id=customer_id), metadata=bearer("wrong-token")
            )
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            async for _ in stub.ListLedgerEntries(wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id)):
                pass
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_read_only_caller_may_read_but_not_write(token_server: str, customer_id: str) -> None:
    async with grpc.aio.insecure_channel(token_server) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        balances = await stub.GetBalances(
            wallet_pb2.GetBalancesRequest(customer_id=customer_id), metadata=bearer(READER_TOKEN)
        )
        assert len(balances.wallets) == 2
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await stub.CreateLedgerEntry(entry_request(customer_id, 100), metadata=bearer(READER_TOKEN))
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(raised.value).metadata["scope"] == "wallet.write"


async def test_webhook_endpoints_need_the_webhooks_admin_scope_which_wallet_write_does_not_give(
    token_server: str,
) -> None:
    async with grpc.aio.insecure_channel(token_server) as channel:
        hooks = webhooks_pb2_grpc.WebhookServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await hooks.ListWebhookEndpoints(webhooks_pb2.ListWebhookEndpointsRequest(), metadata=bearer(WRITER_TOKEN))
        assert raised.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert error_info(raised.value).metadata["scope"] == "webhooks.admin"
        await hooks.ListWebhookEndpoints(webhooks_pb2.ListWebhookEndpointsRequest(), metadata=bearer(WEBHOOKS_TOKEN))


async def test_each_entry_records_the_caller_that_created_it(token_server: str, customer_id: str) -> None:
    async with grpc.aio.insecure_channel(token_server) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        response = await stub.CreateLedgerEntry(entry_request(customer_id, 100), metadata=bearer(WRITER_TOKEN))
        assert response.entry.created_by == "billing-service"
        listed = [
            e
            async for m in stub.ListLedgerEntries(
                wallet_pb2.ListLedgerEntriesRequest(customer_id=customer_id), metadata=bearer(READER_TOKEN)
            )
            for e in m.entries
        ]
        assert [e.created_by for e in listed] == ["billing-service"]


async def test_health_and_reflection_stay_open_without_a_credential(token_server: str) -> None:
    async with grpc.aio.insecure_channel(token_server) as channel:
        response = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        assert response.status in (health_pb2.HealthCheckResponse.SERVING, health_pb2.HealthCheckResponse.NOT_SERVING)
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = [
            a
            async for a in reflection.ServerReflectionInfo(
                iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            )
        ]
        names = {s.name for s in answers[0].list_services_response.service}
        assert "wallet.v1.WalletService" in names


async def test_tokens_never_appear_in_the_logs(
    token_server: str, customer_id: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with grpc.aio.insecure_channel(token_server) as channel:
        stub = wallet_pb2_grpc.WalletServiceStub(channel)
        await stub.CreateLedgerEntry(entry_request(customer_id, 5), metadata=bearer(WRITER_TOKEN))
        with pytest.raises(grpc.aio.AioRpcError):
            await stub.CreateLedgerEntry(entry_request(customer_id, 5), metadata=bearer(READER_TOKEN))
    # The access log writes in batches: wait until both calls are in it.
    logged = ('"code": "OK"', '"code": "PERMISSION_DENIED"', '"caller": "billing-service"')
    await eventually(lambda: all(text in caplog.text for text in logged), 30, "both calls in the access log")
    assert WRITER_TOKEN not in caplog.text and READER_TOKEN not in caplog.text
    assert '"caller": "billing-service"' in caplog.text


async def test_tls_serves_trusting_clients_and_refuses_plaintext(
    settings: Settings, database_url: str, authority: CertificateAuthority, customer_id: str
) -> None:
    issued = authority.issue("wallet-server", server=True)
    tls = replace(settings, tls_cert_file=str(issued.certificate_path), tls_key_file=str(issued.key_path))
    server, port = await create_server(tls, database_url)
    await server.start()
    try:
        credentials = grpc.ssl_channel_credentials(root_certificates=authority.issued.certificate_pem)
        async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
            response = await wallet_pb2_grpc.WalletServiceStub(channel).CreateLedgerEntry(entry_request(customer_id, 7))
            assert response.wallet.balance == 7
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as raised:
                await wallet_pb2_grpc.WalletServiceStub(channel).GetBalances(
                    wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=3
                )
            assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)


async def test_mutual_tls_requires_a_client_certificate_and_names_the_caller(
    settings: Settings,
    database_url: str,
    authority: CertificateAuthority,
    auth_file: str,
    tmp_path: Path,
    customer_id: str,
) -> None:
    issued = authority.issue("wallet-server-mtls", server=True)
    mtls = replace(
        settings,
        tls_cert_file=str(issued.certificate_path),
        tls_key_file=str(issued.key_path),
        tls_client_ca_file=str(authority.issued.certificate_path),
        auth_file=auth_file,
    )
    server, port = await create_server(mtls, database_url)
    await server.start()
    try:
        client = authority.issue("refunds", server=False)
        stranger = CertificateAuthority(tmp_path, "other-ca").issue("refunds", server=False)
        root = authority.issued.certificate_pem
        with_certificate = grpc.ssl_channel_credentials(root, client.key_pem, client.certificate_pem)
        async with grpc.aio.secure_channel(f"localhost:{port}", with_certificate) as channel:
            response = await wallet_pb2_grpc.WalletServiceStub(channel).CreateLedgerEntry(entry_request(customer_id, 9))
            assert response.entry.created_by == "refund-service"
        for credentials in (
            grpc.ssl_channel_credentials(root),
            grpc.ssl_channel_credentials(root, stranger.key_pem, stranger.certificate_pem),
        ):
            async with grpc.aio.secure_channel(f"localhost:{port}", credentials) as channel:
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await wallet_pb2_grpc.WalletServiceStub(channel).GetBalances(
                        wallet_pb2.GetBalancesRequest(customer_id=customer_id), timeout=3
                    )
                assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        await server.stop(0)
