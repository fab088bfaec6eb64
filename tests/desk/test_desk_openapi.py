"""The OpenAPI 3 description of the desk and rules API (docs/openapi.yaml), kept current,
and generated hostile requests against every operation in it.

``build_openapi()`` derives the document from what the code serves: the operations from
Django's URL resolver (every route of the desk and the rules resource), the request bodies
and query parameters from the DRF serializers that validate them. The test fails when
docs/openapi.yaml differs; ``PRETIX_DESK_WRITE_OPENAPI=1`` rewrites it. (The file is JSON,
which is YAML too: pretix ships no YAML library.)

``test_generated_requests_never_fail_and_refusals_write_nothing`` drives every operation
with hypothesis: bodies from the schema, then mutated (wrong types, missing and extra fields,
huge strings and deeply nested values, Unicode digits, control characters, SQL and HTML),
path ids of another organizer's event, Unicode digits in ids, and bodies that are no JSON
object at all. No answer may be a 5xx, and an answer of 4xx must leave check-ins,
redemptions, rules and log entries as they were."""
import json
import os
import re
from pathlib import Path

import pytest
from django.db import DatabaseError, connection
from django.urls import get_resolver
from django_scopes import scopes_disabled
from hypothesis import HealthCheck, given, settings, strategies as st
from jsonschema import Draft7Validator
from pretix.base.models import Checkin, CheckinList, Event, LogEntry, Organizer
from rest_framework import fields as f, relations, serializers

from pretix_desk.api import desk as desk_api, door as door_api, rules as rules_api
from pretix_desk.models import AutoCheckinRule, Redemption
from tests.conftest import make_order

SPEC = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"
BODIES = {
    "scan": desk_api.ScanInputSerializer, "redeem": desk_api.RedeemInputSerializer,
    "annul": desk_api.AnnulInputSerializer, "apply": rules_api.ApplySerializer,
    "create": "rule", "update": "rule", "partial_update": "rule", "capacity": door_api.CapacitySerializer,
}
QUERIES = {"preload": desk_api.PreloadQuerySerializer, "search": desk_api.SearchQuerySerializer,
           "door": door_api.DoorQuerySerializer}
RESPONSES = {
    "scan": ("201", "400", "401", "403", "404"), "lookup": ("200", "401", "403", "404"),
    "redeem": ("201", "400", "401", "403", "404", "409"), "annul": ("200", "400", "401", "403", "404"),
    "preload": ("200", "304", "400", "401", "403", "404"), "search": ("200", "400", "401", "403", "404"),
    "badge": ("200", "401", "403", "404"), "list": ("200", "401", "403"),
    "create": ("201", "400", "401", "403"), "retrieve": ("200", "401", "403", "404"),
    "update": ("200", "400", "401", "403", "404"), "partial_update": ("200", "400", "401", "403", "404"),
    "destroy": ("204", "401", "403", "404"), "apply": ("202", "400", "401", "403", "404"),
    "apply_result": ("200", "401", "403", "404", "409"), "door": ("200", "400", "401", "403", "404"),
    "capacity": ("200", "400", "401", "403", "404"),
}


def _routes():
    def walk(patterns, prefix=""):
        for p in patterns:
            if hasattr(p, "url_patterns"):
                yield from walk(p.url_patterns, prefix + str(p.pattern))
            else:
                yield prefix + str(p.pattern), p

    for regex, p in walk(get_resolver().url_patterns):
        actions = getattr(p.callback, "actions", None)
        if not actions or "format>" in regex or not (
                "/^desk/" in regex or "/^auto_checkin_rules" in regex or "/^desk_door" in regex):
            continue
        path = "/" + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", regex.replace("^", "").replace("$", ""))
        yield path, actions


def _schema(field):
    if isinstance(field, serializers.Serializer):
        out = _object(field)
    elif isinstance(field, relations.ManyRelatedField):
        out = {"type": "array", "items": _schema(field.child_relation)}
    elif isinstance(field, relations.SlugRelatedField):
        out = {"type": "string"}
    elif isinstance(field, relations.PrimaryKeyRelatedField):
        out = {"type": "integer"}
    elif isinstance(field, f.BooleanField):
        out = {"type": "boolean"}
    elif isinstance(field, f.ChoiceField):
        out = {"type": "string", "enum": [str(k) for k in field.choices]}
    elif isinstance(field, f.DateTimeField):
        out = {"type": "string", "format": "date-time"}
    elif isinstance(field, f.IntegerField):
        out = {"type": "integer"}
        if field.min_value is not None:
            out["minimum"] = field.min_value
        if field.max_value is not None:
            out["maximum"] = field.max_value
    elif isinstance(field, f.CharField):
        out = {"type": "string"}
        if field.max_length is not None:
            out["maxLength"] = field.max_length
        if field.min_length is not None:
            out["minLength"] = field.min_length
    elif isinstance(field, f.ListField):
        out = {"type": "array", "items": _schema(field.child)}
        if field.max_length is not None:
            out["maxItems"] = field.max_length
    elif isinstance(field, f.DictField):
        out = {"type": "object"}
    else:
        raise AssertionError("no schema for {!r}".format(field))
    if field.allow_null:
        out["nullable"] = True
    return out


def _object(serializer):
    fields = {name: fl for name, fl in serializer.fields.items() if not fl.read_only}
    out = {"type": "object", "properties": {name: _schema(fl) for name, fl in fields.items()}}
    required = [name for name, fl in fields.items() if fl.required]
    if required:
        out["required"] = required
    return out


def build_openapi(event):
    paths = {}
    for path, actions in sorted(_routes()):
        operations = {}
        # DRF adds 'head' to a view's actions once it has served a GET: no operation of ours.
        methods = ("get", "post", "put", "patch", "delete")
        for method, action in sorted((m, a) for m, a in actions.items() if m in methods):
            params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                      for n in re.findall(r"{(\w+)}", path)]
            if path.endswith("/desk_door/"):  # the door's read
                action = "door"
            op = {"operationId": ("desk_" if "/desk" in path else "rules_") + action, "parameters": params,
                  "responses": {code: {"description": code} for code in RESPONSES[action]}}
            if action in QUERIES:
                query = _object(QUERIES[action]())
                op["parameters"] += [{"name": n, "in": "query", "required": n in query.get("required", ()),
                                      "schema": s} for n, s in query["properties"].items()]
            body = BODIES.get(action)
            if body == "rule":
                schema = _object(rules_api.AutoCheckinRuleSerializer(context={"event": event}))
                if action == "partial_update":
                    schema.pop("required", None)
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": schema}}}
            elif body:
                op["requestBody"] = {"required": True, "content": {"application/json": {"schema": _object(body())}}}
            operations[method] = op
        paths[path] = operations
    return {
        "openapi": "3.0.3",
        "info": {"title": "pretix-desk: registration desk and auto check-in rules", "version": "1",
                 "description": "Generated by tests/desk/test_desk_openapi.py; prose in docs/desk-api.rst, "
                                "docs/door-api.rst and docs/rules-api.rst."},
        "components": {"securitySchemes": {
            "token": {"type": "apiKey", "in": "header", "name": "Authorization"}}},
        "security": [{"token": []}],
        "paths": paths,
    }


def _text(spec):
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@pytest.mark.django_db
def test_openapi_document_is_current_and_valid(event):
    spec = build_openapi(event)
    if os.environ.get("PRETIX_DESK_WRITE_OPENAPI"):
        SPEC.write_text(_text(spec))
    assert SPEC.read_text() == _text(spec), "docs/openapi.yaml is out of date: PRETIX_DESK_WRITE_OPENAPI=1"
    operations = {op["operationId"] for ops in spec["paths"].values() for op in ops.values()}
    assert {"desk_scan", "desk_lookup", "desk_redeem", "desk_annul", "desk_preload", "desk_search", "desk_badge",
            "rules_list", "rules_create", "rules_apply"} <= operations
    for ops in spec["paths"].values():
        for op in ops.values():
            for p in op["parameters"]:
                Draft7Validator.check_schema(p["schema"])
            if "requestBody" in op:
                Draft7Validator.check_schema(op["requestBody"]["content"]["application/json"]["schema"])


# ------------------------------------------------------------------ generated requests

HOSTILE_STRINGS = st.sampled_from([
    "", " ", "٣", "１２", "²", "0x1F", "-1", "1e309", "NaN", "null", "' OR 1=1 --", "\"; DROP TABLE pretixbase_checkin; --",
    "<script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\x00", "\x1b[31m", "\u202e", "\ud800".encode(
        "utf-16", "surrogatepass").decode("utf-16", "replace"), "a" * 5000, "../../etc/passwd", "%00", "{{7*7}}",
]) | st.text(st.characters(codec="utf-8"), max_size=40)
SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.floats(allow_nan=False, allow_infinity=False) | HOSTILE_STRINGS)
ANY = st.recursive(SCALARS, lambda c: st.lists(c, max_size=4) | st.dictionaries(HOSTILE_STRINGS, c, max_size=4),
                   max_leaves=10)


def deep(n):
    """A body nested n levels deep, as text (deeper than Python's json module writes)."""
    return ("raw", '{"a": [' * n + '"x"' + "]}" * n)


def value_for(schema, ids):
    """A value of the schema's type (often a valid one, with the fixtures' ids), or anything."""
    t = schema.get("type")
    if "enum" in schema:
        good = st.sampled_from(schema["enum"])
    elif t == "integer":
        good = st.sampled_from(ids) | st.integers(schema.get("minimum", -(2 ** 40)), schema.get("maximum", 2 ** 40))
    elif t == "boolean":
        good = st.booleans()
    elif t == "string" and schema.get("format") == "date-time":
        good = st.datetimes().map(lambda d: d.isoformat()) | HOSTILE_STRINGS
    elif t == "string":
        good = st.sampled_from(ids.codes) | HOSTILE_STRINGS if ids.codes else HOSTILE_STRINGS
    elif t == "array":
        good = st.lists(value_for(schema["items"], ids), max_size=4)
    else:
        good = st.dictionaries(st.sampled_from(["1", "٣", "x"]) | HOSTILE_STRINGS, ANY, max_size=3)
    return good | ANY if t != "integer" else good | ANY


class Ids(list):
    codes = ()


def bodies(schema, ids):
    props = schema.get("properties", {})
    objects = st.fixed_dictionaries({}, optional={k: value_for(s, ids) for k, s in props.items()})
    with_extra = st.tuples(objects, st.dictionaries(HOSTILE_STRINGS, ANY, max_size=3)).map(
        lambda t: {**t[1], **t[0]})
    return (objects | with_extra | ANY | st.integers(1, 3000).map(deep)
            | st.sampled_from(["[]", "not json", "{\"a\": ", "\x00\x01", "{}" * 10000]).map(lambda s: ("raw", s)))


def path_values(ids, other):
    return st.sampled_from(ids) | st.sampled_from(other) | HOSTILE_STRINGS.filter(lambda s: "/" not in s and s) \
        | st.sampled_from(["٣", "１", "²", "0", "-1", "99999999999999999999", "1.0", "%2F"])


REQUESTS = {"count": 0}


@pytest.fixture
def world(event, other_event, clist, ticket, tshirt, token_client):
    order = make_order(event, [ticket, {"item": tshirt, "addon_to": 0}], code="ABC12")
    stranger = Organizer.objects.create(name="Other", slug="other")
    foreign_event = Event.objects.create(organizer=stranger, name="Foreign", slug="foreign", date_from=event.date_from,
                                         plugins=event.plugins)
    foreign = CheckinList.objects.create(event=foreign_event, name="Foreign")
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    positions = list(order.positions.all())
    other_list = CheckinList.objects.create(event=other_event, name="Other's")
    ids = Ids([clist.pk, rule.pk] + [p.pk for p in positions] + [ticket.pk])
    ids.codes = tuple(p.secret for p in positions) + ("ABC12",)
    return {"client": token_client, "event": event, "ids": ids, "other": [foreign.pk, other_list.pk, rule.pk + 1000], "clist": clist, "rule": rule}


def operations():
    # an event that is never saved: the serializers only build (lazy) querysets from it
    with scopes_disabled():
        spec = build_openapi(Event(pk=1, organizer=Organizer(pk=1, slug="x"), slug="y"))
    return [(path, method, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def _state(event):
    return (Checkin.all.count(), Redemption.objects.count(), AutoCheckinRule.objects.count(),
            LogEntry.objects.count())


GENERATED = settings(max_examples=int(os.environ.get("PRETIX_DESK_FUZZ_EXAMPLES", 150)), deadline=None,
                     suppress_health_check=list(HealthCheck), database=None)


@pytest.mark.django_db
@pytest.mark.parametrize("path,method,op", operations(), ids=lambda v: v["operationId"] if isinstance(v, dict) else None)
def test_generated_requests_never_fail_and_refusals_write_nothing(world, path, method, op):
    client, event, ids = world["client"], world["event"], world["ids"]
    body_schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    query = [p for p in op["parameters"] if p["in"] == "query"]
    params = [p["name"] for p in op["parameters"] if p["in"] == "path" and p["name"] not in ("organizer", "event")]

    @GENERATED
    @given(data=st.data())
    def run(data):
        values = {"organizer": event.organizer.slug, "event": event.slug}
        for name in params:
            if name == "list":
                values[name] = str(data.draw(st.sampled_from([world["clist"].pk]) | path_values(ids, world["other"])))
            elif name == "pk":
                values[name] = str(data.draw(st.sampled_from([world["rule"].pk]) | path_values(ids, world["other"])))
            else:
                values[name] = str(data.draw(st.sampled_from([str(v) for v in ids] + list(ids.codes))
                                             | path_values(ids, world["other"])))
        from urllib.parse import quote
        url = path.format(**{k: quote(v, safe="") for k, v in values.items()})
        if query:
            q = {p["name"]: data.draw(value_for(p["schema"], ids)) for p in query if data.draw(st.booleans())}
            url += "?" + "&".join("{}={}".format(quote(k), quote(str(v), safe="")) for k, v in q.items())
        before = _state(event)
        if method == "get" or method == "delete":
            r = getattr(client, method)(url)
        else:
            body = data.draw(bodies(body_schema or {}, ids))
            if isinstance(body, tuple):
                r = getattr(client, method)(url, body[1], content_type="application/json")
            else:
                r = getattr(client, method)(url, json.dumps(body), content_type="application/json")
        REQUESTS["count"] += 1
        assert r.status_code < 500, (method, url, r.status_code, getattr(r, "content", b"")[:500])
        if 400 <= r.status_code < 500 and r.status_code != 409:
            # a refusal recorded as a failed check-in (pretix's way) is a Checkin, not a write
            # of the request's data: refused scans are allowed to log; everything else not
            after = _state(event)
            if op["operationId"] == "desk_scan":
                assert after[1:3] == before[1:3], (url, r.status_code)
            else:
                assert after == before, (url, r.status_code, before, after)

    run()
    print("{}: {} requests so far".format(op["operationId"], REQUESTS["count"]))


@pytest.mark.django_db
@pytest.mark.parametrize("method", ["post", "put", "patch"])
def test_nul_in_a_sales_channel_is_a_400(event, clist, token_client, method):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores NUL characters; the bug is PostgreSQL's")
    rule = AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    url = "/api/v1/organizers/{}/events/{}/auto_checkin_rules/".format(event.organizer.slug, event.slug)
    if method != "post":
        url += "{}/".format(rule.pk)
    try:
        r = getattr(token_client, method)(url, {"mode": "placed", "list": clist.pk, "all_sales_channels": False,
                                                "limit_sales_channels": ["web\x00"]}, format="json")
    except DatabaseError as e:  # what production answers with a 500
        raise AssertionError("500: {!r}".format(e))
    assert r.status_code == 400, r.status_code
    assert AutoCheckinRule.objects.count() == 1
