"""The preload compressed by the application (desk/compression.py): a client that accepts
gzip gets the same document in a gzip stream, with a weak ETag that its next sync matches;
one that does not, or refuses it, gets it as before."""
import gzip
import json

import pytest

from pretix_desk.desk.compression import accepts_gzip, gzip_stream
from tests.conftest import make_order

from .conftest import desk_url


@pytest.mark.parametrize("value, accepted", [
    ("gzip", True), ("gzip, deflate, br, zstd", True), ("br;q=1.0, gzip;q=0.8", True), ("*", True),
    ("x-gzip", True), ("GZIP", True), ("", False), (None, False), ("identity", False), ("br", False),
    ("gzip;q=0", False), ("gzip;q=0.0, br", False), ("gzip;q=nonsense", False), ("*;q=0", False),
])
def test_what_accepts_gzip(value, accepted):
    assert accepts_gzip(value) is accepted


def test_the_stream_is_one_gzip_member_of_everything():
    parts = ["{\"a\": [", *("\"%05d\"," % i for i in range(20000)), "0]}"]
    assert gzip.decompress(b"".join(gzip_stream(iter(parts)))) == "".join(parts).encode()


@pytest.mark.django_db
def test_a_client_that_accepts_gzip_gets_the_same_document_compressed(client, clist, event, ticket):
    for i in range(30):
        make_order(event, [ticket], code=f"GZ{i:03d}")
    plain = client.get(desk_url(clist, "preload"))
    packed = client.get(desk_url(clist, "preload"), HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert "Content-Encoding" not in plain and packed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed["Vary"] and "Accept-Encoding" in plain["Vary"]
    plain_body = b"".join(plain.streaming_content)
    packed_body = b"".join(packed.streaming_content)
    assert len(packed_body) < len(plain_body) / 2
    same = json.loads(gzip.decompress(packed_body))
    before = json.loads(plain_body)

    def unsealed(doc):  # every download seals with fresh IVs
        return [{k: v for k, v in record.items() if k != "sealed"} for record in doc["attendees"]]
    assert unsealed(same) == unsealed(before) and same["count"] == before["count"] == 30
    # one representation per encoding: the compressed one's tag is weak, and matches
    assert packed["ETag"] == "W/" + plain["ETag"]
    unchanged = client.get(desk_url(clist, "preload") + "?since=" + same["sync_token"],
                           HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=packed["ETag"])
    assert unchanged.status_code == 304 and unchanged["ETag"] == packed["ETag"]
    refused = client.get(desk_url(clist, "preload"), HTTP_ACCEPT_ENCODING="gzip;q=0, identity")
    assert "Content-Encoding" not in refused
