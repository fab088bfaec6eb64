"""Which tickets an order's auto check-in rules check in, and on which lists.

Pure functions over plain data: the engine in ``autocheckin/engine.py`` loads what is needed
with a fixed number of queries and hands it over here, so the semantics can be tested
without a database and the query count does not grow with positions or rules.
"""
from dataclasses import dataclass, field
from typing import FrozenSet, Iterable, List, Optional, Set, Tuple

MODE_PLACED = "placed"
MODE_PAID = "paid"


@dataclass(frozen=True)
class Position:
    id: int
    item_id: int
    variation_id: Optional[int] = None
    subevent_id: Optional[int] = None
    canceled: bool = False


@dataclass(frozen=True)
class CheckinList:
    id: int
    all_products: bool = True
    product_ids: FrozenSet[int] = frozenset()
    subevent_id: Optional[int] = None

    def admits(self, position: Position) -> bool:
        """A list's own limits hold whether a rule names it or leaves the list open."""
        if not self.all_products and position.item_id not in self.product_ids:
            return False
        if self.subevent_id is not None and self.subevent_id != position.subevent_id:
            return False
        return True


@dataclass(frozen=True)
class Rule:
    id: int
    mode: str = MODE_PLACED
    list_id: Optional[int] = None
    all_sales_channels: bool = True
    sales_channel_ids: FrozenSet[int] = frozenset()
    all_products: bool = True
    product_ids: FrozenSet[int] = frozenset()
    variation_ids: FrozenSet[int] = frozenset()
    all_payment_methods: bool = True
    payment_methods: FrozenSet[str] = field(default_factory=frozenset)

    def applies_to_order(self, *, mode: str, sales_channel_id: int,
                         payment_methods: Iterable[str]) -> bool:
        if self.mode != mode:
            return False
        if not self.all_sales_channels and sales_channel_id not in self.sales_channel_ids:
            return False
        if not self.all_payment_methods and not self.payment_methods.intersection(payment_methods):
            return False
        return True

    def matches(self, position: Position) -> bool:
        # A listed product stands for all its variations; a listed variation needs
        # no listed parent.
        return (
            self.all_products
            or position.item_id in self.product_ids
            or (position.variation_id is not None and position.variation_id in self.variation_ids)
        )


def select_checkins(
    *,
    mode: str,
    sales_channel_id: int,
    payment_methods: Iterable[str],
    positions: Iterable[Position],
    rules: Iterable[Rule],
    lists: Iterable[CheckinList],
    already_checked_in: Iterable[Tuple[int, int]] = (),
) -> List[Tuple[int, int]]:
    """The ``(position id, list id)`` pairs to check in, each at most once.

    ``payment_methods`` are the providers of the order's confirmed or refunded payments;
    ``already_checked_in`` holds the pairs that have a successful entry already, however it
    was made (a scan, an earlier rule, another plugin), so a second rule or a re-sent signal
    never checks a ticket in twice on one list, and a scanned ticket gets no automatic entry.
    Pairs come out in position order, then list order, so callers get a stable result.
    """
    payment_methods = frozenset(payment_methods)
    lists_by_id = {cl.id: cl for cl in lists}
    active_rules = [
        r for r in rules
        if r.applies_to_order(mode=mode, sales_channel_id=sales_channel_id,
                              payment_methods=payment_methods)
    ]
    seen: Set[Tuple[int, int]] = set(already_checked_in)
    result = []
    for position in sorted(positions, key=lambda p: p.id):
        if position.canceled:
            continue
        wanted = set()
        for rule in active_rules:
            if not rule.matches(position):
                continue
            if rule.list_id is None:
                candidates = lists_by_id.values()
            elif rule.list_id in lists_by_id:
                candidates = (lists_by_id[rule.list_id],)
            else:
                candidates = ()  # the list is gone or belongs elsewhere
            wanted.update(cl.id for cl in candidates if cl.admits(position))
        for list_id in sorted(wanted):
            if (position.id, list_id) not in seen:
                seen.add((position.id, list_id))
                result.append((position.id, list_id))
    return result
