"""Queued scans sealed to the server: what a desk keeps until upload (codes, answers) is
encrypted on the device to a key whose private half only the server holds, so the queue
can grow offline, survives a logout and another user's login, and a copy of the store
reveals none of it (``docs/offline.rst``, "Sealed records").

ECDH on P-256 with a fresh key pair per item, HKDF-SHA256, AES-256-GCM bound to the item's
nonce: what WebCrypto offers. Each event has its own key pair, made when first needed.
"""
import base64
import hashlib
import json
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import transaction
from pretix.base.models import Event
from pretix.helpers import OF_SELF

VERSION = 1
INFO = b"pretix-desk queue v1"
SETTING = "pretix_desk_upload_key"
#: What a sealed item may carry: the parts of a scan or hand-out that name a person.
SEALED_FIELDS = ("access_code", "answers")
MAX_SEALED = 200000


class EnvelopeError(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not isinstance(text, str) or len(text) > MAX_SEALED:
        raise EnvelopeError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        raise EnvelopeError("not base64url")


def private_key(event):
    """The event's key pair, made and kept (in the event's settings) when first asked for;
    the event's row lock makes sure that two first requests agree on one."""
    pem = event.settings.get(SETTING)
    if not pem:
        with transaction.atomic():
            locked = Event.objects.select_for_update(of=OF_SELF).get(pk=event.pk)
            pem = locked.settings.get(SETTING)
            if not pem:
                pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption(),
                ).decode()
                locked.settings.set(SETTING, pem)
    return serialization.load_pem_private_key(pem.encode(), password=None)


def public_jwk(event):
    """The public half as a JWK, for the page (which WebCrypto imports), with its id."""
    numbers = private_key(event).public_key().public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
           "y": _b64(numbers.y.to_bytes(32, "big"))}
    jwk["kid"] = hashlib.sha256((jwk["x"] + jwk["y"]).encode()).hexdigest()[:16]
    return jwk


def _aes_key(shared: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(shared)


def _aad(nonce):
    return INFO + b":" + (nonce or "").encode()


def open_sealed(event, sealed, *, nonce):
    """The fields a desk sealed into an item (a dict of ``SEALED_FIELDS``). Raises
    EnvelopeError for anything that is not an envelope of this event's key and nonce."""
    if not isinstance(sealed, dict) or sealed.get("v") != VERSION:
        raise EnvelopeError("unknown version")
    epk = sealed.get("epk")
    if not isinstance(epk, dict) or epk.get("kty") != "EC" or epk.get("crv") != "P-256":
        raise EnvelopeError("not a P-256 key")
    try:
        point = ec.EllipticCurvePublicNumbers(
            int.from_bytes(_unb64(epk.get("x")), "big"), int.from_bytes(_unb64(epk.get("y")), "big"), ec.SECP256R1(),
        ).public_key()
        shared = private_key(event).exchange(ec.ECDH(), point)
        iv, ct = _unb64(sealed.get("iv")), _unb64(sealed.get("ct"))
        plain = AESGCM(_aes_key(shared)).decrypt(iv, ct, _aad(nonce))
        data = json.loads(plain)
    except (ValueError, TypeError, InvalidTag, UnicodeDecodeError):
        raise EnvelopeError("cannot be opened with this event's key")
    if not isinstance(data, dict) or set(data) - set(SEALED_FIELDS):
        raise EnvelopeError("unexpected content")
    return data


def seal_for(event, data, *, nonce):
    """What a desk does (for tests and the benchmark)."""
    own = ec.generate_private_key(ec.SECP256R1())
    peer = private_key(event).public_key()
    iv = os.urandom(12)
    ct = AESGCM(_aes_key(own.exchange(ec.ECDH(), peer))).encrypt(iv, json.dumps(data).encode(), _aad(nonce))
    numbers = own.public_key().public_numbers()
    return {"v": VERSION, "epk": {"kty": "EC", "crv": "P-256", "x": _b64(numbers.x.to_bytes(32, "big")),
                                  "y": _b64(numbers.y.to_bytes(32, "big"))}, "iv": _b64(iv), "ct": _b64(ct)}
