"""The authenticator: token hashes, scopes per method, open health, and a strict auth file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from server.api.auth import METHOD_SCOPES, AuthConfigError, Authenticator, Caller, hash_token, load_callers
from server.domain.errors import PermissionDenied, Unauthenticated
from wallet.v1 import wallet_pb2, webhooks_pb2

CREATE = "/wallet.v1.WalletService/CreateLedgerEntry"
READ = "/wallet.v1.WalletService/GetBalances"


def authenticator() -> Authenticator:
    return Authenticator(
        [
            Caller("writer", frozenset({"wallet.read", "wallet.write"}), bytes.fromhex(hash_token("w-token"))),
            Caller("reader", frozenset({"wallet.read"}), bytes.fromhex(hash_token("r-token"))),
            Caller("mtls", frozenset({"wallet.read"}), certificate_common_name="svc-a"),
        ]
    )


def test_a_known_token_with_the_scope_names_its_caller() -> None:
    assert authenticator().authorize(CREATE, [("authorization", "Bearer w-token")], []) == "writer"
    assert authenticator().authorize(READ, [("authorization", "bearer r-token")], []) == "reader"


def test_a_certificate_common_name_identifies_a_caller() -> None:
    assert authenticator().authorize(READ, [], ["svc-a"]) == "mtls"


@pytest.mark.parametrize(
    "metadata", [[], [("authorization", "Bearer nope")], [("authorization", "w-token")], [("x-token", "w-token")]]
)
def test_a_missing_or_unknown_credential_is_unauthenticated(metadata: list[tuple[str, str]]) -> None:
    with pytest.raises(Unauthenticated):
        authenticator().authorize(READ, metadata, ["svc-b"])


def test_a_caller_without_the_methods_scope_is_denied() -> None:
    with pytest.raises(PermissionDenied):
        authenticator().authorize(CREATE, [("authorization", "Bearer r-token")], [])


def test_health_and_reflection_need_no_credential() -> None:
    assert authenticator().authorize("/grpc.health.v1.Health/Check", [], []) is None


@pytest.mark.parametrize(
    "document",
    [
        {"callers": [{"name": "a", "scopes": ["wallet.admin"], "token_sha256": "00"}]},
        {"callers": [{"name": "a", "scopes": ["wallet.read"]}]},
        {"callers": [{"name": "a", "scopes": ["wallet.read"], "token_sha256": "not-hex"}]},
        {"nobody": []},
    ],
)
def test_a_malformed_auth_file_is_refused_at_start(tmp_path: Path, document: dict[str, object]) -> None:
    path = tmp_path / "callers.json"
    path.write_text(json.dumps(document))
    with pytest.raises(AuthConfigError):
        load_callers(str(path))


def test_every_wallet_service_and_webhook_service_method_needs_a_scope() -> None:
    services = [
        wallet_pb2.DESCRIPTOR.services_by_name["WalletService"],
        webhooks_pb2.DESCRIPTOR.services_by_name["WebhookService"],
    ]
    methods = {f"/{service.full_name}/{method.name}" for service in services for method in service.methods}
    assert methods == set(METHOD_SCOPES)


def test_webhook_methods_need_the_webhooks_admin_scope_not_wallet_write() -> None:
    webhook_scopes = {scope for method, scope in METHOD_SCOPES.items() if "/wallet.v1.WebhookService/" in method}
    assert webhook_scopes == {"webhooks.admin"}
