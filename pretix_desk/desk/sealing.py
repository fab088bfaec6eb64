"""Personal data sealed per ticket: what a desk keeps offline can be opened only with the
code of the ticket it belongs to (``docs/offline.rst``, "Sealed records").

For each access code the server derives a master secret with PBKDF2-HMAC-SHA256 (a salt
per event, ``ITERATIONS`` rounds) and from it, with HKDF-SHA256, the record's lookup id on
a list and its AES-256-GCM key. The desk derives the same from the code it scans, with
WebCrypto. Guessing codes from a copy of the store costs a PBKDF2 per guess and event.

The derivation is slow on purpose, so its result is kept per position (``SealKey``). A
download derives what the cache lacks within a time budget (new orders since the last
sync fit easily) and leaves the rest to a background task; until then those records carry
no personal data at all and are found by the plain code hash (``codes.code_hash``).
"""
import base64
import hashlib
import hmac
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import islice

import ujson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.cache import cache
from django.utils.timezone import now

from pretix_desk.models import SealKey

VERSION = 1
ITERATIONS = 10000
#: Bytes of the lookup id (hex in the record): unique enough per list, short on the wire.
LOOKUP_BYTES = 16
#: How long one download may spend deriving what the cache lacks.
DERIVE_BUDGET_SECONDS = 1.0

LOOKUP_INFO = "pretix-desk lookup v1:"
SEAL_INFO = b"pretix-desk seal v1"

#: The personal fields of a record's attendee and their keys inside the sealed JSON.
PERSONAL = {"name": "n", "email": "e", "company": "c", "order": "o", "checkin_texts": "t", "shown_answers": "a"}


def event_salt(event) -> str:
    """The PBKDF2 salt of an event: stable, different per event and installation."""
    msg = f"pretix_desk.seal.{event.pk}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()[:32]


def head(event):
    """What a desk needs to derive the same keys (the preload's ``seal``)."""
    return {"v": VERSION, "kdf": "PBKDF2-SHA256", "salt": event_salt(event), "iterations": ITERATIONS}


def derive_master(code: str, salt: str) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt.encode(), ITERATIONS, 32)


#: HKDF's salt when none is given (RFC 5869): as many zero bytes as SHA-256 gives.
_NO_SALT = bytes(32)


def _prk(master: bytes) -> bytes:
    """HKDF-SHA256's extract step without salt (RFC 5869): one HMAC, shared by the keys
    derived from one master."""
    return hmac.digest(_NO_SALT, master, "sha256")


def _expand(prk: bytes, info: bytes, length=32) -> bytes:
    """HKDF-SHA256's expand step for at most one block. Two one-shot HMACs for a key cost
    a third of building ``cryptography``'s HKDF object, twice per record of a download
    (``tests/desk/test_desk_sealing.py`` holds them to that HKDF)."""
    if length > 32:
        raise ValueError("one block of HKDF-SHA256 is 32 bytes")
    return hmac.digest(prk, info + b"\x01", "sha256")[:length]


def _hkdf(master: bytes, info: bytes, length=32) -> bytes:
    return _expand(_prk(master), info, length)


def lookup_id(master: bytes, list_salt: str) -> str:
    """The record's ``code_hash`` on a list: a desk finds a scanned ticket by it."""
    return _expand(_prk(master), (LOOKUP_INFO + list_salt).encode(), LOOKUP_BYTES).hex()


def seal(master: bytes, lookup: str, data) -> str:
    """``data`` as JSON, AES-256-GCM with a fresh IV, bound to the record's lookup id:
    base64url (unpadded) of the IV and the ciphertext with its tag."""
    return _seal(_expand(_prk(master), SEAL_INFO), lookup, data)


def lookup_and_seal(master: bytes, list_salt: str, data):
    """``(lookup_id, seal(…, data))`` from one extract step; ``""`` for empty ``data``."""
    prk = _prk(master)
    lookup = _expand(prk, (LOOKUP_INFO + list_salt).encode(), LOOKUP_BYTES).hex()
    return lookup, (_seal(_expand(prk, SEAL_INFO), lookup, data) if data else "")


def _seal(key, lookup, data):
    iv = os.urandom(12)
    text = ujson.dumps(data, ensure_ascii=False, escape_forward_slashes=False).encode()
    sealed = AESGCM(key).encrypt(iv, text, lookup.encode())
    return base64.urlsafe_b64encode(iv + sealed).rstrip(b"=").decode()


def unseal(code: str, salt: str, lookup: str, sealed: str):
    """The inverse of ``seal``, as a desk does it (for tests and the benchmark)."""
    raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    key = _hkdf(derive_master(code, salt), SEAL_INFO)
    return json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], lookup.encode()))


def split_personal(attendee, *, indexed=()):
    """``(attendee without personal fields, the sealed JSON's content)``. ``indexed``: the
    fields the download's search index carries anyway, sealed a second time by no one."""
    shown = {k: v for k, v in attendee.items() if k not in PERSONAL}
    personal = {short: attendee[k] for k, short in PERSONAL.items() if attendee.get(k) and k not in indexed}
    return shown, personal


def secret_digest(secret: str) -> str:
    """Which code a kept master belongs to: a regenerated secret needs a new one."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


class Masters:
    """The masters of one download's positions: kept ones, else derived while the budget
    lasts (without a Celery worker, all of them: there is no background to leave the rest
    to). ``save()`` keeps what was derived; ``deferred`` counts what was not."""

    def __init__(self, event, *, budget=None):
        self.event = event
        self.salt = event_salt(event)
        budget = DERIVE_BUDGET_SECONDS if budget is None else budget
        self.deadline = time.monotonic() + budget if settings.HAS_CELERY else float("inf")
        self.new = []
        self.deferred = 0

    def master(self, pk, secret, kept_master, kept_digest):
        digest = secret_digest(secret)
        if kept_master is not None and kept_digest == digest:
            return bytes(kept_master)
        if time.monotonic() >= self.deadline:
            self.deferred += 1
            return None
        master = derive_master(secret, self.salt)
        self.new.append(SealKey(position_id=pk, secret_digest=digest, master=master))
        return master

    def save(self):
        """Keep what was derived (one statement per 500), and derive the rest in the
        background."""
        for i in range(0, len(self.new), 500):
            _keep(self.new[i:i + 500])
        self.new = []
        if self.deferred:
            schedule_backfill(self.event)


def backfill_lock(event):
    return f"pretix_desk_seal_backfill_{event.pk}"


def schedule_backfill(event):
    """Derive the event's missing masters in the background, once at a time."""
    from pretix_desk.tasks import derive_seal_keys

    if cache.add(backfill_lock(event), "1", timeout=3600):
        derive_seal_keys.apply_async(kwargs={"event": event.pk})


def lookup_ids(masters_or_secrets, *, salt, list_salt):
    """The lookup ids a desk may hold for codes (``removed`` of a sync): from a kept master
    where there is one (``(secret, master, digest)``), else derived."""
    for secret, master, digest in masters_or_secrets:
        if master is None or digest != secret_digest(secret):
            master = derive_master(secret, salt)
        yield lookup_id(bytes(master), list_salt)


def derive_missing(event, *, batch=500, touch=False):
    """Derive and keep the masters of every position of the event that lacks one (or whose
    code changed since), a batch at a time on every core (hashlib lets go of the GIL while
    it derives). Returns how many were derived. ``touch``: mark their orders changed, so
    that every desk's next incremental sync sends those records sealed (a changed record
    is an order change, as everywhere else; not a full download for every desk)."""
    from pretix.base.models import Order, OrderPosition

    salt = event_salt(event)
    todo = (
        (pk, secret) for pk, secret, kept in OrderPosition.objects.filter(order__event=event).values_list(
            "pk", "secret", "pretix_desk_seal__secret_digest").iterator(chunk_size=batch)
        if kept != secret_digest(secret)
    )
    derived = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        while True:
            chunk = list(islice(todo, batch))
            if not chunk:
                return derived
            masters = pool.map(lambda item: derive_master(item[1], salt), chunk)
            derived += _keep([
                SealKey(position_id=pk, secret_digest=secret_digest(secret), master=master)
                for (pk, secret), master in zip(chunk, masters)
            ])
            if touch:
                Order.objects.filter(pk__in=OrderPosition.all.filter(
                    pk__in=[pk for pk, _secret in chunk]).values("order_id")).update(last_modified=now())


def _keep(keys):
    if keys:
        SealKey.objects.bulk_create(keys, update_conflicts=True, unique_fields=["position"],
                                    update_fields=["secret_digest", "master"])
    return len(keys)


def generation(event):
    """Part of the list's fingerprint: bumping it makes every desk download everything
    again. Earlier versions bumped it after each background derivation, which at a door
    still selling made every desk download the whole list every few minutes; derived
    masters now touch their orders instead (``derive_missing``)."""
    return event.settings.get("pretix_desk_seal_generation", as_type=int, default=0)
