"""Signed ticket codes (pretix_sig1) read and checked inside Chromium by sig1.js, pinned to
pretix's own Sig1TicketSecretGenerator: what pretix writes parses to what pretix's _parse
reads and verifies, through WebCrypto and through the vendored @noble/ed25519 alike; what
pretix refuses does not verify; and generated input never breaks either function."""
import base64
import binascii
import datetime
import os
import string
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from google.protobuf.message import DecodeError
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from pretix.base.secretgenerators import pretix_sig1_pb2
from pretix.base.secrets import Sig1TicketSecretGenerator

from .conftest import launch_chromium

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/static/pretix_desk/desk/"
UTC = datetime.timezone.utc
BACKENDS = ["webcrypto", "vendored"]
#: sig1.js's documented limits
MAX_CODE_LENGTH = 100000
MAX_ID = 2 ** 53 - 1
MAX_SECONDS = 8640000000000

#: turns sig1.js's answers into JSON: bytes as hex, dates as milliseconds
PRELUDE = """
    const sig1 = await load("sig1.js");
    const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const plain = (p) => p && {...p.ticket, validFrom: p.ticket.validFrom && p.ticket.validFrom.getTime(),
        validUntil: p.ticket.validUntil && p.ticket.validUntil.getTime(), payload: hex(p.payload),
        signature: hex(p.signature), canonical: p.canonical};
    const verifyBoth = async (parsed, keys) => [
        await sig1.verifySig1(parsed, keys, {backend: "webcrypto"}),
        await sig1.verifySig1(parsed, keys, {backend: "vendored"}),
    ];
"""


def runner(page):
    page.on("pageerror", lambda err: print("pageerror:", err))

    def run(body, arg=None):
        return page.evaluate(
            "async (arg) => { const base = %r; const load = (m) => import(base + m); %s }" % (BASE, PRELUDE + body),
            arg)
    return run


@pytest.fixture
def units(context, live_server):
    page = context.new_page()
    page.goto(BASE + "desk.css")  # any same-origin document: the modules come from the static files
    return runner(page)


@pytest.fixture
def lan_units(playwright_instance, live_server):
    """A page reached over plain http at a LAN name, as many door laptops reach pretix: not a
    secure context, so no SubtleCrypto at all."""
    browser = launch_chromium(playwright_instance, "--host-resolver-rules=MAP desk.lan 127.0.0.1")
    try:
        page = browser.new_page()
        page.goto("http://desk.lan:%d%sdesk.css" % (urlsplit(live_server.url).port, BASE))
        yield runner(page)
    finally:
        browser.close()


# --- pretix's side ---

def code_of(raw):
    return base64.b64encode(raw).decode()[::-1]


def frame(payload, signature, *, version=1, payload_length=None, signature_length=None, trailing=b""):
    """Bytes as _sign_payload frames them, with any field overridden."""
    return (bytes([version])
            + (len(payload) if payload_length is None else payload_length).to_bytes(2, "big")
            + (len(signature) if signature_length is None else signature_length).to_bytes(2, "big")
            + payload + signature + trailing)


def pretix_fields(ticket):
    """pretix's Ticket message in sig1.js's terms (0 is "none" for the times)."""
    return {"seed": ticket.seed, "item": ticket.item, "variation": ticket.variation, "subevent": ticket.subevent,
            "validFrom": ticket.validFromUnixTime * 1000 or None, "validUntil": ticket.validUntilUnixTime * 1000 or None}


def reference_framing(code):
    """The framing as pretix's _parse slices it, both lengths read as 16-bit big-endian numbers:
    (payload, signature), or None where pretix could not accept the code whatever the key
    (its slices leave no 64-byte signature)."""
    try:
        raw = base64.b64decode(code[::-1])
    except (ValueError, binascii.Error):
        return None
    if len(raw) < 5 or raw[0] != 1:
        return None
    payload_end = 5 + int.from_bytes(raw[1:3], "big")
    signature = raw[payload_end:payload_end + int.from_bytes(raw[3:5], "big")]
    if payload_end > len(raw) or len(signature) != 64:
        return None
    return raw[5:payload_end], signature


def read_varint(data, pos):
    value = shift = 0
    while True:
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        shift += 7
        pos += 1
        if byte < 0x80:
            return value, pos


def has_group(payload):
    """Whether a payload protobuf has read holds a group among its top-level fields."""
    pos = 0
    while pos < len(payload):
        tag, pos = read_varint(payload, pos)
        wire = tag & 7
        if wire == 0:
            pos = read_varint(payload, pos)[1]
        elif wire == 1:
            pos += 8
        elif wire == 2:
            size, pos = read_varint(payload, pos)
            pos += size
        elif wire == 5:
            pos += 4
        else:
            return True
    return False


def reference_parse(code):
    """What parseSig1 must answer: (fields, None), or (None, why) where it refuses the code.
    why is "refused" where pretix cannot accept it either; "group", "range" and "length" are
    sig1.js's documented refusals of what pretix would read but never writes."""
    framing = reference_framing(code)
    if framing is None:
        return None, "refused"
    payload, signature = framing
    ticket = pretix_sig1_pb2.Ticket()
    try:
        ticket.ParseFromString(payload)
    except DecodeError:
        return None, "refused"
    if has_group(payload):
        return None, "group"
    if not all(0 <= v <= MAX_ID for v in (ticket.item, ticket.variation, ticket.subevent)) or not all(
            abs(v) <= MAX_SECONDS for v in (ticket.validFromUnixTime, ticket.validUntilUnixTime)):
        return None, "range"
    if len(code) > MAX_CODE_LENGTH:
        return None, "length"
    canonical = code_of(frame(payload, signature))
    return dict(pretix_fields(ticket), payload=payload.hex(), signature=signature.hex(), canonical=canonical), None


def pubkey(event):
    return event.settings.ticket_secrets_pretix_sig1_pubkey


def row(pk):
    """generate_secret reads only the pk of the item, variation and subevent it is given, so
    ids above what a test database reaches need no rows."""
    return SimpleNamespace(pk=pk)


def at(*args):
    return datetime.datetime(*args, tzinfo=UTC)


# --- the tests ---

def test_codes_pretix_writes_parse_as_pretix_reads_them_and_verify(units, event, ticket, tshirt):
    gen = Sig1TicketSecretGenerator(event)
    shirt = tshirt.variations.get(value="M")
    cases = [
        dict(item=ticket),
        dict(item=tshirt, variation=shirt),
        dict(item=row(256), variation=row(300), subevent=row(65535)),
        dict(item=row(65536), variation=row(70000), subevent=row(2 ** 31 + 7)),
        dict(item=row(2 ** 40), subevent=row(MAX_ID)),
        dict(item=ticket, valid_from=at(2026, 3, 1, 9, 30), valid_until=at(2026, 3, 3, 18)),
        dict(item=ticket, valid_from=at(2026, 3, 1, 9, 30)),
        dict(item=ticket, valid_until=at(2026, 3, 3, 18)),
        dict(item=row(70000), valid_from=at(9999, 12, 31, 23, 59, 59), valid_until=at(9999, 12, 31, 23, 59, 59)),
        dict(item=row(300), valid_from=at(1950, 1, 1), valid_until=at(1969, 12, 31, 23, 59, 59)),
        dict(item=ticket, valid_from=at(1, 1, 1), valid_until=at(1970, 1, 1, 0, 0, 1)),
    ]
    codes = [gen.generate_secret(**case) for case in cases]
    # payloads pretix never writes but would read: lengths past one byte, up to the 16-bit limit
    for message in (pretix_sig1_pb2.Ticket(seed="s" * 300, item=70000, variation=256, subevent=65536),
                    pretix_sig1_pb2.Ticket(seed="s" * 5000, item=256, validFromUnixTime=-1),
                    pretix_sig1_pb2.Ticket(seed="\ufeff\x00é€😀", item=MAX_ID),  # a BOM is part of the seed
                    pretix_sig1_pb2.Ticket(seed="s" * 65531)):  # the longest payload: 65,535 bytes
        codes.append(code_of(gen._sign_payload(message.SerializeToString())))
    assert len(codes[-1]) == 87472 and base64.b64decode(codes[-1][::-1])[1:3] == b"\xff\xff"
    expected = [pretix_fields(gen._parse(code)) for code in codes]

    result = units("""
        const out = [];
        for (const code of arg.codes) {
            const parsed = sig1.parseSig1(code);
            out.push({parsed: plain(parsed), verified: await verifyBoth(parsed, arg.keys)});
        }
        return {out, backend: await sig1.ed25519Backend(), prepared: [await sig1.prepareSig1(arg.keys),
            await sig1.prepareSig1(arg.keys, {backend: "vendored"}), await sig1.prepareSig1(arg.keys, {backend: "none"})]};
    """, {"codes": codes, "keys": [pubkey(event)]})
    assert result["backend"] == "webcrypto"  # this Chromium has Ed25519 in WebCrypto
    assert result["prepared"] == ["webcrypto", "vendored", None]
    for code, fields, got in zip(codes, expected, result["out"]):
        parsed = got["parsed"]
        assert {k: parsed[k] for k in fields} == fields
        assert parsed["canonical"] == code
        assert got["verified"] == [True, True]
    assert expected[3]["item"] == 65536 and expected[3]["subevent"] == 2 ** 31 + 7
    assert expected[8]["validUntil"] == 253402300799000
    assert expected[9]["validFrom"] == -631152000000 and expected[9]["validUntil"] == -1000
    assert expected[10]["validFrom"] == -62135596800000
    assert expected[0]["variation"] == 0 and expected[0]["validFrom"] is None


def test_other_signatures_and_keys_do_not_verify(units, event, other_event, ticket):
    gen = Sig1TicketSecretGenerator(event)
    code = gen.generate_secret(item=ticket, valid_until=at(2030, 1, 1))
    payload, signature = reference_framing(code)
    elsewhere = code_of(Sig1TicketSecretGenerator(other_event)._sign_payload(payload))
    seed_end = 2 + len(gen._parse(code).seed)  # after the seed's tag and length
    flip = lambda data, i: data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]  # NOQA: E731
    flipped_payload = code_of(frame(flip(payload, seed_end - 1), signature))
    flipped_signatures = [code_of(frame(payload, flip(signature, i))) for i in (0, 31, 32, 63)]
    tampered = [flipped_payload] + flipped_signatures
    for other in [elsewhere] + tampered:
        assert gen._parse(other) is None
    old_key = pubkey(event)
    gen._generate_keys()  # the event's key changes: codes signed before need the old one
    new_key = pubkey(event)
    renewed = gen.generate_secret(item=ticket, current_secret=code, force_invalidate=True)
    p256 = base64.b64encode(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)).decode()

    result = units("""
        const check = (code, keys) => verifyBoth(sig1.parseSig1(code), keys);
        const parsed = sig1.parseSig1(arg.code);
        return {
            elsewhere: [await check(arg.elsewhere, [arg.old]), await check(arg.elsewhere, [arg.otherKey])],
            tampered: await Promise.all(arg.tampered.map(async (code) => [!!sig1.parseSig1(code), await check(code, [arg.old])])),
            rotated: [await check(arg.code, [arg.new]), await check(arg.code, [arg.new, arg.old]),
                      await check(arg.renewed, [arg.new]), await check(arg.renewed, [arg.old])],
            // malformed keys are skipped, whatever they are
            junkKeys: [await verifyBoth(parsed, ["", "junk", null, 5, {}, [], arg.p256, btoa("-----BEGIN PUBLIC KEY-----"),
                                                  arg.old.slice(0, 40), "A".repeat(100000), arg.old]),
                       await verifyBoth(parsed, ["", "junk", null, arg.p256, arg.old.slice(0, 40)])],
            noKeys: [await verifyBoth(parsed, []), await verifyBoth(parsed, arg.old), await verifyBoth(parsed, null)],
        };
    """, {"code": code, "elsewhere": elsewhere, "tampered": tampered, "old": old_key, "new": new_key,
          "renewed": renewed, "otherKey": pubkey(other_event), "p256": p256})
    assert result["elsewhere"] == [[False, False], [True, True]]
    assert result["tampered"] == [[True, [False, False]]] * 5  # well-formed, but not signed so
    assert result["rotated"] == [[False, False], [True, True], [True, True], [False, False]]
    assert result["junkKeys"] == [[True, True], [False, False]]
    assert result["noKeys"] == [[False, False]] * 3


def test_nothing_breaks_parse_or_verify(units, event, ticket):
    code = Sig1TicketSecretGenerator(event).generate_secret(item=ticket)
    result = units("""
        const good = sig1.parseSig1(arg.code);
        const sig63 = {...good, signature: good.signature.slice(1)};
        const hostile = new Proxy({}, {get() { throw new Error("no"); }});
        const inputs = [undefined, null, 0, 1.5, NaN, true, {}, [], 10n, Symbol("x"), () => arg.code,
            new String(arg.code), hostile, "", "=", "====", "A".repeat(1000001), "\\u{1F600}" + arg.code,
            arg.code + "A", arg.code.slice(1)];
        const out = [];
        for (const input of inputs) {
            try {
                out.push([sig1.parseSig1(input), await verifyBoth(input, [arg.key])]);
            } catch (e) {
                out.push("threw " + e);
            }
        }
        const calls = [[good, undefined], [good, arg.key], [good, [arg.key], null], [good, [arg.key], {backend: "none"}],
            [good, [arg.key], hostile], [sig63, [arg.key]], [{payload: "x", signature: "y"}, [arg.key]],
            [good, [arg.key], {subtle: {}}], [good, [hostile, arg.key]]];
        for (const [parsed, keys, options] of calls) {
            try {
                out.push(await sig1.verifySig1(parsed, keys, options));
            } catch (e) {
                out.push("threw " + e);
            }
        }
        // a key that imports but is not a point on the curve
        const fakeKey = btoa("-----BEGIN PUBLIC KEY-----\\nMCowBQYDK2VwAyEA" + "/".repeat(43) + "=\\n-----END PUBLIC KEY-----\\n");
        out.push(await verifyBoth(good, [fakeKey]));
        out.push(await verifyBoth(good, [fakeKey, arg.key]));
        return out;
    """, {"code": code, "key": pubkey(event)})
    assert result[:20] == [[None, [False, False]]] * 20
    # a key on its own is not a list of keys; an unknown backend or options that throw are a no; a
    # SubtleCrypto without Ed25519 means the vendored code; a key that throws is skipped
    assert result[20:29] == [False, False, True, False, False, False, False, True, True]
    assert result[29:] == [[False, False], [True, True]]


def test_without_subtlecrypto_the_vendored_code_verifies(lan_units, event, ticket):
    gen = Sig1TicketSecretGenerator(event)
    code = gen.generate_secret(item=ticket, valid_from=at(2026, 5, 1))
    payload, signature = reference_framing(code)
    forged = code_of(frame(payload, bytes([signature[0] ^ 0x80]) + signature[1:]))
    result = lan_units("""
        const parsed = sig1.parseSig1(arg.code);
        return {secure: isSecureContext, subtle: !!(globalThis.crypto && crypto.subtle), backend: await sig1.ed25519Backend(),
                prepared: await sig1.prepareSig1([arg.key]),
                parsed: plain(parsed), verified: await sig1.verifySig1(parsed, [arg.key]),
                forged: await sig1.verifySig1(sig1.parseSig1(arg.forged), [arg.key]),
                webcrypto: await sig1.verifySig1(parsed, [arg.key], {backend: "webcrypto"})};
    """, {"code": code, "forged": forged, "key": pubkey(event)})
    assert result["secure"] is False and result["subtle"] is False
    assert result["backend"] == result["prepared"] == "vendored"
    assert result["parsed"]["validFrom"] == int(at(2026, 5, 1).timestamp()) * 1000
    assert result["verified"] is True and result["forged"] is False
    assert result["webcrypto"] is False  # asked for what is not there: no, rather than an error


# --- generated input ---

B64 = string.ascii_letters + string.digits + "+/"
JUNK = [" ", "\n", "\t", "-", "_", "=", "==", ".", "*", "\x00", "é", "\u200b", "\U0001F600"]
BATCH = int(os.environ.get("PRETIX_DESK_FUZZ_EXAMPLES", 300))
GENERATED = settings(max_examples=BATCH, deadline=None, database=None, phases=[Phase.generate],
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def varint(value, longer=0):
    """A protobuf varint (negative numbers as 64-bit two's complement), `longer` bytes longer
    than it needs to be, as protobuf accepts up to 10 bytes."""
    value &= 2 ** 64 - 1
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            break
    for _ in range(longer):
        out[-1] |= 0x80
        out.append(0)
    return bytes(out)


@st.composite
def proto_fields(draw, wellformed):
    """One field of a Ticket message: protobuf reads the `wellformed` ones (sig1.js may still
    refuse their values); the others may be anything."""
    def longer(value, limit):
        """A varint made longer than it needs to be, as protobuf allows up to `limit` bytes."""
        extra = draw(st.sampled_from([0] * 5 + [1, 4, 9]))
        return varint(value, min(extra, limit - len(varint(value))) if wellformed else extra)

    tag = lambda field, wire: longer(field << 3 | wire, 5)  # NOQA: E731
    kinds = ["id"] * 4 + ["time"] * 4 + ["seed"] * 3 + ["long_seed", "unknown", "unknown"]
    kind = draw(st.sampled_from(kinds if wellformed else kinds + ["group", "raw"]))
    if kind == "id":
        value = draw(st.integers(0, 2 ** 17) | st.integers(0, MAX_ID) | st.integers(-2 ** 63, 2 ** 64 - 1)
                     | st.sampled_from([MAX_ID, MAX_ID + 1, 2 ** 63 - 1, 2 ** 63, -1]))
        return tag(draw(st.integers(2, 4)), 0) + longer(value, 10)
    if kind == "time":
        value = draw(st.integers(-2 ** 35, 2 ** 35) | st.integers(-MAX_SECONDS, MAX_SECONDS) | st.integers(-2 ** 63, 2 ** 63 - 1)
                     | st.sampled_from([0, MAX_SECONDS, MAX_SECONDS + 1, -MAX_SECONDS, -MAX_SECONDS - 1]))
        return tag(draw(st.integers(5, 6)), 0) + longer(value, 10)
    if kind in ("seed", "long_seed"):
        text = st.text(min_size=250, max_size=400) if kind == "long_seed" else st.text(max_size=12)
        data = draw(text.map(str.encode) if wellformed else text.map(str.encode) | st.binary(max_size=6))
        return tag(1, 2) + longer(len(data), 5) + data
    if kind == "unknown":  # unknown fields, and known ones with an unexpected wire type
        field = draw(st.integers(1, 6) | st.integers(7, 2 ** 29 - 1))
        wire = draw(st.sampled_from([0, 1, 2, 5]))
        if wire == 0:
            body = longer(draw(st.integers(0, 2 ** 64 - 1)), 10)
        elif wire == 2:
            data = draw(st.binary(max_size=8))
            body = longer(len(data), 5) + data
        else:
            body = draw(st.binary(min_size=8 if wire == 1 else 4, max_size=8 if wire == 1 else 4))
        return tag(field, wire) + body
    if kind == "group":  # refused by sig1.js; protobuf reads the well-formed ones
        field = draw(st.integers(1, 300))
        if draw(st.booleans()):
            return tag(field, 3) + tag(7, 0) + varint(5) + tag(field, 4)
        return tag(field, draw(st.sampled_from([3, 4, 6, 7]))) + draw(st.binary(max_size=4))
    return draw(st.binary(max_size=6))


payloads = st.one_of(st.lists(proto_fields(wellformed), max_size=7).map(b"".join) for wellformed in (True, False))


@st.composite
def mutated(draw, code):
    """A real code, changed a little, as a scanner or a person might change it."""
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, max(len(code) - 1, 0)))
        how = draw(st.sampled_from(["replace", "delete", "insert", "cut", "append", "unpad", "case", "reverse"]))
        if how == "replace":
            code = code[:i] + draw(st.sampled_from(B64)) + code[i + 1:]
        elif how == "delete":
            code = code[:i] + code[i + 1:]
        elif how == "insert":
            code = code[:i] + draw(st.sampled_from(JUNK + list(B64))) + code[i:]
        elif how == "cut":
            code = code[:i]
        elif how == "append":
            code = code + draw(st.text(alphabet=B64 + "=", max_size=8) | st.sampled_from(JUNK))
        elif how == "unpad":
            code = code.lstrip("=")
        elif how == "case":
            code = code.swapcase()
        else:
            code = code[::-1]
    return code


@st.composite
def reframed(draw, payload, signature):
    """Signed bytes with the framing changed: lengths, version, trailing bytes."""
    how = draw(st.sampled_from(["same", "trailing", "long_signature", "short_signature", "payload_length", "version",
                                "random_lengths"]))
    if how == "trailing":  # pretix ignores them
        return frame(payload, signature, trailing=draw(st.binary(min_size=1, max_size=12)))
    if how == "long_signature":  # pretix cuts at the end: 64 bytes remain
        return frame(payload, signature, signature_length=draw(st.integers(65, 65535)),
                     trailing=draw(st.sampled_from([b"", b"", b"x"])))
    if how == "short_signature":
        return frame(payload, signature, signature_length=draw(st.integers(0, 63)))
    if how == "payload_length":
        return frame(payload, signature,
                     payload_length=max(0, min(65535, len(payload) + draw(st.integers(-3, 3) | st.integers(-300, 300)))))
    if how == "version":
        return frame(payload, signature, version=draw(st.integers(0, 255)))
    if how == "random_lengths":
        return frame(payload, signature, payload_length=draw(st.integers(0, 65535)),
                     signature_length=draw(st.integers(0, 65535)))
    return frame(payload, signature)


def inputs(gen, real_codes):
    def signed(payload):
        raw = gen._sign_payload(payload)
        return raw[5:5 + len(payload)], raw[5 + len(payload):]

    signed_codes = payloads.map(signed).flatmap(lambda pair: reframed(*pair)).map(code_of)
    unsigned = st.tuples(payloads, st.binary(min_size=64, max_size=64) | st.binary(max_size=80)).flatmap(
        lambda pair: reframed(*pair)).map(code_of)
    return st.one_of(
        signed_codes,
        signed_codes,
        signed_codes.flatmap(mutated),
        unsigned,
        st.sampled_from(real_codes).flatmap(mutated),
        st.binary(max_size=200).map(code_of),
        st.binary(max_size=200).map(lambda raw: code_of(b"\x01" + raw)),
        st.text(max_size=300),
        st.text(alphabet=B64 + "=", max_size=400),
    )


def test_generated_codes_parse_as_pretix_reads_them(units, event, ticket):
    gen = Sig1TicketSecretGenerator(event)
    real_codes = [
        gen.generate_secret(item=ticket),
        gen.generate_secret(item=row(70000), variation=row(300), subevent=row(65537), valid_from=at(1960, 1, 1),
                            valid_until=at(2090, 1, 1)),
    ]
    # in every batch, whatever hypothesis draws: accepted codes and refused ones
    payload, signature = reference_framing(real_codes[0])
    anchors = real_codes + [
        real_codes[0][:-4],
        " " + real_codes[1] + "\n",  # pretix skips what is not base64
        code_of(frame(payload, signature, signature_length=300)),  # pretix's slice ends at the end
        code_of(frame(payload, signature[:-1] + bytes([signature[-1] ^ 0x01]))),  # well-formed, not signed so
    ]
    # hypothesis draws the inputs one by one; Chromium gets them in one batch
    drawn = []

    @GENERATED
    @given(inputs(gen, real_codes))
    def draw(code):
        drawn.append(code)

    draw()
    codes = drawn + anchors
    result = units("""
        const out = [];
        for (const code of arg.codes) {
            try {
                const decoded = sig1.pythonB64decode(code, true);
                const parsed = sig1.parseSig1(code);
                out.push({decoded: decoded && hex(decoded), parsed: plain(parsed), verified: await verifyBoth(parsed, arg.keys)});
            } catch (e) {
                out.push({threw: String(e)});
            }
        }
        return out;
    """, {"codes": codes, "keys": [pubkey(event)]})
    seen = {"inputs": len(codes), "parsed": 0, "verified": 0, "accepted_refused": 0}
    for code, got in zip(codes, result):
        assert "threw" not in got, (code, got)
        try:
            decoded = base64.b64decode(code[::-1]).hex()
        except (ValueError, binascii.Error):
            decoded = None
        assert got["decoded"] == decoded, code
        expected, why = reference_parse(code)
        assert got["parsed"] == expected, (code, why)
        pretix = gen._parse(code)
        if expected is None:
            assert got["verified"] == [False, False], code
            # pretix accepts it, sig1.js refuses it: only as documented
            assert pretix is None or why in ("group", "range", "length"), (code, why)
            seen["accepted_refused"] += pretix is not None
        else:
            assert got["verified"] == [pretix is not None] * 2, code
            if pretix is not None:
                assert {k: got["parsed"][k] for k in pretix_fields(pretix)} == pretix_fields(pretix), code
        seen["parsed"] += expected is not None
        seen["verified"] += got["verified"] == [True, True]
    print("generated sig1 inputs:", seen)
    assert len(drawn) >= BATCH // 2 and seen["verified"] >= 4 and seen["parsed"] > seen["verified"]


def test_time_per_scan(units, event):
    gen = Sig1TicketSecretGenerator(event)
    codes = [gen.generate_secret(item=row(1000 + i), variation=row(i % 7), subevent=row(0 if i % 2 else 70000 + i),
                                 valid_until=at(2030, 1, 1) if i % 3 else None)
             for i in range(200)]
    result = units("""
        const times = {};
        const parseStart = performance.now();
        for (const code of arg.codes) sig1.parseSig1(code);
        times.parse = (performance.now() - parseStart) / arg.codes.length;
        for (const backend of ["webcrypto", "vendored"]) {
            // prepareSig1 loads the code (the vendored module), builds its tables, imports the key
            let start = performance.now();
            const prepared = await sig1.prepareSig1(arg.keys, {backend});
            const prepare = performance.now() - start;
            start = performance.now();
            await sig1.verifySig1(sig1.parseSig1(arg.codes[0]), arg.keys, {backend});
            const first = performance.now() - start;
            let valid = 0;
            start = performance.now();
            for (const code of arg.codes) {
                valid += await sig1.verifySig1(sig1.parseSig1(code), arg.keys, {backend});
            }
            times[backend] = {prepared, prepare, first, perScan: (performance.now() - start) / arg.codes.length, valid};
        }
        return times;
    """, {"codes": codes, "keys": [pubkey(event)]})
    print("sig1 per scan (parse + verify, 200 codes, Chromium): parse alone {:.3f} ms".format(result["parse"]))
    for backend in BACKENDS:
        print("  {}: {perScan:.3f} ms per scan; prepareSig1 {prepare:.1f} ms, then the first scan {first:.2f} ms".format(
            backend, **result[backend]))
    for backend in BACKENDS:
        assert result[backend]["prepared"] == backend and result[backend]["valid"] == 200
        assert result[backend]["perScan"] < 100  # the target is 5 ms; this bound only catches a hang
