"""The desk page in Chromium against the production stack: how long until a door laptop is
offline-ready, what the page holds in memory, and how fast it answers offline.

    python -m tests.stack.browser_benchmark --attendees 100000

seeds an event of N paid attendees on the stack of ``tests/stack/harness.py`` (every code's
sealing master derived, as the background task leaves them), logs a door volunteer in (a
user who may only check in: sealed records, no search index; then one who may view orders)
and measures for each, in Debian's Chromium:

* offline-ready: from opening the desk page to the first download stored in IndexedDB
  (``body[data-last-sync]``), and the bytes it took on the wire; where the time went, in
  the page's own clock (the download sent, its first and last bytes read, the list
  stored: marks the page sets, ``download.js``); and the same for a second desk of the
  same login opened right after, which gets the download the first desk's rendering
  shares (``desk/shared_preload.py``), as every desk of a list but the first does;
* the JS heap (``performance.memory``, precise with Chromium's flag): at offline-ready,
  with whatever the download left to collect; the highest reading while it downloads and
  stores (sampled every 50 ms); and what the page holds after the offline answers and a
  garbage collection (``gc()``, exposed by a V8 flag the page never uses);
* offline answers: the network cut, ``--scans`` tickets scanned through the page's own
  scan path (each opens its sealed record: one PBKDF2), time to the answer shown; with
  ``--gc-before-scans`` after a garbage collection, to tell what the download's garbage
  costs the first answers from what an answer costs; with ``--profile-scans``, where their
  main thread's time went (a CPU profile).

``--rounds N`` measures both logins N times in turn on the same seeded event, with the
shared download (``desk/shared_preload.py``) forgotten before each: the first round's
first login also meets workers that have rendered nothing yet.

It prints the figures and writes JSON (``--json``). ``docs/benchmarks.rst`` shows a run.
"""
import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

from tests.stack.harness import Stack

CHROMIUM = os.environ.get("PRETIX_DESK_CHROMIUM") or "/usr/bin/chromium"
PASSWORD = "door-password-1"


def seed_door_user(*, organizer, email, may_list):
    """A control-panel user in a team of its own with check-in (and, with ``may_list``,
    order viewing) permission; returns nothing (the password is ``PASSWORD``)."""
    from django_scopes import scopes_disabled
    from pretix.base.models import Organizer, Team, User

    with scopes_disabled():
        org = Organizer.objects.get(slug=organizer)
        user = User.objects.create_user(email, PASSWORD)
        permissions = {"event.orders:checkin": True}
        if may_list:
            permissions["event.orders:read"] = True
        team = Team.objects.create(organizer=org, name="Door " + email, all_events=True,
                                   limit_event_permissions=permissions)
        team.members.add(user)
    return None


def forget_shared_downloads():
    """Each measurement renders its own download: none shared from the one before."""
    from django.core.cache import cache

    cache.clear()


#: Injected before the page's own scripts: the heap's highest reading while the page
#: downloads and stores (sampled every 50 ms; a long synchronous parse shows in the sample
#: after it), and when the page first showed a sync (body[data-last-sync]) in its own clock.
PAGE_PROBES = """(() => {
    globalThis.__deskPeakHeap = 0;
    setInterval(() => {
        const used = performance.memory ? performance.memory.usedJSHeapSize : 0;
        globalThis.__deskPeakHeap = Math.max(globalThis.__deskPeakHeap, used);
    }, 50);
    document.addEventListener("DOMContentLoaded", () => {
        new MutationObserver(() => {
            if (globalThis.__deskSyncShown === undefined && document.body.dataset.lastSync) {
                globalThis.__deskSyncShown = performance.now();
            }
        }).observe(document.body, {attributes: true, attributeFilter: ["data-last-sync"]});
    });
})()"""

#: The marks the page sets on a download's way (download.js, sync.js), and what they mean.
TIMELINE = (
    ("desk:download-first-bytes", "first bytes read"),
    ("desk:download-read", "last byte read"),
    ("desk:download-stored", "stored"),
)


def timeline(page):
    """The page's own clock (ms since it was opened): the download sent, the marks, and
    the sync shown."""
    return page.evaluate("""() => {
        const at = {};
        const sent = performance.getEntriesByType("resource").find((e) => e.name.includes("/desk/preload/"));
        at.sent = sent ? sent.startTime : null;
        for (const m of performance.getEntriesByType("mark")) {
            at[m.name] = at[m.name] === undefined ? m.startTime : at[m.name];
        }
        at.shown = globalThis.__deskSyncShown === undefined ? null : globalThis.__deskSyncShown;
        return at;
    }""")


def steps_text(at):
    """``timeline``'s readings as a line, in seconds."""
    steps = [("sent", "sent")] + list(TIMELINE) + [("shown", "shown")]
    return ", ".join("{} {:.1f} s".format(label, at[key] / 1000) for key, label in steps if at.get(key) is not None)


def open_desk(context, page_url, list_id):
    """A desk opened on the door's list; returns the page once it is offline-ready."""
    page = context.new_page()
    page.goto(page_url)
    page.wait_for_selector("body[data-desk-ready='1']")
    # the seeded event has a second list (hand-outs): the volunteer chooses the door's
    page.select_option("#desk-list", str(list_id))
    page.wait_for_selector("body[data-last-sync]")
    return page


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure(stack, ids, args):
    from playwright.sync_api import sync_playwright

    node = stack.nodes["a"]
    event = ids["attendees"]["event"]
    page_url = "/control/event/{}/{}/desk/".format(ids["organizer"], event)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-dev-shm-usage", "--enable-precise-memory-info", "--js-flags=--expose-gc",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
        ])
        context = browser.new_context(base_url=node.site_url, viewport={"width": 1280, "height": 900}, locale="en-US")
        context.set_default_timeout(args.timeout * 1000)
        context.add_init_script(PAGE_PROBES)
        page = context.new_page()
        downloaded = []
        timings = []
        finished_requests = []

        def finished(request):
            if "/desk/preload/" in request.url:
                downloaded.append(time.monotonic())
                timings.append(request.timing)
                finished_requests.append(request)

        context.on("requestfinished", finished)
        page.goto("/control/login")
        page.fill("input[name=email]", args.email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/control/login" not in url)

        page.close()

        started = time.monotonic()
        page = open_desk(context, page_url, ids["attendees"]["main"])
        ready = time.monotonic() - started
        steps = timeline(page)
        download = (downloaded[0] - started) if downloaded else None
        # the request itself: sent after the page opened and the list was chosen, its first
        # byte after the server's head, its last after the last record was rendered
        timing = timings[0] if timings else {}
        request_s = {"first_byte": timing.get("responseStart", 0) / 1000, "last_byte": timing.get("responseEnd", 0) / 1000}
        # as received: the front passes a streamed body on without a length
        wire = sum(r.sizes()["responseBodySize"] for r in finished_requests)
        heap = page.evaluate("() => performance.memory ? performance.memory.usedJSHeapSize : null")
        peak = page.evaluate("() => Math.max(globalThis.__deskPeakHeap, performance.memory.usedJSHeapSize)")
        # a second desk of the same login opened now: the download shared with the first
        # (desk/shared_preload.py), as every desk but a list's first gets it at opening
        second = context.browser.new_context(base_url=node.site_url, viewport={"width": 1280, "height": 900},
                                             locale="en-US", storage_state=context.storage_state())
        second.set_default_timeout(args.timeout * 1000)
        second.add_init_script(PAGE_PROBES)
        t = time.monotonic()
        shared_page = open_desk(second, page_url, ids["attendees"]["main"])
        shared = {"offline_ready_s": time.monotonic() - t, "timeline_ms": timeline(shared_page)}
        second.close()

        context.set_offline(True)
        page.wait_for_selector("#desk-net[data-state='offline']")
        if args.gc_before_scans:
            page.evaluate("() => gc()")
        profiler = None
        if args.profile_scans:
            profiler = context.new_cdp_session(page)
            profiler.send("Profiler.enable")
            profiler.send("Profiler.setSamplingInterval", {"interval": 200})
            profiler.send("Profiler.start")
        times = []
        for secret in args.secrets:
            times.append(page.evaluate("""async (code) => {
                const desk = window.pretixDesk;
                const t = performance.now();
                await desk.actions.scan(code, {source: "manual"});
                return performance.now() - t;
            }""", secret))
        hot = where_the_time_went(profiler.send("Profiler.stop")["profile"]) if profiler else None
        shown = page.inner_text("#desk-result")
        # what the page holds once the download's garbage is collected
        held = page.evaluate("() => { gc(); return performance.memory.usedJSHeapSize; }")
        browser.close()
    return {
        "offline_ready_s": ready, "download_done_s": download, "download_request_s": request_s, "timeline_ms": steps,
        "second_desk": shared,
        "preload_wire_bytes": wire, "js_heap_mb": heap / 1e6 if heap else None,
        "js_heap_peak_mb": peak / 1e6, "js_heap_held_mb": held / 1e6,
        "offline_answer_ms": {"n": len(times), "p50": percentile(times, 50), "p99": percentile(times, 99),
                              "max": max(times), "each": times},
        "last_answer": shown.splitlines()[:2],
        "answers_profile_ms": hot,
    }


def where_the_time_went(profile, top=15):
    """The functions of a CPU profile (Chrome's Profiler domain) with the most time of their
    own, ``[[name, ms], ...]``; idle time left out."""
    interval = {}
    for node_id, delta in zip(profile.get("samples", []), profile.get("timeDeltas", [])):
        interval[node_id] = interval.get(node_id, 0) + delta / 1000
    spent = {}
    for node in profile["nodes"]:
        frame = node["callFrame"]
        if frame["functionName"] == "(idle)":
            continue
        where = "{} {}:{}".format(frame["functionName"] or "(anonymous)", frame["url"].rsplit("/", 1)[-1],
                                  frame["lineNumber"] + 1)
        spent[where] = spent.get(where, 0) + interval.get(node["id"], 0)
    return [[name, round(ms, 1)] for name, ms in sorted(spent.items(), key=lambda kv: -kv[1])[:top]]


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m tests.stack.browser_benchmark",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=20000)
    parser.add_argument("--scans", type=int, default=50, help="offline answers to time (default 50)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for the download (default 600)")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--rounds", type=int, default=1, help="measure both logins this many times (default 1)")
    parser.add_argument("--gc-before-scans", action="store_true",
                        help="diagnosis: collect the download's garbage before the offline answers (the page cannot)")
    parser.add_argument("--profile-scans", action="store_true",
                        help="diagnosis: print where the offline answers spend the main thread's time (a CPU profile)")
    return parser.parse_args(argv)


def door_email(may_list):
    return "door-{}@example.org".format("orders" if may_list else "checkin")


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with Stack(nodes=("a",)) as stack:
        t = time.monotonic()
        ids = stack.call("tests.stack.seed:seed", attendees=args.attendees, order_events=False,
                         timeout=max(600, args.attendees / 50))
        seeded = time.monotonic() - t
        secrets = stack.call("tests.stack.seed:secrets_of", ids["attendees"]["event"], ids["organizer"])
        rng = random.Random(1)
        results = {}
        for may_list in (False, True):
            stack.call("tests.stack.browser_benchmark:seed_door_user", organizer=ids["organizer"],
                       email=door_email(may_list), may_list=may_list)
        for round_ in range(args.rounds):
            for may_list in (False, True):
                args.email = door_email(may_list)
                # codes not scanned before: each answer opens its record with a PBKDF2 of its own
                args.secrets = rng.sample(secrets, min(args.scans, len(secrets)))
                stack.call("tests.stack.browser_benchmark:forget_shared_downloads")
                who = "may view orders" if may_list else "check-in only"
                results[who if not round_ else "{}, round {}".format(who, round_ + 1)] = measure(stack, ids, args)
    print("desk page in Chromium, {} attendees (seeding took {:.0f} s)".format(args.attendees, seeded))
    for who, result in results.items():
        print("  a volunteer with {} permission".format(who))
        print("    offline-ready  {:.1f} s after opening ({:.1f} MB on the wire; the request took {:.1f} s, its "
              "headers after {:.1f} s)".format(
                  result["offline_ready_s"], result["preload_wire_bytes"] / 1e6,
                  result["download_request_s"]["last_byte"], result["download_request_s"]["first_byte"]))
        print("      the page's clock: {}".format(steps_text(result["timeline_ms"])))
        second = result["second_desk"]
        print("      a second desk of this login, the download shared: offline-ready {:.1f} s ({})".format(
            second["offline_ready_s"], steps_text(second["timeline_ms"])))
        print("    JS heap        {} at offline-ready; {:.1f} MB held after a garbage collection, {:.1f} MB at "
              "the highest reading".format("{:.1f} MB".format(result["js_heap_mb"]) if result["js_heap_mb"] else "-",
                                           result["js_heap_held_mb"], result["js_heap_peak_mb"]))
        a = result["offline_answer_ms"]
        print("    offline answer p50 {:.1f} ms, p99 {:.1f} ms, max {:.1f} ms ({} scans; p50 of the first 20 "
              "{:.1f} ms, of the last 20 {:.1f} ms, with as many queued before)".format(
                  a["p50"], a["p99"], a["max"], a["n"], percentile(a["each"][:20], 50),
                  percentile(a["each"][-20:], 50)))
        for name, ms in result["answers_profile_ms"] or ():
            print("      {:>8.1f} ms  {}".format(ms, name))
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-browser-benchmark-{}.json".format(args.attendees)
    path.write_text(json.dumps({"attendees": args.attendees, "seed_seconds": seeded, "results": results}, indent=2))
    print("JSON: {}".format(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
