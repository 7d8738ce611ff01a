"""AES-256-GCM envelopes that name their key, so keys can rotate.

A sealed value is ``key_id (4 bytes) || nonce (12) || ciphertext+tag``. The key id is the first
four bytes of SHA-256 of the key: it names the key by what it is, never by its position in the
configuration, so reordering or adding keys never makes data unreadable. Callers pass associated
data that binds a value to its cart and purpose; a value moved to another cart will not open.
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_ID_BYTES = 4
NONCE_BYTES = 12


class UnknownKeyError(RuntimeError):
    """Data was sealed under a key this process was not given."""


class TamperedError(RuntimeError):
    """The value does not open under its key and associated data."""


def key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


class Keyring:
    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._ciphers = {key_id(k): AESGCM(k) for k in keys}
        self.primary_id = key_id(keys[0])

    @property
    def key_ids(self) -> set[bytes]:
        return set(self._ciphers)

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return (
            self.primary_id + nonce + self._ciphers[self.primary_id].encrypt(nonce, plaintext, aad)
        )

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        kid = bytes(sealed[:KEY_ID_BYTES])
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise UnknownKeyError(f"value sealed under key id {kid.hex()}, which is not configured")
        nonce = bytes(sealed[KEY_ID_BYTES : KEY_ID_BYTES + NONCE_BYTES])
        try:
            return cipher.decrypt(nonce, bytes(sealed[KEY_ID_BYTES + NONCE_BYTES :]), aad)
        except InvalidTag:
            raise TamperedError("stored value failed authentication") from None

    @staticmethod
    def sealed_key_id(sealed: bytes) -> bytes:
        return bytes(sealed[:KEY_ID_BYTES])
