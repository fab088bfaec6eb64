"""The desk API next to pretix's own check-in API, on the production stack, over loopback.

    scripts/benchmark --attendees 20000 [--json results.json] [--profile-dir profiles/]

Starts the stack (``harness.py``: PostgreSQL, Redis, Celery, gunicorn with two workers and a
second node), seeds N paid attendees with a T-shirt add-on each (``seed.py``) and measures,
alternating the two sides in rounds (desk, pretix, pretix, desk, ...):

scan       ``desk/scan/`` vs ``checkinrpc/redeem``, a fresh paid ticket per request, with 1
           and 8 concurrent clients: latency percentiles, scans/s, and CPU-ms per scan of
           the gunicorn workers (utime + stime from /proc/<pid>/stat) and of PostgreSQL's
           backends serving them
queries    SQL statements per request, counted on the server by the stack's test-only
           middleware (``X-Stack-Count-Queries``, see ``middleware.py``): scan ok / already
           used / unknown, lookup (vs ``checkinrpc/redeem`` with ``simulate``), add-on
           hand-out (vs ``checkinrpc/redeem`` on an add-on list with ``addon_match``), search
preload    the whole list from ``desk/preload/`` vs every page of
           ``checkinlists/{id}/positions/`` (50 per page, as pretixSCAN downloads): seconds,
           bytes plain and gzip (level 6, what a reverse proxy would send) and on the wire
           to a client that accepts gzip (the application compresses), peak RSS of the
           gunicorn worker; then a sync with ``since`` after 100 scans, and a sync with
           nothing changed (``If-None-Match`` -> 304, also answered by the second node)
orders     ``POST orders/`` (a ticket with an add-on, paid) on three events: no plugin,
           pretix's bundled autocheckin plugin with 5 rules, pretix-desk with 5 rules

It prints a table with the issue's targets and writes everything as JSON. With
``--profile-dir`` it also profiles the desk's side of each measurement with pyinstrument, in
this process, through Django's test client against the stack's database.
"""
import argparse
import gzip
import http.client
import json
import logging
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit

from tests.stack.harness import Stack, cpu_seconds, proc_status

TARGETS_TEXT = {
    "scan_p50_1": "≤ 0.6× pretix",
    "scan_p50_8": "≤ 0.6× pretix",
    "scan_rate_8": "≥ 1.6× pretix",
    "q_scan_ok": "≤ 10",
    "q_scan_already": "≤ 8",
    "q_scan_unknown": "≤ 6",
    "preload_s": "≤ 1 s per 20,000 (100,000 in ≤ 5 s)",
    "preload_speedup": "≥ 400× pretix",
    "preload_gzip": "≤ 60 B/attendee",
    "sync_s": "≤ 0.1 s",
    "sync_304_ms": "304 in ≤ 20 ms",
    "order_ratio": "≤ 1.08× no plugin",
    "order_queries": "≤ +8 vs no plugin",
}


class BenchmarkError(RuntimeError):
    pass


# ---------------------------------------------------------------------- HTTP


class Response:
    __slots__ = ("status", "headers", "body", "elapsed")

    def __init__(self, status, headers, body, elapsed):
        self.status, self.headers, self.body, self.elapsed = status, headers, body, elapsed

    def json(self):
        return json.loads(self.body)

    @property
    def queries(self):
        value = self.headers.get("x-stack-queries")
        return int(value) if value is not None else None


class Client:
    """A minimal HTTP client (http.client, a connection per request: gunicorn's sync workers
    close every connection anyway) that times each request to its last byte."""

    def __init__(self, base_url, token):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname, parts.port
        self.token = token

    def request(self, method, path, body=None, headers=None, count_queries=False):
        hdrs = {"Authorization": "Token " + self.token, "Accept": "application/json"}
        if body is not None:
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        if count_queries:
            hdrs["X-Stack-Count-Queries"] = "1"
        hdrs.update(headers or {})
        start = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        try:
            conn.request(method, path, body=body, headers=hdrs)
            response = conn.getresponse()
            data = response.read()
        finally:
            conn.close()
        elapsed = time.perf_counter() - start
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, data, elapsed)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body, **kw):
        return self.request("POST", path, body=body, **kw)


def expect(response, *statuses, what=""):
    if response.status not in statuses:
        raise BenchmarkError("{}: HTTP {} (expected {}): {}".format(
            what, response.status, "/".join(map(str, statuses)), response.body[:500]))
    return response


# ---------------------------------------------------------------------- numbers


def percentile(values, p):
    ordered = sorted(values)
    if not ordered:
        return None
    k = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[k]


def latency_stats(latencies):
    ms = [v * 1000 for v in latencies]
    return {"n": len(ms), "p50_ms": percentile(ms, 50), "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "mean_ms": statistics.fmean(ms) if ms else None}


class Pool:
    """Fresh tickets, each used by one measurement only."""

    def __init__(self, items):
        self.items = list(items)
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.items):
            raise BenchmarkError("not enough attendees: need {} more, {} left; use more --attendees".format(
                n, len(self.items) - self.pos))
        out = self.items[self.pos:self.pos + n]
        self.pos += n
        return out

    @property
    def left(self):
        return len(self.items) - self.pos


class CpuMeter:
    """CPU seconds of the node's gunicorn workers and of the PostgreSQL backends of the
    stack's database, between ``start()`` and ``stop()``."""

    def __init__(self, stack, node):
        self.stack, self.node = stack, node

    def _pids(self):
        return self.node.worker_pids(), self.stack.database_backend_pids()

    def start(self):
        self.workers, self.backends = self._pids()
        self.w0 = cpu_seconds(self.workers)
        self.b0 = {pid: cpu_seconds([pid]) for pid in self.backends}

    def stop(self):
        workers = self.node.worker_pids()
        if sorted(workers) != sorted(self.workers):
            raise BenchmarkError("a gunicorn worker was replaced during a measurement")
        w1 = cpu_seconds(self.workers)
        # backends alive at both ends (the workers keep theirs: CONN_MAX_AGE); PostgreSQL's
        # short-lived parallel workers are not counted
        db = 0.0
        for pid in set(self.stack.database_backend_pids()) & set(self.b0):
            db += max(0.0, cpu_seconds([pid]) - self.b0[pid])
        return w1 - self.w0, db


class MemoryMeter:
    """Peak RSS of the node's workers while something runs: the kernel's high-water mark
    (VmHWM, reset through /proc/<pid>/clear_refs) where allowed, else sampled every 5 ms."""

    def __init__(self, pids):
        self.pids = pids

    def __enter__(self):
        self.base = {pid: proc_status(pid, "VmRSS") for pid in self.pids}
        self.peak = dict(self.base)
        self.hwm_reset = True
        for pid in self.pids:
            try:
                with open("/proc/{}/clear_refs".format(pid), "w") as f:
                    f.write("5")
            except OSError:
                self.hwm_reset = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.005):
            for pid in self.pids:
                try:
                    self.peak[pid] = max(self.peak[pid], proc_status(pid, "VmRSS"))
                except (FileNotFoundError, ProcessLookupError):
                    pass

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        if self.hwm_reset:
            for pid in self.pids:
                self.peak[pid] = max(self.peak[pid], proc_status(pid, "VmHWM"))

    def result(self):
        worst = max(self.pids, key=lambda pid: self.peak[pid] - self.base[pid])
        return {"rss_before_mb": round(self.base[worst] / 1024, 1), "rss_peak_mb": round(self.peak[worst] / 1024, 1),
                "rss_growth_mb": round((self.peak[worst] - self.base[worst]) / 1024, 1),
                "method": "VmHWM" if self.hwm_reset else "sampled VmRSS"}


# ---------------------------------------------------------------------- the benchmark


class Benchmark:
    def __init__(self, stack, ids, args):
        self.stack = stack
        self.args = args
        self.ids = ids
        self.node = stack.nodes["a"]
        self.client = Client(self.node.url, ids["token"])
        self.client_b = Client(stack.nodes["b"].url, ids["token"]) if "b" in stack.nodes else self.client
        # a login that may only check in: sealed records, no search index (issue 17)
        self.client_door = Client(self.node.url, ids["token_checkin"])
        o, ev = ids["organizer"], ids["attendees"]
        self.list_id, self.merch_id = ev["main"], ev["merch"]
        self.desk = "/api/v1/organizers/{}/events/{}/checkinlists/{}/desk/".format(o, ev["event"], ev["main"])
        self.rpc = "/api/v1/organizers/{}/checkinrpc/".format(o)
        self.positions = "/api/v1/organizers/{}/events/{}/checkinlists/{}/positions/".format(
            o, ev["event"], ev["main"])
        self.results = {}

    # -- requests of both sides

    def desk_scan(self, secret, client=None, **kw):
        return (client or self.client).post(self.desk + "scan/", {"access_code": secret}, **kw)

    def pretix_scan(self, secret, client=None, **kw):
        return (client or self.client).post(self.rpc + "redeem/", {"secret": secret, "lists": [self.list_id]}, **kw)

    # -- a: scans

    def run_scans(self, pool, concurrency, per_side, rounds):
        sides = {"desk": self.desk_scan, "pretix": self.pretix_scan}
        acc = {name: {"lat": [], "wall": 0.0, "cpu": 0.0, "db": 0.0, "n": 0} for name in sides}
        chunk = max(1, per_side // rounds)
        meter = CpuMeter(self.stack, self.node)
        for r in range(rounds):
            order = ["desk", "pretix"] if r % 2 == 0 else ["pretix", "desk"]
            for name in order:
                tickets = pool.take(chunk)
                meter.start()
                start = time.perf_counter()
                with ThreadPoolExecutor(concurrency) as ex:
                    responses = list(ex.map(sides[name], tickets))
                wall = time.perf_counter() - start
                cpu, db = meter.stop()
                for resp in responses:
                    expect(resp, 201, what="{} scan".format(name))
                a = acc[name]
                a["lat"] += [resp.elapsed for resp in responses]
                a["wall"] += wall
                a["cpu"] += cpu
                a["db"] += db
                a["n"] += len(responses)
        out = {}
        for name, a in acc.items():
            out[name] = {**latency_stats(a["lat"]), "scans_per_s": a["n"] / a["wall"],
                         "cpu_ms_per_scan": 1000 * a["cpu"] / a["n"], "db_cpu_ms_per_scan": 1000 * a["db"] / a["n"]}
        return out

    def measure_scans(self, pool):
        # warm both workers of both sides first (lazy imports, caches), on throwaway tickets
        for secret in pool.take(4 * self.node.workers):
            expect(self.desk_scan(secret), 201, what="warm-up desk scan")
        for secret in pool.take(4 * self.node.workers):
            expect(self.pretix_scan(secret), 201, what="warm-up pretix scan")
        self.results["scan"] = {
            "1": self.run_scans(pool, 1, self.args.scans_1, self.args.rounds),
            "8": self.run_scans(pool, 8, self.args.scans_8, self.args.rounds),
            "floor": self.measure_floor(self.args.scans_1),
        }

    def measure_floor(self, n):
        """What any authenticated API request costs here (the check-in list's detail, two
        queries past authentication): the part of a scan neither side can save."""
        url = self.desk.replace("desk/", "")
        meter = CpuMeter(self.stack, self.node)
        meter.start()
        start = time.perf_counter()
        responses = [expect(self.client.get(url, count_queries=True), 200, what="list detail") for _ in range(n)]
        wall = time.perf_counter() - start
        cpu, db = meter.stop()
        return {**latency_stats([r.elapsed for r in responses]), "requests_per_s": n / wall,
                "cpu_ms_per_request": 1000 * cpu / n, "db_cpu_ms_per_request": 1000 * db / n,
                "queries": responses[-1].queries}

    # -- b: queries

    def measure_queries(self, pool, addon_pairs):
        reps = self.args.query_reps
        q = {}

        def record(key, fn, status):
            values = []
            for i in range(reps):
                values.append(expect(fn(i), *status, what=key).queries)
            q[key] = values

        scans = pool.take(2 * reps)
        record("desk scan ok", lambda i: self.desk_scan(scans[i], count_queries=True), (201,))
        record("desk scan already used", lambda i: self.desk_scan(scans[i], count_queries=True), (400,))
        record("pretix redeem ok", lambda i: self.pretix_scan(scans[reps + i], count_queries=True), (201,))
        record("pretix redeem already used", lambda i: self.pretix_scan(scans[reps + i], count_queries=True), (400,))
        record("desk scan unknown", lambda i: self.desk_scan("unknown{}x".format(i), count_queries=True), (404,))
        record("pretix redeem unknown", lambda i: self.pretix_scan("unknown{}x".format(i), count_queries=True), (404,))
        looks = pool.take(reps)
        record("desk lookup", lambda i: self.client.get(
            self.desk + "lookup/{}/".format(quote(looks[i], safe="")), count_queries=True), (200,))
        record("pretix redeem simulate", lambda i: self.client.post(
            self.rpc + "redeem/", {"secret": looks[i], "lists": [self.list_id], "simulate": True},
            count_queries=True), (201,))
        record("desk redeem add-on", lambda i: self.client.post(
            self.desk + "redeem/", {"access_code": addon_pairs[i][0], "line_item_id": addon_pairs[i][1]},
            count_queries=True), (201,))
        record("pretix redeem on add-on list", lambda i: self.client.post(
            self.rpc + "redeem/", {"secret": addon_pairs[reps + i][0], "lists": [self.merch_id]},
            count_queries=True), (201,))
        record("desk search", lambda i: self.client.get(
            self.desk + "search/?q=B{:07d}".format(i + 1), count_queries=True), (200,))
        record("pretix checkinrpc/search", lambda i: self.client.get(
            self.rpc + "search/?list={}&search=B{:07d}".format(self.list_id, i + 1), count_queries=True), (200,))
        self.results["queries"] = q

    # -- c: preload

    def download_preload(self, client=None, query="", headers=None):
        resp = (client or self.client).get(self.desk + "preload/" + query, headers=headers)
        return resp

    def measure_preload(self, pool):
        n = self.args.attendees
        door = []
        for _ in range(2):
            resp = expect(self.download_preload(self.client_door), 200, what="preload, check-in only")
            door.append({"seconds": resp.elapsed, "bytes": len(resp.body),
                         "gzip_bytes": len(gzip.compress(resp.body, 6))})
        door = min(door, key=lambda r: r["seconds"])
        door.update(bytes_per_attendee=door["bytes"] / n, gzip_bytes_per_attendee=door["gzip_bytes"] / n)
        runs = []
        for _ in range(2):
            with MemoryMeter(self.node.worker_pids()) as mem:
                resp = expect(self.download_preload(), 200, what="preload")
            doc = resp.json()
            runs.append({"seconds": resp.elapsed, "bytes": len(resp.body), "gzip_bytes": len(gzip.compress(resp.body, 6)),
                         "count": doc["count"], **mem.result()})
        if doc["count"] != n:
            raise BenchmarkError("preload has {} records, expected {}".format(doc["count"], n))
        best = min(runs, key=lambda r: r["seconds"])
        desk = {**best, "runs": runs, "bytes_per_attendee": best["bytes"] / n,
                "gzip_bytes_per_attendee": best["gzip_bytes"] / n,
                "rss_peak_mb": max(r["rss_peak_mb"] for r in runs),
                "rss_growth_mb": max(r["rss_growth_mb"] for r in runs)}
        token, etag = doc["sync_token"], resp.headers.get("etag")

        pretix = self.download_pages()
        # what crosses the wire to a browser, which accepts gzip (desk/compression.py)
        wire = expect(self.download_preload(headers={"Accept-Encoding": "gzip, deflate, br"}), 200,
                      what="preload, compressed")
        if wire.headers.get("content-encoding") != "gzip":
            raise BenchmarkError("the preload was not compressed for a client that accepts gzip")
        desk.update(wire_seconds=wire.elapsed, wire_bytes=len(wire.body), wire_bytes_per_attendee=len(wire.body) / n)
        result = {"desk": desk, "desk_checkin_only": door, "pretix": pretix,
                  "speedup": pretix["seconds"] / desk["seconds"] if desk["seconds"] else None}

        # incremental sync after 100 scans
        changes = min(100, pool.left)
        for secret in pool.take(changes):
            expect(self.desk_scan(secret), 201, what="scan before sync")
        syncs = []
        for _ in range(3):
            resp = expect(self.download_preload(query="?since=" + quote(token, safe="")), 200, what="sync")
            syncs.append(resp)
        sync = min(syncs, key=lambda r: r.elapsed)
        sdoc = sync.json()
        result["sync"] = {"changes": changes, "seconds": sync.elapsed, "records": sdoc["count"],
                          "removed": len(sdoc.get("removed", [])), "bytes": len(sync.body),
                          "gzip_bytes": len(gzip.compress(sync.body, 6)), "runs_s": [r.elapsed for r in syncs]}
        if sdoc["count"] < changes:
            raise BenchmarkError("sync after {} scans returned {} records".format(changes, sdoc["count"]))
        # nothing changed since: 304, from either node
        token2, etag2 = sdoc["sync_token"], sync.headers.get("etag")
        unchanged = {}
        for name, client in (("a", self.client), ("b", self.client_b)):
            times = []
            for _ in range(self.args.query_reps * 4):
                resp = expect(self.download_preload(client, "?since=" + quote(token2, safe=""),
                                                    headers={"If-None-Match": etag2}), 304, what="unchanged sync")
                times.append(resp.elapsed)
            unchanged[name] = {"p50_ms": percentile([t * 1000 for t in times], 50),
                               "max_ms": max(times) * 1000, "n": len(times)}
        result["unchanged"] = unchanged
        result["full_etag_changed"] = etag != etag2
        self.results["preload"] = result

    def download_pages(self):
        url = self.positions + "?page_size=50"
        pages = size = gz = count = 0
        limit = self.args.pretix_pages
        start = time.perf_counter()
        with MemoryMeter(self.node.worker_pids()) as mem:
            while url and (not limit or pages < limit):
                resp = expect(self.client.get(url), 200, what="positions page")
                doc = resp.json()
                pages += 1
                size += len(resp.body)
                gz += len(gzip.compress(resp.body, 6))
                count += len(doc["results"])
                nxt = doc["next"]
                url = None if not nxt else urlsplit(nxt).path + "?" + urlsplit(nxt).query
        seconds = time.perf_counter() - start
        total = doc["count"]
        out = {"seconds": seconds, "pages": pages, "positions": count, "bytes": size, "gzip_bytes": gz,
               "bytes_per_position": size / count, "gzip_bytes_per_position": gz / count, **mem.result()}
        if count < total:
            factor = total / count
            out.update({"extrapolated_from_positions": count, "seconds": seconds * factor,
                        "bytes": int(size * factor), "gzip_bytes": int(gz * factor)})
        return out

    # -- d: orders

    def order_payload(self, ids, i):
        return {
            "email": "buyer{}@example.org".format(i), "locale": "en", "sales_channel": "web", "status": "p",
            "payment_provider": "manual", "send_email": False,
            "positions": [
                {"positionid": 1, "item": ids["ticket"], "price": "10.00", "attendee_name": "Buyer {}".format(i)},
                {"positionid": 2, "item": ids["shirt"], "price": "5.00", "addon_to": 1},
            ],
        }

    def measure_orders(self):
        o = self.ids["organizer"]
        configs = ("orders-none", "orders-bundled", "orders-desk")
        acc = {c: {"times": [], "queries": []} for c in configs}
        url = {c: "/api/v1/organizers/{}/events/{}/orders/".format(o, self.ids[c]["event"]) for c in configs}
        for i in range(2 * self.node.workers):  # warm-up
            for c in configs:
                expect(self.client.post(url[c], self.order_payload(self.ids[c], i)), 201, what="warm-up order " + c)
        for i in range(self.args.orders):
            order = configs if i % 2 == 0 else tuple(reversed(configs))
            for c in order:
                resp = expect(self.client.post(url[c], self.order_payload(self.ids[c], 1000 + i), count_queries=True),
                              201, what="order " + c)
                acc[c]["times"].append(resp.elapsed)
                acc[c]["queries"].append(resp.queries)
        out = {}
        for c in configs:
            out[c] = {**latency_stats(acc[c]["times"]), "queries": statistics.median(acc[c]["queries"]),
                      "queries_all": sorted(set(acc[c]["queries"]))}
        for c in configs:
            out[c]["ratio_p50"] = out[c]["p50_ms"] / out["orders-none"]["p50_ms"]
            out[c]["ratio_mean"] = out[c]["mean_ms"] / out["orders-none"]["mean_ms"]
            out[c]["extra_queries"] = out[c]["queries"] - out["orders-none"]["queries"]
        self.results["orders"] = out


# ---------------------------------------------------------------------- in-process parts


def checkins_per_order(ids):
    """Successful check-ins per order in each order benchmark event (the rules fired)."""
    from django_scopes import scopes_disabled
    from pretix.base.models import Checkin, Order

    out = {}
    with scopes_disabled():
        for c in ("orders-none", "orders-bundled", "orders-desk"):
            orders = Order.objects.filter(event__slug=ids[c]["event"], event__organizer__slug=ids["organizer"]).count()
            checkins = Checkin.objects.filter(list__event__slug=ids[c]["event"],
                                              list__event__organizer__slug=ids["organizer"]).count()
            out[c] = checkins / orders if orders else None
    return out


def addon_pairs(ids, secrets):
    from django_scopes import scopes_disabled
    from pretix.base.models import OrderPosition

    with scopes_disabled():
        rows = dict(OrderPosition.objects.filter(addon_to__secret__in=secrets, addon_to__order__event__slug=ids["attendees"]["event"])
                    .values_list("addon_to__secret", "pk"))
    return [(s, rows[s]) for s in secrets]


def profile_desk(bench, pool, out_dir, ids):
    """pyinstrument profiles of each measured operation, run in this process through
    Django's test client against the stack's database (same code, no gunicorn)."""
    from django.db import connection
    from django.test import Client as DjangoClient
    from django.test.utils import CaptureQueriesContext
    from pyinstrument import Profiler
    from pyinstrument.renderers import ConsoleRenderer

    out_dir.mkdir(parents=True, exist_ok=True)
    client = DjangoClient(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Token " + ids["token"])
    written = {}

    renderer = ConsoleRenderer(unicode=True, color=False, show_all=False,
                               processor_options={"show_regex": r".*/(pretix|pretix_desk)/.*"})

    def profile(name, fn, repeat):
        fn(0)  # warm this process up
        profiler = Profiler(interval=0.0002)
        profiler.start()
        for i in range(1, repeat + 1):
            fn(i)
        profiler.stop()
        # the statements of one more request, with their times
        with CaptureQueriesContext(connection) as ctx:
            fn(repeat + 1)
        path = out_dir / (name + ".txt")
        path.write_text("{} requests\n{}".format(repeat, profiler.output(renderer)))
        (out_dir / (name + ".sql.txt")).write_text("{} statements\n\n".format(len(ctx.captured_queries)) + "\n".join(
            "{:>7} ms  {}".format(q["time"] and "{:.1f}".format(float(q["time"]) * 1000),
                                  q["sql"][:400].replace(ids["token"], "<token>"))
            for q in ctx.captured_queries))
        written[name] = str(path)

    scans = pool.take(2 * 22)

    def post(url, body):
        return client.post(url, json.dumps(body), content_type="application/json")

    def check(resp, *ok):
        if resp.status_code not in ok:
            raise BenchmarkError("profile: HTTP {}: {}".format(resp.status_code, resp.content[:300]))
        return resp

    profile("desk-scan", lambda i: check(post(bench.desk + "scan/", {"access_code": scans[i]}), 201), 20)
    profile("pretix-redeem", lambda i: check(post(bench.rpc + "redeem/", {"secret": scans[22 + i],
                                                                          "lists": [bench.list_id]}), 201), 20)
    profile("desk-scan-already-used", lambda i: check(post(bench.desk + "scan/", {"access_code": scans[i]}), 400), 20)

    def preload(i):
        resp = check(client.get(bench.desk + "preload/"), 200)
        return b"".join(resp.streaming_content) if resp.streaming else resp.content

    profile("desk-preload", preload, 1)
    token = json.loads(preload(0))["sync_token"]
    for secret in pool.take(min(100, pool.left)):
        check(post(bench.desk + "scan/", {"access_code": secret}), 201)

    def since(i):
        resp = check(client.get(bench.desk + "preload/?since=" + quote(token, safe="")), 200)
        return b"".join(resp.streaming_content) if resp.streaming else resp.content

    profile("desk-sync-after-100-scans", since, 3)
    doc = json.loads(since(0))
    etag = check(client.get(bench.desk + "preload/?since=" + quote(doc["sync_token"], safe="")), 200)["ETag"]
    profile("desk-sync-unchanged-304", lambda i: check(client.get(
        bench.desk + "preload/?since=" + quote(doc["sync_token"], safe=""), HTTP_IF_NONE_MATCH=etag), 304), 20)
    for c in ("orders-none", "orders-desk", "orders-bundled"):
        url = "/api/v1/organizers/{}/events/{}/orders/".format(ids["organizer"], ids[c]["event"])
        profile("order-" + c.split("-")[1], lambda i, url=url, c=c: check(
            post(url, bench.order_payload(ids[c], 5000 + i)), 201), 10)
    return written


# ---------------------------------------------------------------------- report


def q_range(values):
    lo, hi = min(values), max(values)
    return str(lo) if lo == hi else "{}–{}".format(lo, hi)


def evaluate(results, n):
    """Each target of the issue: (key, value text, met?)."""
    s, q, p, o = results["scan"], results["queries"], results["preload"], results["orders"]
    r1 = s["1"]["desk"]["p50_ms"] / s["1"]["pretix"]["p50_ms"]
    r8 = s["8"]["desk"]["p50_ms"] / s["8"]["pretix"]["p50_ms"]
    rate8 = s["8"]["desk"]["scans_per_s"] / s["8"]["pretix"]["scans_per_s"]
    limit = 5.0 if n >= 100000 else n / 20000
    unchanged = max(p["unchanged"][k]["p50_ms"] for k in p["unchanged"])
    return [
        ("scan_p50_1", "{:.2f}×".format(r1), r1 <= 0.6),
        ("scan_p50_8", "{:.2f}×".format(r8), r8 <= 0.6),
        ("scan_rate_8", "{:.2f}×".format(rate8), rate8 >= 1.6),
        ("q_scan_ok", q_range(q["desk scan ok"]), max(q["desk scan ok"]) <= 10),
        ("q_scan_already", q_range(q["desk scan already used"]), max(q["desk scan already used"]) <= 8),
        ("q_scan_unknown", q_range(q["desk scan unknown"]), max(q["desk scan unknown"]) <= 6),
        ("preload_s", "{:.2f} s".format(p["desk"]["seconds"]), p["desk"]["seconds"] <= max(limit, 0.05)),
        ("preload_speedup", "{:.0f}×".format(p["speedup"]), p["speedup"] >= 400),
        ("preload_gzip", "{:.1f} B".format(p["desk"]["gzip_bytes_per_attendee"]), p["desk"]["gzip_bytes_per_attendee"] <= 60),
        ("sync_s", "{:.3f} s".format(p["sync"]["seconds"]), p["sync"]["seconds"] <= 0.1),
        ("sync_304_ms", "{:.1f} ms".format(unchanged), unchanged <= 20),
        ("order_ratio", "{:.2f}×".format(o["orders-desk"]["ratio_p50"]), o["orders-desk"]["ratio_p50"] <= 1.08),
        ("order_queries", "+{:g}".format(o["orders-desk"]["extra_queries"]), o["orders-desk"]["extra_queries"] <= 8),
    ]


def report(results, meta):
    lines = []
    w = lines.append
    n = meta["attendees"]
    w("pretix-desk benchmark: {} attendees (each with an add-on), pretix {}, PostgreSQL, gunicorn {}×sync workers, "
      "{} CPUs".format(n, meta["pretix"], meta["workers"], meta["cpus"]))
    w("")
    w("a) scans, fresh paid tickets, {} rounds alternating sides".format(meta["rounds"]))
    w("{:<10} {:<7} {:>5} {:>8} {:>8} {:>8} {:>9} {:>10} {:>9}".format(
        "clients", "side", "n", "p50 ms", "p95 ms", "p99 ms", "scans/s", "CPU ms/sc", "DB ms/sc"))
    for c in ("1", "8"):
        for side in ("desk", "pretix"):
            r = results["scan"][c][side]
            w("{:<10} {:<7} {:>5} {:>8.1f} {:>8.1f} {:>8.1f} {:>9.1f} {:>10.1f} {:>9.1f}".format(
                c, side, r["n"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["scans_per_s"], r["cpu_ms_per_scan"],
                r["db_cpu_ms_per_scan"]))
    f = results["scan"]["floor"]
    w("{:<10} {:<7} {:>5} {:>8.1f} {:>8.1f} {:>8.1f} {:>9.1f} {:>10.1f} {:>9.1f}".format(
        "1", "floor", f["n"], f["p50_ms"], f["p95_ms"], f["p99_ms"], f["requests_per_s"], f["cpu_ms_per_request"],
        f["db_cpu_ms_per_request"]))
    w("  floor: GET checkinlists/{{id}}/ ({} queries), what any authenticated API request costs".format(f["queries"]))
    w("")
    w("b) SQL statements per request (server-side count)")
    q = results["queries"]
    pairs = [("scan ok", "desk scan ok", "pretix redeem ok"),
             ("scan already used", "desk scan already used", "pretix redeem already used"),
             ("scan unknown", "desk scan unknown", "pretix redeem unknown"),
             ("lookup / simulate", "desk lookup", "pretix redeem simulate"),
             ("add-on hand-out", "desk redeem add-on", "pretix redeem on add-on list"),
             ("search", "desk search", "pretix checkinrpc/search")]
    w("{:<22} {:>8} {:>8}".format("", "desk", "pretix"))
    for label, d, p in pairs:
        w("{:<22} {:>8} {:>8}".format(label, q_range(q[d]), q_range(q[p])))
    w("")
    p = results["preload"]
    w("c) the whole list: desk/preload/ vs every page of checkinlists/{id}/positions/")
    w("{:<24} {:>9} {:>12} {:>10} {:>9} {:>10} {:>10}".format(
        "", "seconds", "bytes", "B/att.", "gzip B/a", "peak RSS", "RSS grow"))
    d, pr = p["desk"], p["pretix"]
    w("{:<24} {:>9.2f} {:>12} {:>10.1f} {:>9.1f} {:>8.1f}MB {:>8.1f}MB".format(
        "desk preload", d["seconds"], d["bytes"], d["bytes_per_attendee"], d["gzip_bytes_per_attendee"],
        d["rss_peak_mb"], d["rss_growth_mb"]))
    if "wire_bytes" in d:
        w("{:<24} {:>9.2f} {:>12} {:>10.1f}".format(
            "  (on the wire, gzip)", d["wire_seconds"], d["wire_bytes"], d["wire_bytes_per_attendee"]))
    dc = p["desk_checkin_only"]
    w("{:<24} {:>9.2f} {:>12} {:>10.1f} {:>9.1f}".format(
        "  (check-in only)", dc["seconds"], dc["bytes"], dc["bytes_per_attendee"], dc["gzip_bytes_per_attendee"]))
    w("{:<24} {:>9.2f} {:>12} {:>10.1f} {:>9.1f} {:>8.1f}MB {:>8.1f}MB".format(
        "pretix {} pages{}".format(pr["pages"], "*" if "extrapolated_from_positions" in pr else ""), pr["seconds"],
        pr["bytes"], pr["bytes_per_position"], pr["gzip_bytes_per_position"], pr["rss_peak_mb"], pr["rss_growth_mb"]))
    if "extrapolated_from_positions" in pr:
        w("  * extrapolated from {} positions".format(pr["extrapolated_from_positions"]))
    w("  desk is {:.0f}× faster".format(p["speedup"]))
    s = p["sync"]
    w("  sync after {} scans: {:.3f} s, {} records, {} B ({} B gzip)".format(
        s["changes"], s["seconds"], s["records"], s["bytes"], s["gzip_bytes"]))
    for name, u in p["unchanged"].items():
        w("  nothing changed, node {}: 304 in {:.1f} ms (p50 of {}), max {:.1f} ms".format(
            name, u["p50_ms"], u["n"], u["max_ms"]))
    w("")
    o = results["orders"]
    w("d) POST orders/ (ticket + add-on, paid), 5 auto check-in rules")
    w("{:<16} {:>5} {:>8} {:>8} {:>9} {:>9} {:>8} {:>10}".format(
        "", "n", "p50 ms", "mean ms", "× p50", "queries", "+queries", "check-ins"))
    for c, label in (("orders-none", "no plugin"), ("orders-bundled", "bundled plugin"), ("orders-desk", "pretix-desk")):
        r = o[c]
        w("{:<16} {:>5} {:>8.1f} {:>8.1f} {:>9.2f} {:>9g} {:>+8g} {:>10}".format(
            label, r["n"], r["p50_ms"], r["mean_ms"], r["ratio_p50"], r["queries"], r["extra_queries"],
            "{:.1f}/order".format(r["checkins_per_order"]) if r.get("checkins_per_order") is not None else "-"))
    w("")
    w("targets (issue 9)")
    for key, value, met in results["targets"]:
        w("  {:<16} {:>10}   target {:<38} {}".format(key, value, TARGETS_TEXT[key], "met" if met else "MISSED"))
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--attendees", type=int, default=20000, help="attendees to seed (default 20000)")
    parser.add_argument("--json", type=Path, help="write the results here (default: a file in $TMPDIR)")
    parser.add_argument("--scans-1", type=int, help="scans per side with 1 client (default: N/20, 12..400)")
    parser.add_argument("--scans-8", type=int, help="scans per side with 8 clients (default: N/10, 32..800)")
    parser.add_argument("--rounds", type=int, default=8, help="alternations per scan measurement (default 8)")
    parser.add_argument("--orders", type=int, default=30, help="measured orders per configuration (default 30)")
    parser.add_argument("--query-reps", type=int, default=3, help="requests per query count (default 3)")
    parser.add_argument("--pretix-pages", type=int, default=0,
                        help="stop pretix's paginated download after this many pages and extrapolate (0: all)")
    parser.add_argument("--profile-dir", type=Path, help="write pyinstrument profiles of the desk's side here")
    parser.add_argument("--keep", action="store_true", help="keep the stack's temporary directory (logs)")
    args = parser.parse_args(argv)
    n = args.attendees
    args.scans_1 = args.scans_1 or max(12, min(400, n // 20))
    args.scans_8 = args.scans_8 or max(32, min(800, n // 10))
    needed = (2 * (args.scans_1 + args.scans_8) + 16 * 2 + 4 * args.query_reps + 100
              + (144 if args.profile_dir else 0))
    if n < needed:
        parser.error("--attendees {} is too few for these settings: at least {}".format(n, needed))
    return args


def main(argv=None):
    args = parse_args(argv)
    load_before = os.getloadavg()
    # SIGTERM (CI's timeout, kill) unwinds like Ctrl-C, so the stack is torn down
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.time()
    stack = Stack(keep=args.keep)
    with stack:
        stack.configure_django()
        import pretix

        # the profiles' refused scans would each log a warning
        logging.getLogger("django.request").setLevel(logging.ERROR)

        from tests.stack.seed import secrets_of, seed
        t = time.monotonic()
        ids = seed(attendees=args.attendees)
        seeded = time.monotonic() - t
        print("[benchmark] seeded {} attendees in {:.1f} s".format(args.attendees, seeded), file=sys.stderr, flush=True)
        tickets = secrets_of(ids["attendees"]["event"])
        reps = args.query_reps
        pairs = addon_pairs(ids, tickets[-2 * reps:])
        pool = Pool(tickets[:-2 * reps])
        bench = Benchmark(stack, ids, args)
        # the preload first: its sync token must not see the scans of the other steps
        steps = [("preload", lambda: bench.measure_preload(pool)),
                 ("scans", lambda: bench.measure_scans(pool)),
                 ("queries", lambda: bench.measure_queries(pool, pairs)),
                 ("orders", bench.measure_orders)]
        for name, fn in steps:
            t = time.monotonic()
            fn()
            print("[benchmark] {} measured in {:.1f} s".format(name, time.monotonic() - t), file=sys.stderr, flush=True)
        for c, v in checkins_per_order(ids).items():
            bench.results["orders"][c]["checkins_per_order"] = v
        ci = bench.results["orders"]
        if not (ci["orders-desk"]["checkins_per_order"] and ci["orders-bundled"]["checkins_per_order"]):
            raise BenchmarkError("the auto check-in rules did not check anything in")
        if args.profile_dir:
            bench.results["profiles"] = profile_desk(bench, pool, args.profile_dir, ids)
        bench.results["targets"] = evaluate(bench.results, args.attendees)
        meta = {"attendees": args.attendees, "pretix": pretix.__version__, "workers": bench.node.workers,
                "cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
                "rounds": args.rounds, "seed_seconds": seeded,
                "stack_timings": stack.timings, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
                "args": {k: str(v) for k, v in vars(args).items()}}
    meta["total_seconds"] = time.time() - started
    table = report(bench.results, meta)
    print(table)
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-benchmark-{}.json".format(args.attendees)
    path.write_text(json.dumps({"meta": meta, "table": table, **bench.results}, indent=2, default=str))
    print("\nJSON: {}".format(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
