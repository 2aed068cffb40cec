"""AES-256-GCM for var group values at rest, and the per-cluster checksum key (HKDF).

Each value gets a fresh 96-bit nonce. The associated data binds a ciphertext to its
``(var_group_id, key)`` so a row copied onto another group or key fails to decrypt. The key id is
stored beside every ciphertext so a later rotation job knows which key sealed it. Errors name the
group and key, never the value.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from starform_core.errors import StoreError
from starform_core.secrets_values import SecretValue

__all__ = ["EncryptionKeyError", "Sealed", "VarCipher", "generate_key"]

_AAD_PREFIX = b"starform/var-group-entry/v1\x00"
_CHECKSUM_INFO = b"starform/var-group-checksum/v1\x00"
NONCE_BYTES = 12


class EncryptionKeyError(StoreError):
    """The encryption key is missing, malformed, or not the key that sealed a stored value."""


@attrs.frozen
class Sealed:
    """One encrypted value as stored: ciphertext (with tag), nonce and the sealing key's id."""

    ciphertext: bytes
    nonce: bytes
    key_id: str


def generate_key() -> str:
    """A fresh key in ``ENCRYPTION_KEY`` form: base64 of 32 random bytes."""
    return base64.b64encode(os.urandom(32)).decode()


TAG_BYTES = 16
"""The AES-GCM authentication tag appended to every ciphertext."""


def _aad(var_group_id: str, key: str) -> bytes:
    return _AAD_PREFIX + var_group_id.encode() + b"\x00" + key.encode()


@attrs.frozen(repr=False)
class VarCipher:
    """Seals and opens var group values with one AES-256 key (held privately, never printed)."""

    _key: bytes = attrs.field(alias="key")
    key_id: str

    @classmethod
    def from_base64(cls, encoded: str | None, *, key_id: str | None = None) -> VarCipher:
        """Load ``ENCRYPTION_KEY`` (base64 of 32 bytes); the id defaults to a short key hash."""
        if not encoded:
            raise EncryptionKeyError("ENCRYPTION_KEY is not set (base64 of 32 random bytes)")
        try:
            raw = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise EncryptionKeyError("ENCRYPTION_KEY is not valid base64") from exc
        if len(raw) != 32:
            raise EncryptionKeyError(f"ENCRYPTION_KEY must decode to 32 bytes for AES-256, got {len(raw)}")
        return cls(key=raw, key_id=key_id or hashlib.sha256(raw).hexdigest()[:16])

    overhead = TAG_BYTES
    """Bytes a sealed value adds to its plaintext (the AES-GCM tag)."""

    def __repr__(self) -> str:
        return f"VarCipher(key_id={self.key_id!r})"

    def seal(self, var_group_id: str, key: str, value: SecretValue) -> Sealed:
        """Encrypt one value under a fresh nonce, bound to its group and key."""
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self._key).encrypt(nonce, value.reveal().encode(), _aad(var_group_id, key))
        return Sealed(ciphertext=ciphertext, nonce=nonce, key_id=self.key_id)

    def open(self, var_group_id: str, key: str, sealed: Sealed) -> SecretValue:
        """Decrypt one value; a wrong key or a moved/tampered row raises ``EncryptionKeyError``."""
        if sealed.key_id != self.key_id:
            raise EncryptionKeyError(
                f"var group {var_group_id} entry {key!r} was sealed with key id "
                f"{sealed.key_id!r} but the loaded ENCRYPTION_KEY has id {self.key_id!r}"
            )
        try:
            plaintext = AESGCM(self._key).decrypt(sealed.nonce, sealed.ciphertext, _aad(var_group_id, key))
        except InvalidTag as exc:
            raise EncryptionKeyError(
                f"var group {var_group_id} entry {key!r} does not decrypt: wrong ENCRYPTION_KEY "
                "or the stored row was altered or moved"
            ) from exc
        return SecretValue(plaintext.decode())

    def checksum_key(self, cluster_id: str) -> bytes:
        """The cluster's var-group checksum key: HKDF-SHA256 of the encryption key.

        Stable for a cluster and key; reveals nothing about the key or the values.
        """
        return HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=_CHECKSUM_INFO + cluster_id.encode()
        ).derive(self._key)
