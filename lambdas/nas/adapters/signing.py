"""Signing and verifying audit digests (R-AUDIT) with the KMS audit signing key.

`KmsSigner` signs (only the digest job's role may: the key policy says so). Two verifiers, one
contract: `KmsVerifier` asks KMS `Verify` for each signature (the api Lambda: no cryptography
library in the layer, and a page of digests is a few dozen calls); `PublicKeyVerifier` fetches the
public key once with `GetPublicKey` and checks every signature locally (`nas audit verify`: one KMS
call for a year of digests, and an auditor holding the public key can check digests without AWS).
Both check against the configured key, never the key a digest names, so a digest signed by any
other key fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError

from nas.adapters import StoreError, store_call
from nas.catalogue import AUDIT_SIGNING_ALGORITHM


@dataclass(frozen=True, slots=True)
class Signature:
    key_id: str
    algorithm: str
    value: bytes


class DigestSigner(Protocol):
    def sign(self, message: bytes) -> Signature: ...


class SignatureVerifier(Protocol):
    def verify(self, message: bytes, signature: bytes, algorithm: str) -> bool: ...


class KmsSigner:
    def __init__(self, client: Any, key_id: str, algorithm: str = AUDIT_SIGNING_ALGORITHM) -> None:
        self._client = client
        self._key_id = key_id
        self._algorithm = algorithm

    def sign(self, message: bytes) -> Signature:
        with store_call("audit digest sign"):
            response = self._client.sign(
                KeyId=self._key_id, Message=message, MessageType="RAW", SigningAlgorithm=self._algorithm
            )
        return Signature(
            str(response["KeyId"]), str(response["SigningAlgorithm"]), bytes(response["Signature"])
        )


class KmsVerifier:
    def __init__(self, client: Any, key_id: str, algorithm: str = AUDIT_SIGNING_ALGORITHM) -> None:
        self._client = client
        self._key_id = key_id
        self._algorithm = algorithm

    def verify(self, message: bytes, signature: bytes, algorithm: str) -> bool:
        if algorithm != self._algorithm or not signature:
            return False
        with store_call("audit digest verify"):
            try:
                response = self._client.verify(
                    KeyId=self._key_id,
                    Message=message,
                    MessageType="RAW",
                    Signature=signature,
                    SigningAlgorithm=algorithm,
                )
            except ClientError as exc:
                # KMS answers an invalid signature with an error, not SignatureValid false.
                if exc.response.get("Error", {}).get("Code") == "KMSInvalidSignatureException":
                    return False
                raise
        return bool(response.get("SignatureValid"))


class PublicKeyVerifier:
    """Checks ECDSA signatures locally with the key's public half, fetched once. Needs the
    `cryptography` package, which the command line has and the Lambda layer does not."""

    def __init__(self, client: Any, key_id: str, algorithm: str = AUDIT_SIGNING_ALGORITHM) -> None:
        self._client = client
        self._key_id = key_id
        self._algorithm = algorithm
        self._public_key: Any = None

    def _key(self) -> Any:
        if self._public_key is None:
            from cryptography.hazmat.primitives.serialization import load_der_public_key

            with store_call("audit signing key read"):
                response = self._client.get_public_key(KeyId=self._key_id)
            if self._algorithm not in response.get("SigningAlgorithms", []):
                raise StoreError(f"the audit signing key does not sign with {self._algorithm}")
            self._public_key = load_der_public_key(bytes(response["PublicKey"]))
        return self._public_key

    def verify(self, message: bytes, signature: bytes, algorithm: str) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        if algorithm != self._algorithm or self._algorithm != "ECDSA_SHA_256":
            return False
        key = self._key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        try:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True
