"""The rule semantics on plain data (pretix_desk.rules), no database."""
from pretix_desk.rules import (
    MODE_PAID, MODE_PLACED, CheckinList, Position, Rule, select_checkins,
)

WEB, BOX = 1, 2
TICKET, SHIRT = 10, 20
SHIRT_S, SHIRT_M = 21, 22
MAIN = CheckinList(id=100, all_products=False, product_ids=frozenset({TICKET}))
ANY = CheckinList(id=200)
MERCH = CheckinList(id=300, all_products=False, product_ids=frozenset({SHIRT}))


def select(rules, positions, lists=(MAIN, ANY, MERCH), *, mode=MODE_PLACED, channel=WEB,
           payments=(), already=()):
    return select_checkins(mode=mode, sales_channel_id=channel, payment_methods=payments,
                           positions=positions, rules=rules, lists=lists,
                           already_checked_in=already)


def test_rule_with_list_checks_in_matching_positions_only_on_that_list():
    positions = [Position(1, TICKET), Position(2, SHIRT, SHIRT_S)]
    assert select([Rule(1, list_id=MAIN.id)], positions) == [(1, MAIN.id)]


def test_rule_without_list_uses_every_list_that_admits_the_product():
    positions = [Position(1, TICKET), Position(2, SHIRT, SHIRT_S)]
    assert select([Rule(1)], positions) == [
        (1, MAIN.id), (1, ANY.id), (2, ANY.id), (2, MERCH.id),
    ]


def test_named_list_keeps_its_product_limit():
    assert select([Rule(1, list_id=MERCH.id)], [Position(1, TICKET)]) == []


def test_named_list_that_is_not_loaded_checks_in_nothing():
    assert select([Rule(1, list_id=999)], [Position(1, TICKET)]) == []


def test_subevent_limits_of_lists():
    date1 = CheckinList(id=1, subevent_id=7)
    date2 = CheckinList(id=2, subevent_id=8)
    everywhere = CheckinList(id=3)
    positions = [Position(1, TICKET, subevent_id=7), Position(2, TICKET, subevent_id=8)]
    assert select([Rule(1)], positions, lists=[date1, date2, everywhere]) == [
        (1, 1), (1, 3), (2, 2), (2, 3),
    ]
    # A named list of another date does not admit the ticket either.
    assert select([Rule(1, list_id=2)], positions[:1], lists=[date1, date2]) == []


def test_mode_must_match():
    positions = [Position(1, TICKET)]
    assert select([Rule(1, mode=MODE_PAID)], positions, mode=MODE_PLACED) == []
    assert select([Rule(1, mode=MODE_PAID)], positions, mode=MODE_PAID) == [(1, MAIN.id), (1, ANY.id)]


def test_sales_channels():
    rule = Rule(1, list_id=ANY.id, all_sales_channels=False, sales_channel_ids=frozenset({BOX}))
    assert select([rule], [Position(1, TICKET)], channel=WEB) == []
    assert select([rule], [Position(1, TICKET)], channel=BOX) == [(1, ANY.id)]


def test_product_matches_all_its_variations():
    rule = Rule(1, list_id=ANY.id, all_products=False, product_ids=frozenset({SHIRT}))
    positions = [Position(1, SHIRT, SHIRT_S), Position(2, SHIRT, SHIRT_M), Position(3, TICKET)]
    assert select([rule], positions) == [(1, ANY.id), (2, ANY.id)]


def test_variation_without_its_product():
    rule = Rule(1, list_id=ANY.id, all_products=False, variation_ids=frozenset({SHIRT_M}))
    positions = [Position(1, SHIRT, SHIRT_S), Position(2, SHIRT, SHIRT_M), Position(3, TICKET)]
    assert select([rule], positions) == [(2, ANY.id)]


def test_payment_methods():
    rule = Rule(1, mode=MODE_PAID, list_id=ANY.id, all_payment_methods=False,
                payment_methods=frozenset({"paypal"}))
    positions = [Position(1, TICKET)]
    assert select([rule], positions, mode=MODE_PAID, payments={"banktransfer"}) == []
    assert select([rule], positions, mode=MODE_PAID, payments=set()) == []
    assert select([rule], positions, mode=MODE_PAID, payments={"banktransfer", "paypal"}) == [(1, ANY.id)]


def test_canceled_positions_are_skipped():
    positions = [Position(1, TICKET, canceled=True), Position(2, TICKET)]
    assert select([Rule(1, list_id=MAIN.id)], positions) == [(2, MAIN.id)]


def test_two_rules_and_existing_checkins_never_duplicate():
    positions = [Position(1, TICKET), Position(2, TICKET)]
    rules = [Rule(1, list_id=MAIN.id), Rule(2), Rule(3, list_id=MAIN.id)]
    assert select(rules, positions, lists=[MAIN]) == [(1, MAIN.id), (2, MAIN.id)]
    assert select(rules, positions, lists=[MAIN], already={(1, MAIN.id)}) == [(2, MAIN.id)]


def test_mixed_order_with_several_rules():
    positions = [Position(1, TICKET), Position(2, SHIRT, SHIRT_S), Position(3, SHIRT, SHIRT_M)]
    rules = [
        Rule(1, list_id=MAIN.id, all_products=False, product_ids=frozenset({TICKET})),
        Rule(2, list_id=MERCH.id, all_products=False, variation_ids=frozenset({SHIRT_M})),
        Rule(3, list_id=ANY.id, all_sales_channels=False, sales_channel_ids=frozenset({BOX})),
    ]
    assert select(rules, positions, channel=WEB) == [(1, MAIN.id), (3, MERCH.id)]
    assert select(rules, positions, channel=BOX) == [
        (1, MAIN.id), (1, ANY.id), (2, ANY.id), (3, ANY.id), (3, MERCH.id),
    ]
