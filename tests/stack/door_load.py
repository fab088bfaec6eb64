"""Whether managers watching the door move the desks' scan latency, on the production stack.

Issue 18 says ten managers refreshing the door every 5 s must not; this measures it on the
stack of ``tests/stack/harness.py``:

    python -m tests.stack.door_load --attendees 20000 [--desks 8] [--managers 10] [--seconds 60]

seeds N paid attendees, then D desks (threads, over both nodes) each scan fresh tickets at a
human pace (one every ``--interval`` s, ±50 %) through ``desk/scan/``, while phases of
``--seconds`` alternate ``--rounds`` times: no managers, then M managers each reading
``desk_door/`` ``--refresh`` s after its last answer, as the door page does. A scan counts
for the phase it started and ended in. Prints scan latency per kind of phase, the ratios, the
door's own latency and the CPU the stack used, and writes JSON (``--json``).
"""
import argparse
import json
import os
import random
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.stack.benchmark import BenchmarkError, Client, Pool, expect, latency_stats
from tests.stack.harness import Stack, cpu_seconds, proc_stat

KINDS = ("no managers", "with managers")
CPU_KEYS = ("gunicorn_cpu_cores", "db_cpu_cores", "driver_cpu_cores", "machine_busy_cores")


def manager_token(organizer):
    """A token of a team that may view orders (and so the door with its conflicts' codes),
    as an event manager's login would."""
    from pretix.base.models import Organizer, Team

    team = Team.objects.create(organizer=Organizer.objects.get(slug=organizer), name="Managers", all_events=True,
                               limit_event_permissions={"event.orders:read": True})
    return team.tokens.create(name="managers").token


class SharedPool(Pool):
    """``Pool`` for several threads; ``None`` once empty."""

    def __init__(self, items):
        super().__init__(items)
        self.lock = threading.Lock()

    def next(self):
        with self.lock:
            return self.take(1)[0] if self.left else None


def urls(ids):
    """The desks' scan URL (the event's main list) and the door's."""
    o, ev = ids["organizer"], ids["attendees"]
    return ("/api/v1/organizers/{}/events/{}/checkinlists/{}/desk/scan/".format(o, ev["event"], ev["main"]),
            "/api/v1/organizers/{}/events/{}/desk_door/".format(o, ev["event"]))


def machine_busy():
    """CPU seconds the whole machine has been busy (``/proc/stat``): other work on it shows."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU used between ``start()`` and ``stop()``, in cores: the gunicorn workers of every
    node; PostgreSQL's backends of the stack's database, sampled every second as they come
    and go (``CONN_MAX_AGE`` is 120 s); this process (desks and managers); the machine."""

    def __init__(self, stack):
        import psycopg

        self.stack = stack
        self.conn = psycopg.connect(dbname=stack.db_name, autocommit=True, **stack.pg)
        self.done = threading.Event()

    def backends(self):
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                                 (self.stack.db_name,)).fetchall()
        return [r[0] for r in rows]

    def sample(self, first=False):
        for pid in self.backends():
            try:
                cpu = proc_stat(pid)[1]
            except (FileNotFoundError, ProcessLookupError):
                continue
            self.base.setdefault(pid, cpu if first else 0.0)  # a new backend's CPU is all in here
            self.last[pid] = cpu

    def start(self):
        self.workers = [pid for node in self.stack.nodes.values() for pid in node.worker_pids()]
        self.base, self.last = {}, {}
        self.sample(first=True)
        self.t0, self.w0, self.p0, self.m0 = (time.monotonic(), cpu_seconds(self.workers), time.process_time(),
                                              machine_busy())
        self.done.clear()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.done.wait(1.0):
            self.sample()

    def stop(self):
        self.done.set()
        self.thread.join()
        self.sample()
        wall = time.monotonic() - self.t0
        return {"gunicorn_cpu_cores": (cpu_seconds(self.workers) - self.w0) / wall,
                "db_cpu_cores": sum(self.last[pid] - self.base[pid] for pid in self.last) / wall,
                "driver_cpu_cores": (time.process_time() - self.p0) / wall,
                "machine_busy_cores": (machine_busy() - self.m0) / wall}


class Load:
    def __init__(self, stack, ids, manager, tickets, args, interval):
        self.stack, self.args, self.interval = stack, args, interval
        self.scan_url, self.door_url = urls(ids)
        nodes = list(stack.nodes.values())
        self.desks = [Client(nodes[i % len(nodes)].url, ids["token"]) for i in range(args.desks)]
        self.managers = [Client(nodes[i % len(nodes)].url, manager) for i in range(args.managers)]
        self.pool = SharedPool(tickets)
        self.phase = -1  # -1: warm-up
        self.scans = []  # (phase, seconds)
        self.doors = []
        self.errors = []
        self.straddled = 0
        self.exhausted = 0
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def desk(self, i):
        client, rng = self.desks[i], random.Random(i)
        due = time.monotonic() + rng.uniform(0, self.interval)
        while not self.stop.is_set():
            self.stop.wait(max(0.0, due - time.monotonic()))
            if self.stop.is_set():
                return
            secret = self.pool.next()
            if secret is None:
                with self.lock:
                    self.exhausted += 1
                return
            phase = self.phase
            try:
                resp = client.post(self.scan_url, {"access_code": secret})
                expect(resp, 201, what="desk scan")
            except Exception as e:  # a refused scan or a dropped connection: reported, never hidden
                with self.lock:
                    self.errors.append("desk {}: {!r}".format(i, e)[:500])
            else:
                with self.lock:
                    if phase == self.phase:
                        self.scans.append((phase, resp.elapsed))
                    else:
                        self.straddled += 1
            # no catching up in a burst after a slow answer: a person scans the next one
            due = max(due + self.interval * rng.uniform(0.5, 1.5), time.monotonic())

    def manager(self, i, stop, phase):
        client, rng = self.managers[i], random.Random(1000 + i + 97 * phase)
        stop.wait(rng.uniform(0, self.args.refresh))  # page opened at some moment
        while not stop.is_set():
            try:
                resp = expect(client.get(self.door_url), 200, what="door refresh")
            except Exception as e:
                with self.lock:
                    self.errors.append("manager {}: {!r}".format(i, e)[:500])
            else:
                with self.lock:
                    self.doors.append((phase, resp.elapsed))
            stop.wait(self.args.refresh)  # door.js: setTimeout after each answer

    def run(self, phases, warmup):
        desks = [threading.Thread(target=self.desk, args=(i,), daemon=True) for i in range(self.args.desks)]
        for t in desks:
            t.start()
        time.sleep(warmup)
        out = []
        meter = CpuMeter(self.stack)
        for index, kind in enumerate(phases):
            threads, stop = [], threading.Event()
            meter.start()
            start = time.monotonic()
            self.phase = index
            if kind == "with managers":
                threads = [threading.Thread(target=self.manager, args=(i, stop, index), daemon=True)
                           for i in range(self.args.managers)]
                for t in threads:
                    t.start()
            time.sleep(self.args.seconds)
            stop.set()
            for t in threads:  # a refresh under way ends inside its phase
                t.join()
            wall = time.monotonic() - start
            out.append({"kind": kind, "seconds": wall, **meter.stop(), "load1": os.getloadavg()[0]})
            print("[door-load] phase {}/{} ({}) done".format(index + 1, len(phases), kind), file=sys.stderr, flush=True)
        meter.conn.close()
        self.phase = len(phases)
        self.stop.set()
        for t in desks:
            t.join()
        for index, p in enumerate(out):
            p["scan"] = latency_stats([s for ph, s in self.scans if ph == index])
            p["scans_per_s"] = p["scan"]["n"] / p["seconds"]
            p["door"] = latency_stats([s for ph, s in self.doors if ph == index])
        return out


def warm(stack, ids, manager, tickets):
    """Every gunicorn worker of every node imports and caches before anything is timed."""
    from concurrent.futures import ThreadPoolExecutor

    scan_url, door_url = urls(ids)
    jobs = []
    for node in stack.nodes.values():
        desk, boss = Client(node.url, ids["token"]), Client(node.url, manager)
        for secret in tickets.take(2 * node.workers):
            jobs.append(lambda c=desk, s=secret: expect(c.post(scan_url, {"access_code": s}), 201,
                                                        what="warm-up scan"))
            jobs.append(lambda c=boss: expect(c.get(door_url), 200, what="warm-up door"))
    with ThreadPoolExecutor(4) as ex:
        list(ex.map(lambda job: job(), jobs))


def summarize(phases):
    out = {}
    for kind in KINDS:
        mine = [p for p in phases if p["kind"] == kind]
        scans = [s for p in mine for s in p["_scan"]]
        doors = [s for p in mine for s in p["_door"]]
        seconds = sum(p["seconds"] for p in mine)
        out[kind] = {"scan": latency_stats(scans), "scans_per_s": len(scans) / seconds, "door": latency_stats(doors),
                     "phases": len(mine), "seconds": seconds}
        for key in CPU_KEYS:
            out[kind][key] = sum(p[key] * p["seconds"] for p in mine) / seconds
    a, b = out[KINDS[0]]["scan"], out[KINDS[1]]["scan"]
    out["ratio"] = {k: b[k] / a[k] if a[k] and b[k] else None for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms")}
    pairs = [(phases[i], phases[i + 1]) for i in range(0, len(phases) - 1, 2)]
    out["ratio_per_round"] = [{k: q["scan"][k] / p["scan"][k] if p["scan"][k] and q["scan"][k] else None
                               for k in ("p50_ms", "p95_ms", "p99_ms")} for p, q in pairs]
    return out


def fmt(value, spec="{:.1f}"):
    return "-" if value is None else spec.format(value)


def report(result):
    m, s = result["meta"], result["summary"]
    lines = []
    w = lines.append
    w("door load: {} attendees, {} desks (a scan every {:.2f} s each, +-50 %), {} managers (door every {:g} s), "
      "{} x 2 phases of {:g} s; pretix {}, {} nodes x {} workers, {} CPUs".format(
          m["attendees"], m["desks"], m["interval"], m["managers"], m["refresh"], m["rounds"], m["seconds"],
          m["pretix"], m["nodes"], m["workers"], m["cpus"]))
    w("")
    row = "{:<15} {:>6} {:>7} {:>8} {:>8} {:>8} {:>6} {:>9} {:>9} {:>6} {:>6} {:>6} {:>6}"
    w(row.format("", "scans", "scans/s", "p50 ms", "p95 ms", "p99 ms", "doors", "door p50", "door p99",
                 "web", "db", "driver", "all"))

    def line(label, r):
        return row.format(label, r["scan"]["n"], fmt(r["scans_per_s"]), fmt(r["scan"]["p50_ms"]),
                          fmt(r["scan"]["p95_ms"]), fmt(r["scan"]["p99_ms"]), r["door"]["n"],
                          fmt(r["door"]["p50_ms"]), fmt(r["door"]["p99_ms"]),
                          *(fmt(r[k], "{:.2f}") for k in CPU_KEYS))

    for kind in KINDS:
        w(line(kind, s[kind]))
    ratio = s["ratio"]
    w(row.format("ratio with/no", "", "", fmt(ratio["p50_ms"], "{:.2f}x"), fmt(ratio["p95_ms"], "{:.2f}x"),
                 fmt(ratio["p99_ms"], "{:.2f}x"), "", "", "", "", "", "", ""))
    w("CPU in cores: gunicorn workers, PostgreSQL backends, this process (desks, managers), the whole machine")
    w("")
    w("per phase, in order:")
    for i, p in enumerate(result["phases"]):
        w(line("{} {}".format(i + 1, "managers" if p["kind"] == KINDS[1] else "none"), p))
    w("per round, with/no: " + ", ".join("p50 {} p95 {} p99 {}".format(
        *(fmt(r[k], "{:.2f}x") for k in ("p50_ms", "p95_ms", "p99_ms"))) for r in s["ratio_per_round"]))
    if m["straddled"] or m["exhausted_desks"] or m["errors"]:
        w("left out: {} scans across a phase change; {} desks ran out of tickets; {} errors".format(
            m["straddled"], m["exhausted_desks"], len(m["errors"])))
    for e in m["errors"][:5]:
        w("  " + e)
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/benchmark door-load", description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=20000, help="attendees to seed (default 20000)")
    parser.add_argument("--desks", type=int, default=8, help="desks scanning at once (default 8)")
    parser.add_argument("--managers", type=int, default=10, help="door pages open in the managers' phases (default 10)")
    parser.add_argument("--seconds", type=float, default=60, help="length of each phase (default 60)")
    parser.add_argument("--rounds", type=int, default=3, help="pairs of phases, no managers then managers (default 3)")
    parser.add_argument("--interval", type=float, default=0.3,
                        help="seconds between a desk's scans (default 0.3; longer if the attendees would run out)")
    parser.add_argument("--refresh", type=float, default=5, help="seconds between a manager's refreshes (default 5)")
    parser.add_argument("--json", type=Path, help="write the results here (default: a file in $TMPDIR)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's temporary directory (logs)")
    args = parser.parse_args(argv)
    if args.desks < 1 or args.managers < 1 or args.rounds < 1 or args.seconds <= 0 or args.interval <= 0:
        parser.error("--desks, --managers, --rounds, --seconds and --interval must be positive")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import pretix

    started = time.time()
    with Stack(keep=args.keep) as stack:
        t = time.monotonic()
        ids = stack.call("tests.stack.seed:seed", attendees=args.attendees, order_events=False, seal=False,
                         timeout=max(600, args.attendees / 50))
        seeded = time.monotonic() - t
        event = ids["attendees"]["event"]
        manager = stack.call("tests.stack.door_load:manager_token", ids["organizer"])
        tickets = Pool(stack.call("tests.stack.seed:secrets_of", event, ids["organizer"]))
        print("[door-load] seeded {} attendees in {:.1f} s".format(args.attendees, seeded), file=sys.stderr, flush=True)
        warm(stack, ids, manager, tickets)
        warmup = min(5.0, max(1.0, args.seconds / 3))
        # the pace the attendees allow: each desk scans at most once per interval, on average
        # once per interval, across the warm-up, every phase and the managers' last refreshes
        span = warmup + 2 * args.rounds * args.seconds * 1.1 + args.rounds * 2
        interval = max(args.interval, 1.2 * args.desks * span / max(1, tickets.left))
        if span / interval < 3:
            raise BenchmarkError("--attendees {} is too few for {} desks over {:g} s".format(
                args.attendees, args.desks, span))
        if interval > args.interval:
            print("[door-load] {} tickets left: a scan every {:.2f} s per desk instead of {:.2f} s".format(
                tickets.left, interval, args.interval), file=sys.stderr, flush=True)
        load = Load(stack, ids, manager, tickets.take(tickets.left), args, interval)
        phases = [KINDS[i % 2] for i in range(2 * args.rounds)]
        out = load.run(phases, warmup)
        nodes = list(stack.nodes.values())
        meta = {"attendees": args.attendees, "desks": args.desks, "managers": args.managers, "seconds": args.seconds,
                "rounds": args.rounds, "interval": interval, "interval_asked": args.interval,
                "refresh": args.refresh, "pretix": pretix.__version__, "nodes": len(nodes),
                "workers": nodes[0].workers, "cpus": os.cpu_count(), "seed_seconds": seeded, "warmup_seconds": warmup,
                "straddled": load.straddled, "exhausted_desks": load.exhausted, "errors": load.errors,
                "tickets_left": load.pool.left, "stack_timings": stack.timings,
                "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))}
    meta["total_seconds"] = time.time() - started
    for index, p in enumerate(out):
        p["_scan"] = [s for ph, s in load.scans if ph == index]
        p["_door"] = [s for ph, s in load.doors if ph == index]
    summary = summarize(out)
    for p in out:
        del p["_scan"], p["_door"]
    result = {"meta": meta, "summary": summary, "phases": out}
    table = report(result)
    print(table)
    result["table"] = table
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-door-load-{}.json".format(args.attendees)
    path.write_text(json.dumps(result, indent=2))
    print("\nJSON: {}".format(path))
    return 1 if load.errors else 0


if __name__ == "__main__":
    sys.exit(main())
