"""The figures README.rst and docs/*.rst state about the code are the code's.

Each test reads a figure from a doc sentence and compares it with what makes it so: the
constant in the code, or the figure a test that measures the behaviour asserts (named in
each test). A doc that is rewrapped still matches (whitespace is collapsed); a doc whose
sentence changes fails here, so that the figure moves together with what holds it.
"""
import ast
import datetime
import re
from pathlib import Path

from pretix_desk import apply
from pretix_desk.api import desk as desk_api
from pretix_desk.desk import codes, preload, search, sync, uploads

ROOT = Path(__file__).resolve().parent.parent
JS = ROOT / "pretix_desk" / "static" / "pretix_desk" / "desk"
WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twenty": 20,
}


def text(name):
    return " ".join((ROOT / name).read_text().split())


def figures(name, pattern):
    """Every number the pattern's first group finds in the doc, in words or digits."""
    found = [m.group(1) for m in re.finditer(pattern, text(name))]
    assert found, f"{name} no longer says {pattern!r}"
    return [WORDS[f] if f in WORDS else int(f.replace(",", "")) for f in found]


def figure(name, pattern):
    (value,) = set(figures(name, pattern))
    return value


def js_constant(filename, name):
    """An exported constant of the desk page: a number, a product of numbers, or an
    object of them (``{firstMs: 15000}``)."""
    source = (JS / filename).read_text()
    match = re.search(r"export const {} = ([^;]+);".format(name), source)
    assert match, f"{filename} has no constant {name}"
    expression = re.sub(r"(\w+):", r'"\1":', match.group(1))
    return _evaluate(ast.parse(expression, mode="eval").body)


def _evaluate(node):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        return _evaluate(node.left) * _evaluate(node.right)
    if isinstance(node, ast.Dict):
        return {_evaluate(k): _evaluate(v) for k, v in zip(node.keys, node.values)}
    raise ValueError(ast.dump(node))


def module_constants(path):
    """The integer constants a module assigns at its top level, read without importing it."""
    tree = ast.parse((ROOT / path).read_text())
    return {
        target.id: node.value.value
        for node in tree.body if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets if isinstance(target, ast.Name)
    }


HOUR_MS = 3600 * 1000


def test_desk_api_limits():
    doc = "docs/desk-api.rst"
    assert figure(doc, r"``access_code`` \(string, at most (\d+) characters\)") == codes.MAX_CODE_LENGTH
    assert figure(doc, r"``nonce`` \(string, at most (\d+) characters\)") == desk_api.NONCE_MAX_LENGTH
    assert figure(doc, r"``other_lists`` \(list of integers, at most (\d+)\)") == desk_api.MAX_LISTS
    # tests/desk/test_desk_search.py: test_search_caps_results, test_search_query_too_short_or_long
    assert figure(doc, r"At most (\d+) results") == search.MAX_RESULTS
    shortest, longest = (int(n) for n in re.search(
        r"``q`` missing, shorter than (\d+) or longer than (\d+) characters", text(doc)).groups())
    q = desk_api.SearchQuerySerializer().fields["q"]
    assert (shortest, longest) == (search.MIN_QUERY_LENGTH, q.max_length) == (q.min_length, q.max_length)


def test_conflict_figures():
    """Measured by tests/desk/test_desk_offline_uploads.py::
    test_the_preload_lists_at_most_100_conflicts_of_a_day_with_10_others_each."""
    doc = "docs/desk-api.rst"
    assert figure(doc, r"successful check-ins on the list, newest first \(at most (\d+)\)") == uploads.MAX_OTHERS
    assert figure(doc, r"``conflicts`` \(after ``removed``\) lists the forced check-ins [^:]*newest first, at most (\d+):") == preload.MAX_CONFLICTS
    assert datetime.timedelta(hours=figure(doc, r"without, those of the last (\d+) hours")) == preload.CONFLICTS_FOR
    assert datetime.timedelta(hours=figure("docs/offline.rst", r"names the conflicts of (\d+) hours")) == (
        preload.CONFLICTS_FOR)


def test_the_sync_overlap():
    """Measured by tests/desk/test_desk_preload.py::
    test_a_sync_sends_again_what_changed_in_the_two_minutes_before_its_token and
    tests/desk/test_desk_offline_uploads.py::
    test_what_changed_in_the_two_minutes_before_the_download_excuses_a_refusal."""
    minutes = (
        figures("docs/desk-api.rst", r"less (\w+) minutes")
        + figures("docs/desk-api.rst", r"(\w+)-minute sync overlap")
        + figures("docs/offline.rst", r"less the (\w+) minutes a sync overlaps")
        + figures("docs/benchmarks.rst", r"(\w+)-minute sync overlap")
    )
    assert {datetime.timedelta(minutes=m) for m in minutes} == {sync.SYNC_OVERLAP}


def test_what_the_desk_page_keeps_and_how_it_retries():
    """The desk page's constants; tests/browser/test_desk_js_units.py measures them
    (test_queue_backoff_grows_per_item_up_to_a_cap,
    test_queue_offline_uploads_are_kept_for_a_day_and_conflicts_reported,
    test_conflicts_are_kept_once_listed_newest_first_and_dismissed_for_good)."""
    doc = "docs/offline.rst"
    backoff = js_constant("queue.js", "BACKOFF")
    assert figure(doc, r"(\d+) seconds after its first failure") * 1000 == backoff["firstMs"]
    assert figure(doc, r"twice as long after each further one, at most (\d+) minutes") * 60 * 1000 == (
        backoff["maxMs"])
    assert figure(doc, r"marked uploaded, for (\d+) hours") * HOUR_MS == js_constant("queue.js", "KEEP_UPLOADED_MS")
    assert figure(doc, r"a dismissed conflict is kept, no longer shown, for (\d+) hours") * HOUR_MS == (
        js_constant("conflicts.js", "KEEP_DISMISSED_MS"))
    # what the page keeps covers what a full download names again
    assert js_constant("queue.js", "KEEP_UPLOADED_MS") >= preload.CONFLICTS_FOR.total_seconds() * 1000


def test_sealing_and_how_soon_a_page_notices_a_logout():
    """The derivation's cost per guess, the keys a page keeps in memory, and the sync interval
    that bounds how long an open page takes to notice an ended session
    (tests/desk/test_desk_sealing.py derives with the server's constant;
    tests/browser/test_desk_sealed_records.py reads the head's iterations)."""
    from pretix_desk.desk import sealing

    doc = "docs/offline.rst"
    assert set(figures(doc, r"([\d,]+) rounds")) == {sealing.ITERATIONS}
    assert figure(doc, r"codes scanned \(at most ([\d,]+)\)") == js_constant("seal.js", "KEEP")
    assert figure(doc, r"at least every (\d+) seconds while online") * 1000 == js_constant("sync.js", "INTERVAL_ONLINE_MS")


def test_the_years_a_scan_may_be_replayed_in():
    """tests/desk/test_desk_bad_data.py::test_a_scan_time_outside_the_years_2000_to_2199_is_400."""
    first, last = re.search(r"a year outside (\d+) to (\d+) is a typo", text("docs/desk-api.rst")).groups()
    assert (int(first), int(last)) == (desk_api.SCAN_FIRST_YEAR, desk_api.SCAN_LAST_YEAR)


def test_the_door():
    """tests/desk/test_desk_door.py: test_the_forecast_counts_door_entries_of_the_last_minutes_only
    measures the span, test_a_bad_list_is_named the list parameter."""
    from pretix_desk.api import door as door_api
    from pretix_desk.door import figures as door

    doc = "docs/door-api.rst"
    assert figure(doc, r"entries at the door \(not auto check-ins\) of the last (\d+) minutes") * 60 == (
        door.RATE_SPAN.total_seconds())
    assert figure(doc, r"\(per minute, the last (\w+) hours\)") * 3600 == door.RECENT.total_seconds()
    assert figure(doc, r"newest first, at most (\d+)") == door.CONFLICTS_SHOWN
    assert figure(doc, r"\(repeatable, at most (\d+);") == door_api.DoorQuerySerializer().fields["list"].max_length
    from pretix_desk.views import door as door_page
    assert figure(doc, r"refreshed every (\d+) seconds") == door_page.REFRESH_SECONDS


def test_applying_a_rule():
    """The result's day is measured by tests/test_rules_apply.py::test_api_result_is_kept_for_a_day."""
    assert figure("docs/rules-api.rst", r"processed in batches of (\d+)") == apply.BATCH_SIZE
    assert "can fetch its result, for a day" in text("docs/rules-api.rst")


def test_statements_of_the_rules_for_an_order():
    """Measured by tests/test_rules_checkin.py (test_no_rules_costs_one_query,
    test_query_count_does_not_grow_with_positions_or_rules,
    test_statements_of_an_order_placed_paid_through_pretix_api)."""
    from tests import test_rules_checkin as measured

    readme = r"costs (\w+) statements? when the event has no rule for its sales channel and at most (\w+) when"
    none, checking_in = re.search(readme, text("README.rst")).groups()
    assert (WORDS[none], WORDS[checking_in]) == (measured.STATEMENTS_WITHOUT_RULES, measured.STATEMENTS_CHECKING_IN)
    assert set(figures("docs/benchmarks.rst", r"\+(\d+) statements per order")) == {measured.STATEMENTS_CHECKING_IN}


def test_statements_of_an_unchanged_sync():
    """Measured by tests/desk/test_desk_preload.py::
    test_an_unchanged_sync_costs_a_fixed_number_of_statements."""
    from tests.desk import test_desk_preload as measured

    now, with_dates = re.search(r"An unchanged sync is now (\w+) statements, (\w+) on an event with dates",
                                text("docs/benchmarks.rst")).groups()
    assert (WORDS[now], WORDS[with_dates]) == (measured.UNCHANGED_SYNC_STATEMENTS,
                                               measured.UNCHANGED_SYNC_STATEMENTS + 1)


def test_the_benchmark_that_scripts_test_runs():
    (attendees,) = re.findall(r"tests\.stack\.benchmark --attendees (\d+)", (ROOT / "scripts" / "test").read_text())
    assert set(figures("README.rst", r"at N=(\d+)")) == {int(attendees)}
    assert figure("docs/benchmarks.rst", r"``scripts/test`` runs it at N=(\d+)") == int(attendees)


def test_the_races_of_the_reliability_page():
    """The table's runs are the rounds of tests/stack/test_races.py; the total sums them."""
    rounds = module_constants("tests/stack/test_races.py")
    doc = (ROOT / "docs" / "reliability.rst").read_text()
    table = doc.split("Races over HTTP", 1)[1].split("Faults mid-write", 1)[0]
    rows = [tuple(int(n) for n in m.groups()) for m in re.finditer(r"^\S.{48}(\d+)\s+(\d+)\s", table, re.M)]
    assert [runs for runs, _ in rows] == [
        rounds["ROUNDS_ONE_TICKET"], rounds["ROUNDS_DISTINCT"], rounds["ROUNDS_REDEEM"], rounds["ROUNDS_BATCH"],
        rounds["PAID_RACES"], rounds["PAUSED_PAYMENTS"],
    ]
    races, requests = (int(n) for n in re.search(r"(\d+) races, (\d+) requests", doc).groups())
    assert races == sum(runs for runs, _ in rows) and requests == sum(r for _, r in rows)
    assert re.search(r"one offline batch \((\d+) scans", doc).group(1) == str(rounds["BATCH"])


def test_the_demo():
    """Measured by tests/test_demo_shop.py::test_demo_has_what_the_door_uses."""
    from pretix_desk.management.commands.desk_demo import PEOPLE

    assert figure("README.rst", r"check-in rule for speaker tickets; and (\w+) orders") == len(PEOPLE)
