"""Signed tickets offline (issue 20): what a signed code costs a desk to answer, and what the
download's head carries for them.

    python -m tests.stack.signed_benchmark --attendees 2000 --revoked 1000 --scans 100

seeds, on the stack of ``tests/stack/harness.py``, an event with N paid attendees whose codes
pretix then signs (``pretix_sig1``; the first ``--revoked`` of them get a new, signed code,
and pretix keeps the old one revoked), logs a volunteer in (check-in only) and opens the
desk page in Debian's Chromium. After the download, ``--scans`` tickets more are sold and,
with the network cut, scanned through the page's own scan path. It prints:

* the head's ``signed`` part: bytes as JSON and gzip, and per revoked code;
* per scan, in the page: parse and verify alone, with WebCrypto and with the vendored
  implementation (plain http), and the whole offline answer (``desk.actions.scan``).

``docs/benchmarks.rst`` shows a run.
"""
import argparse
import gzip
import json
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.stack.browser_benchmark import CHROMIUM, PASSWORD, percentile
from tests.stack.harness import Stack


def seed_signed(*, attendees, revoked):
    """The event, its attendees (random codes, as sold before the switch) and ``revoked``
    codes replaced by signed ones."""
    from django_scopes import scopes_disabled
    from pretix.base.models import OrderPosition, Organizer
    from pretix.base.secrets import assign_ticket_secret

    from tests.stack import seed

    ids = seed.seed_organizer()
    with scopes_disabled():
        organizer = Organizer.objects.get(slug=ids["organizer"])
        event, objs = seed._event(organizer, "signed", seed.PLUGINS_DESK)
        seed.seed_attendees(event, objs, attendees)
        event.settings.ticket_secret_generator = "pretix_sig1"
        for position in OrderPosition.objects.filter(order__event=event, item=objs["ticket"]).order_by("pk")[:revoked]:
            assign_ticket_secret(event, position, force_invalidate=True)
    return {**ids, "event": event.slug, "main": objs["main"].pk}


def sell(*, organizer, event, count):
    """``count`` paid tickets sold now (after the desk's download), with their signed codes."""
    from decimal import Decimal

    from django.utils.timezone import now
    from django_scopes import scopes_disabled
    from pretix.base.models import Event, Item, Order, OrderPosition

    codes = []
    with scopes_disabled():
        ev = Event.objects.get(organizer__slug=organizer, slug=event)
        ticket = Item.objects.get(event=ev, name="Ticket")
        channel = ev.organizer.sales_channels.get(identifier="web")
        for i in range(count):
            order = Order.objects.create(event=ev, status=Order.STATUS_PAID, email="late{}@example.org".format(i),
                                         datetime=now(), expires=now(), total=Decimal("10"), sales_channel=channel,
                                         locale="en")
            codes.append(OrderPosition.objects.create(order=order, positionid=1, item=ticket,
                                                      price=Decimal("10")).secret)
    return codes


def head_figures(*, organizer, event, list_id, revoked):
    """The ``signed`` part of a full download's head, as the desk gets it."""
    from django_scopes import scopes_disabled
    from pretix.base.models import CheckinList

    from pretix_desk.desk import signed
    from pretix_desk.desk.preload import prepare_preload

    with scopes_disabled():
        clist = CheckinList.objects.get(pk=list_id, event__slug=event, event__organizer__slug=organizer)
        part = signed.head(prepare_preload(checkin_list=clist))
    raw = json.dumps(part, separators=(",", ":")).encode()
    return {"refused": len(part["refused"]), "json_bytes": len(raw), "gzip_bytes": len(gzip.compress(raw)),
            "gzip_bytes_per_revoked": len(gzip.compress(raw)) / max(1, revoked)}


def measure(stack, ids, args):
    from playwright.sync_api import sync_playwright

    node = stack.nodes["a"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
        context = browser.new_context(base_url=node.site_url, viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(120000)
        page = context.new_page()
        page.goto("/control/login")
        page.fill("input[name=email]", args.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/control/login" not in url)
        page.goto("/control/event/{}/{}/desk/".format(ids["organizer"], ids["event"]))
        page.wait_for_selector("body[data-desk-ready='1']")
        page.select_option("#desk-list", str(ids["main"]))
        page.wait_for_selector("body[data-last-sync]")
        codes = stack.call("tests.stack.signed_benchmark:sell", organizer=ids["organizer"], event=ids["event"],
                           count=args.scans)
        context.set_offline(True)
        page.wait_for_selector("#desk-net[data-state='offline']")
        verify = page.evaluate("""async (arg) => {
            const main = [...document.scripts].map((s) => s.src).find((s) => s.includes("/desk/main"));
            const sig1 = await import(main.slice(0, main.lastIndexOf("/") + 1) + "sig1.js");
            const desk = window.pretixDesk;
            const keys = (await desk.store.getMeta(arg.list)).signed.keys;
            const out = {};
            for (const backend of ["webcrypto", "vendored"]) {
                await sig1.prepareSig1(keys, {backend});
                const times = [];
                for (const code of arg.codes) {
                    const t = performance.now();
                    const ok = await sig1.verifySig1(sig1.parseSig1(code), keys, {backend});
                    times.push(performance.now() - t);
                    if (!ok) throw new Error("did not verify: " + code);
                }
                out[backend] = times;
            }
            return out;
        }""", {"codes": codes, "list": ids["main"]})
        answers = []
        for code in codes:
            answers.append(page.evaluate("""async (code) => {
                const t = performance.now();
                await window.pretixDesk.actions.scan(code, {source: "manual"});
                return performance.now() - t;
            }""", code))
            page.wait_for_selector("#desk-result[data-state='ok']")
        note = page.inner_text("#desk-note")
        browser.close()

    def summary(times):
        return {"n": len(times), "p50": percentile(times, 50), "p99": percentile(times, 99), "max": max(times)}
    return {"verify_ms": {k: summary(v) for k, v in verify.items()}, "offline_answer_ms": summary(answers),
            "note": note}


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.stack.signed_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=2000)
    parser.add_argument("--revoked", type=int, default=1000, help="codes replaced, kept revoked (default 1000)")
    parser.add_argument("--scans", type=int, default=100, help="tickets sold after the download, scanned offline")
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Stack(nodes=("a",)) as stack:
        t = time.monotonic()
        ids = stack.call("tests.stack.signed_benchmark:seed_signed", attendees=args.attendees, revoked=args.revoked,
                         timeout=max(600, args.attendees / 20))
        seeded = time.monotonic() - t
        args.email = "door-checkin@example.org"
        stack.call("tests.stack.browser_benchmark:seed_door_user", organizer=ids["organizer"], email=args.email,
                   may_list=False)
        head = stack.call("tests.stack.signed_benchmark:head_figures", organizer=ids["organizer"], event=ids["event"],
                          list_id=ids["main"], revoked=args.revoked)
        result = measure(stack, ids, args)
    print("signed tickets offline, {} attendees, {} codes revoked (seeding took {:.0f} s)".format(
        args.attendees, args.revoked, seeded))
    print("  head's signed part  {} codes refused, {:.1f} kB as JSON, {:.1f} kB gzip ({:.1f} B per revoked code)".format(
        head["refused"], head["json_bytes"] / 1e3, head["gzip_bytes"] / 1e3, head["gzip_bytes_per_revoked"]))
    for backend, v in result["verify_ms"].items():
        print("  verify ({:9s})  p50 {:.2f} ms, p99 {:.2f} ms, max {:.2f} ms ({} codes)".format(
            backend, v["p50"], v["p99"], v["max"], v["n"]))
    a = result["offline_answer_ms"]
    print("  offline answer      p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms ({} tickets sold after the download)".format(
        a["p50"], a["p99"], a["max"], a["n"]))
    print("  the page said       {}".format(result["note"]))
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-signed-benchmark.json"
    path.write_text(json.dumps({"attendees": args.attendees, "revoked": args.revoked, "head": head, **result}, indent=2))
    print("JSON: {}".format(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
