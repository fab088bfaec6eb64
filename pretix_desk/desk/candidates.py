"""What a scan loads before pretix's check-in, in hand-written statements: the positions a
scanned code can mean (with their add-ons, locking the order) and the list's products.

``find_candidates`` is the ORM query ``with_desk_state`` (``positions``) plus the add-ons
and the order lock, written out once. Why not the ORM: building and compiling that query
(four joined models, five subqueries) and making up to five instances per row took
0.62 s of 2.46 s in the profile of 20 desk scans (``docs/benchmarks.rst``, "Where the
time goes"); in-process on PostgreSQL it cost 5.7 to 7.0 ms of CPU per call, this one
0.5 to 0.8 ms. The database needs the same 3 ms for either. The statement is a string
made once per process and variant; its rows become pretix's model instances as the ORM
makes them (``Model.from_db``, the database's and the fields' converters, the related
objects cached), with the same annotations.

``find_candidates_on_lists`` is the statement over several lists of the event (a row per
position and list, with that list's annotations), for a desk that scans against several:
one read locks the orders before pretix is asked on each list, instead of a read per list
and one more for the scan, as pretix's check-in API reads once for all its lists.

What it finds mirrors what pretix's check-in API searches
(``pretix.api.views.checkin._redeem_process``): ``tests/desk/test_desk_candidates.py``
holds it to the ORM query it replaces, and the differential tests hold the scan to
pretix's answers.
"""
from functools import lru_cache
from weakref import WeakKeyDictionary

from django.db import connections, router
from django.db.models import (
    BooleanField, DateTimeField, ExpressionWrapper, TextField, Value,
)
from django.db.transaction import TransactionManagementError
from pretix.base.models import (
    Checkin, Item, ItemVariation, Order, OrderPosition, SubEvent,
)

from .positions import desk_positions

#: The models of a row, in the order of its columns, and where each is cached on the position.
_MODELS = (OrderPosition, Order, Item, ItemVariation, SubEvent)
_RELATED = ("order", "item", "variation", "subevent")

#: The annotations after the models' columns, with the field type their value converts as.
_ANNOTATIONS = (
    ("display_name", TextField()),
    ("last_entry_at", DateTimeField()),
    ("has_addons", BooleanField()),
    ("has_shown_answers", BooleanField()),
    ("is_candidate", BooleanField()),
    ("redeemed_at", DateTimeField()),
    ("list_has_capacity", BooleanField()),
)

# The ORM query's clauses, with the same subqueries and joins. ``{match}`` is what makes a
# position a candidate, ``{addons}`` its add-ons (read for ``line_items_of``), ``_PARENT``
# the ticket of the scanned code, computed once (as a join, "the code or its parent's
# code" could use no index and would read every position of the event). The last column
# says whether the list has a door capacity at all, so that a scan looks for the
# capacities that apply (``door.capacity.full_refusal``) only where there are any.
_STATEMENT = """{lists}
SELECT {columns},
  COALESCE(NULLIF(p.attendee_name_cached, ''), NULLIF(parent.attendee_name_cached, ''),
           NULLIF(ia.name_cached, '')),
  (SELECT c."datetime" FROM pretixbase_checkin c
    WHERE c.successful AND c.list_id = {list} AND c.position_id = p.id AND c."type" = %(entry)s
    ORDER BY c."datetime" DESC LIMIT 1),
  EXISTS(SELECT 1 FROM pretixbase_orderposition a WHERE NOT a.canceled AND a.addon_to_id = p.id),
  EXISTS(SELECT 1 FROM pretixbase_questionanswer qa
           JOIN pretixbase_question q ON q.id = qa.question_id
          WHERE q.show_during_checkin AND qa.orderposition_id = p.id),
  {match},
  (SELECT r."datetime" FROM pretix_desk_redemption r
    WHERE r.annulled IS NULL AND r.position_id = p.id
    ORDER BY r."datetime" DESC, r.id DESC LIMIT 1),
  EXISTS(SELECT 1 FROM pretix_desk_doorcapacity dc WHERE dc.checkin_list_id = {list}){list_column}
FROM pretixbase_orderposition p
JOIN pretixbase_order o ON o.id = p.order_id
JOIN pretixbase_item i ON i.id = p.item_id
LEFT JOIN pretixbase_itemvariation v ON v.id = p.variation_id
LEFT JOIN pretixbase_subevent s ON s.id = p.subevent_id
LEFT JOIN pretixbase_orderposition parent ON parent.id = p.addon_to_id
LEFT JOIN pretixbase_invoiceaddress ia ON ia.order_id = o.id{list_join}
WHERE NOT p.canceled AND o.event_id = %(event)s AND {where}
ORDER BY p.addon_to_id IS NOT NULL, p.addon_to_id, p.id
"""
_PARENT = """(SELECT t.id FROM pretixbase_orderposition t JOIN pretixbase_order t_o ON t_o.id = t.order_id
  WHERE t_o.event_id = %(event)s AND t.secret = %(code)s ORDER BY t.id LIMIT 1)"""
_ALIASES = ("p", "o", "i", "v", "s")


def find_candidates(*, checkin_list, access_code=None, position_id=None, lock_orders=False, as_code=False):
    """Positions of the list's event a scanned code (or a position picked from a search)
    can mean, the ticket itself first.

    The same set pretix's check-in API searches: positions that are not canceled, of the
    list's date; a canceled order is found (pretix answers ``canceled``), a canceled
    position or another date's ticket is not (``invalid``).

    The same statement also reads the ticket's add-ons, which the desk shows as its line
    items (``line_items_of``), so a scan needs no second query for them. ``lock_orders``
    locks the orders (``FOR UPDATE OF`` the order, on PostgreSQL, in the caller's
    transaction): pretix locks an order before its positions, and so must a scan
    (``docs/reliability.rst``, finding 3). ``as_code``: the candidates of ``position_id``
    as a scan of its code would find them (its add-ons too, on a list that matches add-ons
    by their parent's code), as pretix finds them for a revoked code it checks in when forced.
    """
    conn, lock = _connection(lock_orders)
    by_code = position_id is None
    statement = _statement(
        by_code=by_code, parent_matches=checkin_list.addon_match and (by_code or as_code),
        one_date=bool(checkin_list.subevent_id), lock=lock,
    )
    params = {
        "event": checkin_list.event_id, "list": checkin_list.pk, "entry": Checkin.TYPE_ENTRY,
        "date": checkin_list.subevent_id, "code": access_code, "position": position_id,
    }
    layout = _layout(conn)
    rows = [_instances(row, conn, layout) for row in _fetch(conn, statement, params)]
    return desk_positions(_candidates(rows, checkin_list=checkin_list, access_code=access_code,
                                      position_id=position_id))


def find_candidates_on_lists(*, checkin_lists, access_code=None, position_id=None, lock_orders=False):
    """``find_candidates`` on each of several lists of one event, in one statement:
    ``{list id: candidates}``, each list's its own instances with that list's annotations
    (pretix's check-in may be simulated on one list's and run on another's)."""
    lists = list({cl.pk: cl for cl in checkin_lists}.values())
    conn, lock = _connection(lock_orders)
    params = {"event": lists[0].event_id, "entry": Checkin.TYPE_ENTRY, "code": access_code, "position": position_id}
    for n, cl in enumerate(lists):
        params.update({f"list{n}": cl.pk, f"date{n}": cl.subevent_id, f"addons{n}": bool(cl.addon_match)})
    statement = _lists_statement(len(lists), by_code=position_id is None, lock=lock)
    layout = _layout(conn)
    rows = {cl.pk: [] for cl in lists}
    for row in _fetch(conn, statement, params):
        rows[row[-1]].append(_instances(row, conn, layout))  # the list's id is the last column
    found = {
        cl.pk: _candidates(rows[cl.pk], checkin_list=cl, access_code=access_code, position_id=position_id)
        for cl in lists
    }
    desk_positions([op for candidates in found.values() for op in candidates])  # one query for all lists
    return found


def _connection(lock_orders):
    """The database the ORM would ask (a locking read is a write to Django's router), and
    whether to lock there."""
    conn = connections[(router.db_for_write if lock_orders else router.db_for_read)(OrderPosition)]
    lock = lock_orders and conn.features.has_select_for_update
    if lock and conn.get_autocommit():
        raise TransactionManagementError("Locking the candidates' orders needs a transaction.")
    return conn, lock


def _fetch(conn, statement, params):
    with conn.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall()


def _candidates(rows, *, checkin_list, access_code, position_id):
    """The candidates among one list's rows, with the ticket's add-ons as its line items."""
    candidates = [op for op in rows if op.is_candidate]
    for op in candidates:
        # Saves a query wherever pretix touches order.event (log entries, signals).
        op.order.event = checkin_list.event
        if op.secret == access_code or op.pk == position_id:
            op.line_item_list = sorted(
                (r for r in rows if r.addon_to_id == op.pk), key=lambda r: (r.positionid, r.pk),
            )
    return candidates


def prefetch_products(checkin_list):
    """The list's products, read for pretix's check-in as pretix's check-in API reads them
    before ``perform_checkin`` (a prefetch of ``limit_products``), which then asks only for
    their ids: one statement of one column instead of the ORM's query of every column of
    every product, 0.1 ms of server CPU instead of 1.2 ms (in-process, PostgreSQL). The
    products carry their id only; any other field loads when read, as with ``only("pk")``."""
    if checkin_list.all_products or "limit_products" in getattr(checkin_list, "_prefetched_objects_cache", ()):
        return
    conn = connections[router.db_for_read(Item)]
    with conn.cursor() as cursor:
        cursor.execute(
            "SELECT item_id FROM pretixbase_checkinlist_limit_products WHERE checkinlist_id = %s",
            [checkin_list.pk],
        )
        products = [Item.from_db(conn.alias, ["id"], row) for row in cursor.fetchall()]
    prefetched = checkin_list.limit_products.all()
    prefetched._result_cache, prefetched._prefetch_done = products, True  # as prefetch_related_objects
    if not hasattr(checkin_list, "_prefetched_objects_cache"):
        checkin_list._prefetched_objects_cache = {}
    checkin_list._prefetched_objects_cache["limit_products"] = prefetched


@lru_cache(maxsize=None)
def _statement(*, by_code, parent_matches, one_date, lock):
    """The statement of one variant, as the ORM query built it (``lock`` only where the
    database has row locks: PostgreSQL, not SQLite)."""
    match, addons = _matches(by_code)
    if parent_matches:
        match = f"({match} OR {addons})"
    if one_date:
        match = f"({match} AND p.subevent_id = %(date)s)"
    return _format(lock, match=match, where=f"({match} OR {addons})", list="%(list)s")


@lru_cache(maxsize=None)
def _lists_statement(count, *, by_code, lock):
    """The statement over ``count`` lists: the positions a code can mean on any list, once
    per list (``l``), with the candidate test of each list's variant of ``_statement``."""
    match, addons = _matches(by_code)
    if by_code:
        match = f"({match} OR (l.addon_match AND {addons}))"
    match = f"({match} AND (l.date IS NULL OR p.subevent_id = l.date))"
    lists = ", ".join(
        f"(CAST(%(list{n})s AS INTEGER), CAST(%(date{n})s AS INTEGER), CAST(%(addons{n})s AS BOOLEAN))"
        for n in range(count)
    )
    return _format(
        lock, match=match, where=f"({_matches(by_code)[0]} OR {addons}) AND ({match} OR {addons})",
        list="l.id", lists=f"WITH l(id, date, addon_match) AS (VALUES {lists})",
        list_column=",\n  l.id", list_join="\nCROSS JOIN l",
    )


def _matches(by_code):
    """What makes a position the scanned one, and what makes it one of its add-ons."""
    if by_code:
        return "p.secret = %(code)s", "p.addon_to_id = " + _PARENT
    return "p.id = %(position)s", "p.addon_to_id = %(position)s"


def _format(lock, *, lists="", list_column="", list_join="", **parts):
    columns = ", ".join(
        f'{alias}."{f.column}"'
        for model, alias in zip(_MODELS, _ALIASES) for f in model._meta.concrete_fields
    )
    statement = _STATEMENT.format(
        columns=columns, lists=lists, list_column=list_column, list_join=list_join, **parts,
    )
    if lock:
        statement += "FOR UPDATE OF o\n"
    return statement


def _instances(row, conn, layout):
    """The position of one row, with its order, product, variation and date cached on it
    and the annotations set, as ``select_related`` and ``annotate`` leave them."""
    slices, converters, related = layout
    row = list(row)
    for index, convert, expression in converters:
        row[index] = convert(row[index], expression, conn)
    models = [
        None if row[pk] is None else model.from_db(conn.alias, names, row[start:end])  # a LEFT JOIN's miss
        for model, (start, end, pk, names) in zip(_MODELS, slices)
    ]
    position = models[0]
    for field, obj in zip(related, models[1:]):
        field.set_cached_value(position, obj)
    for (name, _), value in zip(_ANNOTATIONS, row[slices[-1][1]:]):
        setattr(position, name, value)
    return position


_layouts = WeakKeyDictionary()


def _layout(conn):
    """Where each model's columns are in a row, and the converters of the columns that have
    any, as the ORM's compiler finds them (``get_converters``). Per connection: the
    database's converters are methods of its connection."""
    layout = _layouts.get(conn)
    if layout is None:
        slices, expressions, start = [], [], 0
        for model in _MODELS:
            fields = model._meta.concrete_fields
            pk = start + fields.index(model._meta.pk)
            slices.append((start, start + len(fields), pk, [f.attname for f in fields]))
            expressions += [f.cached_col for f in fields]
            start += len(fields)
        expressions += [ExpressionWrapper(Value(None), output_field=f) for _, f in _ANNOTATIONS]
        converters = [
            (index, convert, expression)
            for index, expression in enumerate(expressions)
            for convert in conn.ops.get_db_converters(expression) + expression.get_db_converters(conn)
        ]
        related = [OrderPosition._meta.get_field(name) for name in _RELATED]
        layout = _layouts[conn] = (slices, converters, related)
    return layout
