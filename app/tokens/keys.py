"""The ES256 keys that sign access tokens, and the JWK Set that publishes them."""

import base64
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from app.instance import read_or_create
from config.settings import ConfigError

NOT_P256 = "JWT_PREVIOUS_PUBLIC_KEYS must hold P-256 (ES256) keys in PEM"
_PEM_BLOCK = re.compile(r"-----BEGIN [^-]+-----.+?-----END [^-]+-----\n?", re.DOTALL)


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """The key's RFC 7638 JWK thumbprint, used as its `kid`."""
    jwk = ECAlgorithm.to_jwk(public_key, as_dict=True)
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _generate_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _is_p256(key: object) -> bool:
    return isinstance(getattr(key, "curve", None), ec.SECP256R1)


def _previous_keys(text: str) -> list[ec.EllipticCurvePublicKey]:
    """The retired keys of a setting, each a public or a private P-256 PEM; anything else,
    or outside a complete PEM block, is refused."""
    text = text.replace("\\n", "\n")
    blocks = _PEM_BLOCK.findall(text)
    if not blocks or _PEM_BLOCK.sub("", text).strip():
        raise ConfigError(NOT_P256)
    return [_public_key(block.encode()) for block in blocks]


def _public_key(pem: bytes) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        try:
            key = serialization.load_pem_private_key(pem, password=None).public_key()
        except (ValueError, TypeError):
            key = None
    if not _is_p256(key):
        raise ConfigError(NOT_P256)
    return key


class SigningKeys:
    """The current private key and every public key a token may still be signed with."""

    def __init__(self, private_pem: bytes, previous_keys: list[ec.EllipticCurvePublicKey] = ()):
        try:
            self.private_key = serialization.load_pem_private_key(private_pem, password=None)
        except (ValueError, TypeError):
            raise ConfigError("JWT_PRIVATE_KEY must be an unencrypted PEM private key") from None
        if not _is_p256(self.private_key):
            raise ConfigError("JWT_PRIVATE_KEY must be a P-256 (ES256) key")
        self.kid = thumbprint(self.private_key.public_key())
        self.public_keys = {self.kid: self.private_key.public_key()}
        self.public_keys.update((thumbprint(key), key) for key in previous_keys)

    @classmethod
    def create_service(cls, private_pem: str | None, previous_pems: str | None, instance_path: Path):
        """Keys from the environment, or a key generated once into `instance_path`."""
        if private_pem:
            pem = private_pem.replace("\\n", "\n").encode()
        else:
            pem = read_or_create(instance_path / "jwt_private_key.pem", _generate_pem)
        return cls(pem, _previous_keys(previous_pems) if previous_pems else [])

    def jwks(self) -> dict:
        """The JWK Set of every public key, the current one first."""
        jwks = {kid: ECAlgorithm.to_jwk(key, as_dict=True) for kid, key in self.public_keys.items()}
        return {"keys": [{**jwk, "kid": kid, "use": "sig", "alg": "ES256"} for kid, jwk in jwks.items()]}
