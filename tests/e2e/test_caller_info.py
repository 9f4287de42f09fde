"""GetCallerInfo: who the service takes the caller to be, and its scopes (the console shows only what it may do)."""

from __future__ import annotations

import pytest

from server.app import WalletServer
from tests.e2e.test_security import READER_TOKEN, WRITER_TOKEN, auth_file, token_server
from wallet_client import AsyncWalletClient, WalletError

__all__ = ["auth_file", "token_server"]  # module fixtures shared with the security tests


def bearer(token: str) -> tuple[tuple[str, str]]:
    return (("authorization", f"Bearer {token}"),)


async def test_each_caller_learns_its_name_and_scopes(token_server: str) -> None:
    async with AsyncWalletClient(token_server, metadata=bearer(WRITER_TOKEN)) as writer:
        info = await writer.caller_info()
    assert (info.name, info.scopes, info.auth_enabled) == (
        "billing-service",
        frozenset({"wallet.read", "wallet.write"}),
        True,
    )
    assert info.can_write and info.can_read
    async with AsyncWalletClient(token_server, metadata=bearer(READER_TOKEN)) as reader:
        info = await reader.caller_info()
    assert (info.name, info.scopes, info.can_write) == ("dashboard", frozenset({"wallet.read"}), False)


async def test_without_a_credential_it_is_unauthenticated(token_server: str) -> None:
    async with AsyncWalletClient(token_server) as anonymous:
        with pytest.raises(WalletError) as raised:
            await anonymous.caller_info()
    assert raised.value.code.name == "UNAUTHENTICATED"


async def test_with_authentication_off_every_scope_is_held(wallet_server: tuple[WalletServer, str]) -> None:
    async with AsyncWalletClient(wallet_server[1]) as client:
        info = await client.caller_info()
    assert (info.name, info.scopes, info.auth_enabled) == (
        "",
        frozenset({"wallet.read", "wallet.write", "webhooks.admin"}),
        False,
    )
