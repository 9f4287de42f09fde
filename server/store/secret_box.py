"""Webhook signing secrets at rest: encrypted with a key the database does not hold.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`): a copy of the
database alone cannot recover a secret, so it cannot forge a signature. The key
comes from WALLET_WEBHOOK_SECRET_KEY (one or more Fernet keys, comma-separated:
the first encrypts, every one decrypts, so the key can be rotated). Without it,
a key is generated once into `<data_dir>/webhook-secret.key` (mode 0600), which
suits `make run` on one machine only: production sets the variable.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

KEY_FILE = "webhook-secret.key"


class SecretKeyError(ValueError):
    """The configured key is not a Fernet key, or a stored secret does not decrypt with it."""


class SecretBox:
    def __init__(self, keys: list[bytes]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except (ValueError, TypeError) as error:
            raise SecretKeyError("WALLET_WEBHOOK_SECRET_KEY: not a Fernet key (32 url-safe base64 bytes)") from error

    def seal(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(sealed)).decode()
        except InvalidToken as error:
            raise SecretKeyError("a webhook secret does not decrypt with WALLET_WEBHOOK_SECRET_KEY") from error


class KeyFileBox(SecretBox):
    """A box whose key lives in a file under data_dir, read (or generated) on first use only."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._box: SecretBox | None = None

    def seal(self, secret: str) -> bytes:
        return self._loaded().seal(secret)

    def open(self, sealed: bytes) -> str:
        return self._loaded().open(sealed)

    def _loaded(self) -> SecretBox:
        if self._box is None:
            self._box = SecretBox([_key_from_file(self._path)])
        return self._box


def secret_box(configured: str | None, data_dir: str) -> SecretBox:
    """The box of the configured keys, or of the key kept under `data_dir` (generated on first use)."""
    if configured:
        return SecretBox([key.strip().encode() for key in configured.split(",") if key.strip()])
    return KeyFileBox(Path(data_dir) / KEY_FILE)


def _key_from_file(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Fernet.generate_key()
        # Created exclusively: of two processes starting at once, one writes and both read its key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(key)
    return path.read_bytes().strip()
