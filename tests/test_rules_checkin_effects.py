"""pretix's ``Checkin.save()`` has side effects (the order's modification time, cached
counts); auto check-in rules write their check-ins in bulk instead (``autocheckin/engine.py``) and
repeat those effects by hand. These tests notice when pretix changes what a check-in does:
they record what one ``Checkin.save()`` does and what the rules' bulk path does for one
check-in, and compare.

When one fails after a pretix upgrade, read pretix's ``Checkin.save()`` (and what it calls)
and repeat the new effect in ``engine._save_checkins``/``_touch``/``_clear_counts``, or,
if it must not be repeated, add it to the differences listed here with the reason.
"""
import hashlib
import importlib
import inspect
import re

import pytest
from django.core.cache import caches
from django.db import connection
from django.db.models.signals import post_init, post_save, pre_init, pre_save
from django.dispatch import Signal
from django.test.utils import CaptureQueriesContext
from pretix.base.models import Checkin, CheckinList, Order
from pretix.base.signals import PluginSignal

from pretix_desk.autocheckin import engine
from pretix_desk.models import AutoCheckinRule

from .conftest import make_order

#: What the bulk path does on top of ``Checkin.save()``, as ``perform_checkin`` does on top
#: of it too: the order's log entry (``pretix.event.checkin``, which drives webhooks) and
#: ``checkin_created``. Anything else new in the bulk path fails the test as well.
EXTRA_IN_BULK = {
    ("INSERT", "pretixbase_logentry"),
    # the log entry's webhooks and notifications look up their kinds
    ("signal", "pretix.api.signals.register_webhook_events", "NoneType"),
    ("signal", "pretix.base.signals.register_notification_types", "NoneType"),
    ("signal", "pretix.base.signals.checkin_created", "Event"),
}

#: Effects of ``Checkin.save()`` the bulk path leaves out on purpose: Django's model signals
#: of the saved check-in and the touched order, which ``bulk_create`` and ``update`` do not
#: send. Nothing may listen to them (see ``test_nobody_listens_to_what_the_bulk_path_skips``).
SKIPPED_IN_BULK = {
    ("signal", "django.db.models.signals.pre_save", "Checkin"),
    ("signal", "django.db.models.signals.post_save", "Checkin"),
    ("signal", "django.db.models.signals.pre_save", "Order"),
    ("signal", "django.db.models.signals.post_save", "Order"),
}

#: The source of pretix's ``Checkin.save()`` this comparison was last checked against.
CHECKIN_SAVE_SHA256 = "721c2b32f6498353779c60c09d1d8d5912b444d0585944bab56a14e4d3185ea3"

WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)
SET_COLUMNS = re.compile(r'"(\w+)"\s*=')


SIGNAL_MODULES = (
    "django.db.models.signals", "django.core.signals", "pretix.base.signals", "pretix.api.signals",
    "pretix.control.signals", "pretix.presale.signals",
)


def _signal_names():
    """The signals of Django's and pretix's signal modules, by dotted name."""
    names = {}
    for module_name in SIGNAL_MODULES:
        for attr, value in vars(importlib.import_module(module_name)).items():
            if isinstance(value, Signal):
                names.setdefault(id(value), f"{module_name}.{attr}")
    return names


class Effects:
    """Observable effects of a block: the statements that write (verb, table, and for an
    update the columns it sets), the cache keys written or deleted (with the ids of the
    list and event replaced), and the signals sent, by signal and kind of sender."""

    def __init__(self, *, ids):
        self.monkeypatch = pytest.MonkeyPatch()  # its own: undone when the block ends
        self.ids = ids
        self.found = set()
        self.names = _signal_names()

    def _key(self, key):
        # pretix's namespaced keys: "<Model>:<pk>:<generation>:<key>"
        parts = str(key).split(":", 3)
        if len(parts) == 4:
            key = f"{parts[0]}:{parts[3]}"
        elif len(parts) == 2:
            return None  # reading a namespace's generation writes it when it is unknown
        for name, value in self.ids.items():
            key = key.replace(f"_{value}_", f"_{{{name}}}_")
        return key

    def _record_cache(self, op, keys):
        for key in keys:
            key = self._key(key)
            if key is not None:
                self.found.add(("cache", op, key))

    def _record_signal(self, signal, sender):
        if signal in (pre_init, post_init):
            return  # objects made in memory, no effect
        name = self.names.get(id(signal), repr(signal))
        kind = sender.__name__ if isinstance(sender, type) else type(sender).__name__
        self.found.add(("signal", name, kind))

    def __enter__(self):
        backend = type(caches["default"])
        for op in ("set", "add", "delete", "incr", "decr", "touch", "get_or_set"):
            original = getattr(backend, op)

            def one(cache, key, *args, _op=op, _original=original, **kwargs):
                self._record_cache(_op, [key])
                return _original(cache, key, *args, **kwargs)

            self.monkeypatch.setattr(backend, op, one)
        for op in ("set_many", "delete_many"):
            original = getattr(backend, op)

            def many(cache, keys, *args, _op=op, _original=original, **kwargs):
                self._record_cache(_op.replace("_many", ""), list(keys))
                return _original(cache, keys, *args, **kwargs)

            self.monkeypatch.setattr(backend, op, many)
        for cls in (Signal, PluginSignal):
            for op in ("send", "send_robust"):
                original = cls.__dict__.get(op)
                if original is None:
                    continue

                def send(signal, sender, *args, _original=original, **kwargs):
                    self._record_signal(signal, sender)
                    return _original(signal, sender, *args, **kwargs)

                self.monkeypatch.setattr(cls, op, send)
        self.queries = CaptureQueriesContext(connection)
        self.queries.__enter__()
        return self

    def __exit__(self, *exc):
        self.queries.__exit__(*exc)
        self.monkeypatch.undo()
        for q in self.queries.captured_queries:
            m = WRITE.match(q["sql"])
            if not m:
                continue
            verb = m.group(1).split()[0].upper()
            if verb == "UPDATE":
                columns = tuple(sorted(set(SET_COLUMNS.findall(q["sql"].split(" WHERE ")[0]))))
                self.found.add((verb, m.group(2), columns))
            else:
                self.found.add((verb, m.group(2)))


def _setup(event, ticket, code):
    clist = CheckinList.objects.create(event=event, name=f"List {code}", all_products=True)
    order = make_order(event, [ticket], code=code)
    return clist, order


def save_effects(event, ticket, code="SAVE1"):
    """What pretix's own ``Checkin.save()`` does for one automatic entry (the bundled
    plugin's ``get_or_create`` makes exactly this row)."""
    clist, order = _setup(event, ticket, code)
    position = order.positions.get()
    before = Order.objects.get(pk=order.pk).last_modified
    with Effects(ids={"list": clist.pk, "event": event.pk}) as effects:
        Checkin(position=position, list=clist, type=Checkin.TYPE_ENTRY, auto_checked_in=True).save()
    effects.found.add(("order modified", Order.objects.get(pk=order.pk).last_modified > before))
    effects.found.add(("order object touched", position.order.last_modified > before))
    return effects.found


def bulk_effects(event, ticket, code="BULK1"):
    """What the rules' bulk path does for one automatic entry."""
    clist, order = _setup(event, ticket, code)
    AutoCheckinRule.objects.create(event=event, list=clist, mode="placed")
    before = Order.objects.get(pk=order.pk).last_modified
    with Effects(ids={"list": clist.pk, "event": event.pk}) as effects:
        created = engine.check_in_order(order=order, modes=("placed",))
    assert len(created) == 1
    effects.found.add(("order modified", Order.objects.get(pk=order.pk).last_modified > before))
    effects.found.add(("order object touched", order.last_modified > before))
    return effects.found


def differences(saved, bulk):
    """``(missing, extra)``: effects of ``Checkin.save()`` the bulk path lacks, and effects of
    the bulk path beyond it, each without the differences this module lists on purpose."""
    return (saved - bulk) - SKIPPED_IN_BULK, (bulk - saved) - EXTRA_IN_BULK


def test_bulk_path_has_the_effects_of_checkin_save(event, ticket):
    saved, bulk = save_effects(event, ticket), bulk_effects(event, ticket)
    missing, extra = differences(saved, bulk)
    assert not missing, (
        "pretix's Checkin.save() does this, the auto check-in rules' bulk path does not: "
        "repeat it in autocheckin/engine.py (_save_checkins, _touch, _clear_counts) or list it in "
        "SKIPPED_IN_BULK with the reason: %r" % sorted(missing, key=repr)
    )
    assert not extra, "the bulk path does more than Checkin.save() and EXTRA_IN_BULK: %r" % sorted(extra, key=repr)
    # The comparison saw the effects it is about.
    assert {("order modified", True), ("order object touched", True), ("INSERT", "pretixbase_checkin"),
            ("cache", "delete", "Event:checkin_count")} <= saved


def test_the_comparison_sees_a_new_effect(event, ticket, monkeypatch):
    """Were pretix's ``Checkin.save()`` to do more, the comparison above would fail."""
    original = Checkin.save

    def save_with_more(checkin, **kwargs):
        original(checkin, **kwargs)
        checkin.list.event.cache.delete("checkin_list_{}_inside_count".format(checkin.list_id))
        checkin.position.save(update_fields=["attendee_email"])

    monkeypatch.setattr(Checkin, "save", save_with_more)
    saved = save_effects(event, ticket)
    monkeypatch.undo()
    missing, _ = differences(saved, bulk_effects(event, ticket))
    assert missing == {
        ("cache", "delete", "Event:checkin_list_{list}_inside_count"),
        ("UPDATE", "pretixbase_orderposition", ("attendee_email",)),
        ("signal", "django.db.models.signals.pre_save", "OrderPosition"),
        ("signal", "django.db.models.signals.post_save", "OrderPosition"),
    }


def test_nobody_listens_to_what_the_bulk_path_skips():
    """Model signals ``bulk_create`` and ``update`` do not send: a receiver of them (pretix
    or a plugin) would miss every automatic check-in."""
    signals = {"pre_save": pre_save, "post_save": post_save}
    models = {"Checkin": Checkin, "Order": Order}
    listened = sorted(
        (name, model) for _, name, model in SKIPPED_IN_BULK
        if signals[name.rsplit(".", 1)[1]].has_listeners(models[model])
    )
    assert not listened, (
        "something now listens to a model signal that the auto check-in rules' bulk_create/update "
        "do not send; send it from autocheckin/engine.py or save the check-ins one by one: %r" % listened
    )


def test_checkin_save_is_the_one_compared():
    """A pin of pretix's ``Checkin.save()``: a change there means reading it again, even if
    the comparison above does not see a difference (an effect that shows only in some
    state of the check-in, e.g. without a position)."""
    source = inspect.getsource(Checkin.save)
    digest = hashlib.sha256(source.encode()).hexdigest()
    assert digest == CHECKIN_SAVE_SHA256, (
        "pretix's Checkin.save() changed:\n%s\nRead it, repeat any new effect in autocheckin/engine.py "
        "(see test_bulk_path_has_the_effects_of_checkin_save), then set CHECKIN_SAVE_SHA256 to %s"
        % (source, digest)
    )
