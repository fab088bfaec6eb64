"""What the desk page reports about itself (report.js), read by the server's parser
(door/reports.py) from the very header value the page builds: the two ends of one format."""
import datetime

import pytest

from pretix_desk.door.reports import parse_report

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/static/pretix_desk/desk/"
T0 = 1796630400000  # 2026-12-07 08:00 UTC on the desk's clock


@pytest.fixture
def units(context, live_server):
    page = context.new_page()
    page.on("pageerror", lambda err: print("pageerror:", err))
    page.goto(BASE + "desk.css")

    def run(body, arg=None):
        return page.evaluate(
            "async (arg) => { const base = %r; const load = (m) => import(base + m); %s }" % (BASE, body), arg)
    return run


HARNESS = """
    const {Connectivity} = await load("connectivity.js");
    const {DeskReporter, UPLOAD_REPORT_MS} = await load("report.js");
    const memory = new Map();
    const prefs = {get: (k) => (memory.has(k) ? memory.get(k) : null), set: (k, v) => memory.set(k, v),
                   gate: "north"};
    let clock = arg.t0;
    const conn = new Connectivity({reachable: true, capable: true});
    const report = new DeskReporter({conn, prefs, version: "1.0.0+abcdef12", now: () => clock});
"""


def at(ms):
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)


def test_a_desk_offline_for_ten_minutes_reports_it_when_it_is_back(units):
    out = units(HARNESS + """
        report.noteScan();
        clock += 60000; report.noteScan(); report.noteSync();
        const first = report.header("download");
        clock += 60000; conn.failed();                       // the Wi-Fi drops at +2 min
        for (let i = 0; i < 80; i++) { clock += 7000; report.noteScan(); }
        report.noteQueue({queued: 80, parked: 1, failing: 0});
        clock += 40000;                                       // +12 min: the first upload goes out
        const upload = report.header("upload");
        const again = report.header("upload");                // the next item of the batch: none
        conn.answered();
        report.noteQueue({queued: 0, parked: 1, failing: 0});
        clock += UPLOAD_REPORT_MS;
        report.noteSync();
        const after = report.header("download");
        return {first, upload, again, after, id: memory.get("desk_id"), t: clock};
    """, {"t0": T0})
    assert len(out["id"]) == 24
    # the server's clock is 3 s ahead of the desk's: every time moves with it
    first = parse_report(out["first"], at=at(T0 + 60000 + 3000))
    assert (first.desk, first.state, first.gate, first.version) == (out["id"], "online", "north", "1.0.0+abcdef12")
    assert first.counts["scans_5min"] == 2 and first.times["last_sync"] == at(T0 + 60000 + 3000)

    upload_at = T0 + 120000 + 80 * 7000 + 40000
    upload = parse_report(out["upload"], at=at(upload_at))
    assert upload.state == "syncing"
    assert (upload.counts["queued"], upload.counts["parked"]) == (80, 1)
    assert upload.times["offline_from"] == at(T0 + 120000)
    assert upload.times["offline_until"] == at(upload_at)  # back as of this very request
    assert upload.counts["scans_5min"] == len([i for i in range(80) if 120000 + (i + 1) * 7000 > upload_at - T0 - 300000])
    assert out["again"] is None

    after = parse_report(out["after"], at=at(out["t"]))
    assert after.state == "online" and after.counts["queued"] == 0
    assert after.times["offline_from"] == at(T0 + 120000)
    assert after.times["offline_until"] is not None
    assert after.times["state_since"] == after.times["offline_until"]


def test_the_desk_keeps_its_id_and_a_browser_without_offline_mode_says_so(units):
    out = units(HARNESS + """
        const second = new DeskReporter({conn, prefs, version: "1", now: () => clock});
        conn.setCapable(false);
        return {ids: [report.id, second.id], header: second.header("probe")};
    """, {"t0": T0})
    assert out["ids"][0] == out["ids"][1]
    assert parse_report(out["header"], at=at(T0)).state == "unavailable"
