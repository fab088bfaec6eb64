"""Issue 19's door simulation: a hundred desks on one server, doing what the desk page does.

    python -m tests.stack.door_sim --desks 100 --attendees 20000 [--minutes 5] [--json PATH]

The benchmarks time one kind of request at a time; a door opening is all of them at once.
On the production stack of ``harness.py`` every desk is a thread behaving as the page does
(``sync.js``, ``queue.js``, ``report.js``): all open within ``--opening`` s and download
the list in full with gzip (offline-ready), then scan fresh tickets every 3-5 s, sync every
30 s with the sync token and ETag and report ``X-Desk-Status``. Mid-way a share of them
loses the network for ``--offline-seconds``, answers from its download and uploads the batch
when back. Beside them pretixSCAN-style clients (``checkinlists/{id}/positions/`` page by
page, ``checkinrpc/redeem``) and a shop placing orders. Prints latency per phase,
offline-ready, bytes per client-hour, the server's CPU per desk-minute, checks in pretix's
database that every scan is exactly one check-in (exit 1 if not) and writes JSON.
"""
import argparse
import http.client
import json
import os
import random
import secrets
import signal
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter, defaultdict, deque
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

from tests.stack.benchmark import (
    Benchmark, BenchmarkError, Client, Pool, Response, latency_stats, percentile,
)
from tests.stack.door_load import CpuMeter, SharedPool
from tests.stack.harness import Stack, cpu_seconds

PHASES = ("opening", "steady", "batch")
PHASE_NAMES = {"opening": "opening storm", "steady": "steady", "batch": "batch uploads"}
# the page's rhythm and time limits (sync.js, api.js, queue.js, report.js)
SYNC_SECONDS = 30
OFFLINE_RETRY_SECONDS = 8
SCAN_TIMEOUT = 5
PRELOAD_TIMEOUT = 120
UPLOAD_REPORT_MS = 10000
SCAN_WINDOW_MS = 5 * 60 * 1000
STATUS = "X-Desk-Status"
VERSION = "1.0.0+sim"
# pretixSCAN's side: its largest page, a new look every 5 minutes, an app's patience
PAGE_SIZE = 50
SCANNER_SYNC_SECONDS = 300
SCANNER_TIMEOUT = 30
NETWORK_ERRORS = (OSError, http.client.HTTPException)
HEAD_END = b',"attendees":['


def ms():
    return int(time.time() * 1000)


def iso_now():
    return datetime.now(timezone.utc).isoformat()


class TimedClient(Client):
    """``benchmark.Client`` with a time limit per request, as the page and the app give up."""

    def request(self, method, path, body=None, headers=None, timeout=600):
        hdrs = {"Authorization": "Token " + self.token, "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        start = time.perf_counter()
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            response = conn.getresponse()
            payload = response.read()
        finally:
            conn.close()
        return Response(response.status, {k.lower(): v for k, v in response.getheaders()}, payload,
                        time.perf_counter() - start)


def sent_bytes(body):
    return len(json.dumps(body).encode()) if body is not None else 0


def plain(resp):
    if resp.headers.get("content-encoding") == "gzip":
        return zlib.decompress(resp.body, 31)
    return resp.body


def preload_head(resp):
    """The head of a (gzip) preload: what precedes the records, decompressed only so far."""
    body, text = resp.body, b""
    if resp.headers.get("content-encoding") == "gzip":
        decoder = zlib.decompressobj(31)
        for i in range(0, len(body), 16384):
            text += decoder.decompress(body[i:i + 16384])
            if HEAD_END in text:
                break
    else:
        text = body
    head, found, _ = text.partition(HEAD_END)
    if not found:
        raise BenchmarkError("a preload without its head: {!r}".format(text[:200]))
    return json.loads(head + b"}")


def scan_stats(values, limit):
    """Latency percentiles of scans, those the client gave up on (``None``, after ``limit``
    seconds) counted as longer than any: such a percentile reads "> limit"."""
    ordered = sorted(float("inf") if v is None else v for v in values)
    out = {"n": len(values), "no_answer": sum(v is None for v in values), "limit_s": limit}
    for p in (50, 95, 99):
        v = percentile(ordered, p)
        out["p{}_ms".format(p)] = None if v is None else (v * 1000 if v != float("inf") else "> {:g} s".format(limit))
    return out


def judge(verification, made):
    """The database's answer for each scan, by what its client knew of it: ``lost`` are those
    pretix acknowledged (answered or uploaded) that are not a check-in."""
    v = verification
    for key in ("missing", "duplicate", "wrong_position"):
        v[key + "_by_state"] = dict(Counter(made[n][2] for n in v[key]))
        v[key + "_count"] = len(v[key])
        v[key] = v[key][:50]
    v["lost"] = sum(n for state, n in v["missing_by_state"].items() if state in ("answered", "uploaded"))
    queued = [n for n, (_, _, state) in made.items() if state == "queued"]
    v["still_queued"] = len(queued)
    v["still_queued_missing"] = v["missing_by_state"].get("queued", 0)
    v["by_state"] = dict(Counter(state for _, _, state in made.values()))
    return v


def overlap(a0, a1, b0, b1):
    return max(0.0, min(a1, b1) - max(a0, b0))


class Meter(CpuMeter):
    """door_load's meter (gunicorn workers, PostgreSQL backends, this process, the machine),
    with Celery's worker besides (the shop's orders and what they set off)."""

    def start(self):
        self.celery = self.stack.celery_pids()
        self.c0 = cpu_seconds(self.celery)
        super().start()

    def stop(self):
        out = super().stop()
        wall = time.monotonic() - self.t0
        out["celery_cpu_cores"] = (cpu_seconds(self.celery) - self.c0) / wall
        out["seconds"] = wall
        return out


class Sim:
    """What every client shares: URLs, the tickets, the phase, the stop, the records."""

    def __init__(self, stack, ids, args, pool):
        self.stack, self.args, self.ids, self.pool = stack, args, ids, pool
        o, ev = ids["organizer"], ids["attendees"]
        self.event, self.list_id, self.token = ev, ev["main"], ids["token"]
        self.desk_url = "/api/v1/organizers/{}/events/{}/checkinlists/{}/desk/".format(o, ev["event"], ev["main"])
        self.rpc_url = "/api/v1/organizers/{}/checkinrpc/redeem/".format(o)
        self.positions_url = "/api/v1/organizers/{}/events/{}/checkinlists/{}/positions/".format(
            o, ev["event"], ev["main"])
        self.orders_url = "/api/v1/organizers/{}/events/{}/orders/".format(o, ev["event"])
        self.nodes = [node.url for node in stack.nodes.values()]
        self.phase = "opening"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.made = {}  # nonce -> [secret, how, state]: every scan made, for the check in the database
        self.scans = []  # (client, phase, seconds or None: no answer in time)
        self.uploads = []  # (phase, seconds, recorded)
        self.syncs = []  # (kind, phase, seconds, bytes)
        self.ready = []  # (seconds, bytes, attempts, etag): the desks' first full downloads
        self.downloads = []  # the scanners' full downloads
        self.orders = []  # (phase, seconds)
        self.batches = []  # (seconds, items): an offline desk back, its queue uploaded and resynced
        self.traffic = defaultdict(lambda: [0, 0, 0])  # (client, what) -> [received, sent, requests]
        self.errors = []
        self.counts = Counter()
        self.batch_left = 0
        self.batch_over = threading.Event()

    def record(self, name, item):
        with self.lock:
            getattr(self, name).append(item)

    def count(self, client, what, resp, body=None):
        with self.lock:
            t = self.traffic[(client, what)]
            t[0] += len(resp.body) if resp is not None else 0
            t[1] += sent_bytes(body)
            t[2] += 1

    def note(self, key, n=1):
        with self.lock:
            self.counts[key] += n

    def error(self, text):
        with self.lock:
            self.errors.append(text[:500])

    def made_scan(self, nonce, secret, how, state="sent"):
        with self.lock:
            self.made[nonce] = [secret, how, state]

    def scan_state(self, nonce, state):
        """sent, answered (pretix answered the scan), queued (kept on the client for upload),
        uploaded, refused (pretix answered with a refusal)."""
        with self.lock:
            self.made[nonce][2] = state

    def batch_done(self, seconds, items):
        with self.lock:
            self.batches.append((seconds, items))
            self.batch_left -= 1
            if self.batch_left <= 0:
                self.batch_over.set()


class Desk:
    """One desk page: its download, its scans, its queue, its reports."""

    def __init__(self, sim, index, opens_at):
        self.sim, self.index, self.opens_at = sim, index, opens_at
        self.client = TimedClient(sim.nodes[index % len(sim.nodes)], sim.token)
        self.rng = random.Random(index)
        self.id = "{:024x}".format(self.rng.getrandbits(96))
        self.lock = threading.Lock()
        self.queue = deque()  # (nonce, secret, body) in order
        self.recent = deque()  # times of the scans of the last five minutes
        self.online = True
        self.returning = False
        self.wake = threading.Event()
        self.ready = threading.Event()
        self.token = self.etag = None
        self.opened = self.closed = None
        self.seq = 0
        self.parked = 0
        self.since = self.off = self.on = self.last_sync = None
        self.last_upload_report = 0

    # -- X-Desk-Status (report.js)

    def status(self, kind):
        at = ms()
        with self.lock:
            if kind == "upload":
                if at - self.last_upload_report < UPLOAD_REPORT_MS:
                    return None
                self.last_upload_report = at
            while self.recent and self.recent[0] < at - SCAN_WINDOW_MS:
                self.recent.popleft()
            fields = {"id": self.id, "v": VERSION, "st": "syncing" if kind == "upload" or self.queue else "online",
                      "now": at, "since": self.since or at, "q": len(self.queue), "p": self.parked, "f": 0,
                      "s5": len(self.recent)}
        for key, value in (("sync", self.last_sync), ("off", self.off), ("on", self.on)):
            if value:
                fields[key] = value
        return urlencode(fields)

    # -- the page's life

    def run(self):
        sim = self.sim
        sim.stop.wait(max(0.0, self.opens_at - time.monotonic()))
        if sim.stop.is_set():
            return
        self.opened = time.monotonic()
        self.since = ms()
        attempts = 0
        while not sim.stop.is_set():
            attempts += 1
            resp = self.download("first download")
            if resp is not None:
                sim.record("ready", (time.monotonic() - self.opened, len(resp.body), attempts, self.etag))
                break
            sim.stop.wait(OFFLINE_RETRY_SECONDS)
        else:
            return
        self.ready.set()
        scanning = threading.Thread(target=self.scan_loop, daemon=True)
        scanning.start()
        while True:
            self.wake.wait(SYNC_SECONDS)  # sync.js: the next round 30 s after the last one
            self.wake.clear()
            if sim.stop.is_set():
                break
            if self.online:
                self.round()
        scanning.join()
        # the page stays open until its queue is uploaded: a round every 8 s while it fails
        deadline = time.monotonic() + sim.args.drain_seconds
        while not self.flush() and time.monotonic() < deadline:
            time.sleep(OFFLINE_RETRY_SECONDS)
        with self.lock:
            left = len(self.queue)
        if left:
            sim.note("desk scans still queued when the simulation ended", left)
        self.closed = time.monotonic()

    def round(self):
        """sync.js: upload the queue, then bring the download up to date."""
        back, self.returning = self.returning, False
        start = time.monotonic()
        with self.lock:
            items = len(self.queue)
        self.flush()
        self.sync()
        if back:
            self.sim.batch_done(time.monotonic() - start, items)

    def download(self, kind):
        """A full download, compressed (every browser accepts gzip); None if it failed."""
        sim = self.sim
        headers = {"Accept-Encoding": "gzip", STATUS: self.status("download")}
        phase = sim.phase
        try:
            resp = self.client.request("GET", sim.desk_url + "preload/", headers=headers, timeout=PRELOAD_TIMEOUT)
        except NETWORK_ERRORS as e:
            sim.error("desk {} {}: {!r}".format(self.index, kind, e))
            return None
        sim.count("desk", kind, resp)
        if resp.status != 200:
            sim.error("desk {} {}: HTTP {} {}".format(self.index, kind, resp.status, resp.body[:200]))
            return None
        head = preload_head(resp)
        self.token, self.etag, self.last_sync = head["sync_token"], resp.headers.get("etag"), ms()
        sim.record("syncs", (kind, phase, resp.elapsed, len(resp.body)))
        return resp

    def sync(self):
        sim = self.sim
        headers = {"Accept-Encoding": "gzip", STATUS: self.status("download")}
        if self.etag:
            headers["If-None-Match"] = self.etag
        phase = sim.phase
        try:
            resp = self.client.request("GET", sim.desk_url + "preload/?since=" + quote(self.token, safe=""),
                                       headers=headers, timeout=PRELOAD_TIMEOUT)
        except NETWORK_ERRORS as e:
            sim.note("desk syncs failed")
            sim.error("desk {} sync: {!r}".format(self.index, e))
            return
        sim.count("desk", "sync", resp)
        if resp.status == 304:
            self.last_sync = ms()
            sim.record("syncs", ("304", phase, resp.elapsed, len(resp.body)))
        elif resp.status == 200:
            head = preload_head(resp)
            self.token, self.etag, self.last_sync = head["sync_token"], resp.headers.get("etag"), ms()
            sim.record("syncs", ("200", phase, resp.elapsed, len(resp.body)))
        elif 400 <= resp.status < 500 and resp.status not in (401, 403, 429):
            sim.note("desk sync tokens refused: {}".format(resp.body[:120].decode(errors="replace")))
            self.download("full again")  # the token is no longer accepted: start over
        else:
            sim.note("desk syncs failed")
            sim.error("desk {} sync: HTTP {} {}".format(self.index, resp.status, resp.body[:200]))

    def enqueue(self, nonce, secret):
        """The page answers from its download and keeps the scan for upload (queue.js)."""
        body = {"access_code": secret, "nonce": nonce, "datetime": iso_now(),
                "offline": {"answer": "ok", "sync_token": self.token}}
        with self.lock:
            self.queue.append((nonce, secret, body))
        self.sim.scan_state(nonce, "queued")

    def flush(self):
        """queue.js: upload the queue in order, one at a time; True when it is empty."""
        sim = self.sim
        while True:
            with self.lock:
                if not self.queue:
                    return True
                nonce, secret, body = self.queue[0]
            headers = {}
            status = self.status("upload")
            if status:
                headers[STATUS] = status
            phase = sim.phase
            try:
                resp = self.client.request("POST", sim.desk_url + "scan/", body=body, headers=headers,
                                           timeout=SCAN_TIMEOUT)
            except NETWORK_ERRORS:
                sim.note("desk uploads failed")
                return False
            sim.count("desk", "upload", resp, body)
            if resp.status >= 500 or resp.status in (401, 403, 429):
                sim.note("desk uploads failed")
                return False
            data = resp.json() if resp.body else {}
            offline = data.get("offline") if isinstance(data, dict) else None
            recorded = offline.get("recorded") if isinstance(offline, dict) else None
            if resp.status in (200, 201) or recorded:
                sim.scan_state(nonce, "uploaded")
                sim.record("uploads", (phase, resp.elapsed, recorded or "online answer"))
                if offline and offline.get("conflict"):
                    sim.note("desk uploads with a conflict")
            else:
                with self.lock:
                    self.parked += 1
                sim.scan_state(nonce, "refused")
                sim.error("desk {} upload refused: HTTP {} {}".format(self.index, resp.status, resp.body[:200]))
            with self.lock:
                self.queue.popleft()

    def scan_loop(self):
        sim, (low, high) = self.sim, self.sim.args.pace
        due = time.monotonic() + self.rng.uniform(0, low)
        while True:
            sim.stop.wait(max(0.0, due - time.monotonic()))
            if sim.stop.is_set():
                return
            secret = sim.pool.next()
            if secret is None:
                sim.note("clients out of tickets")
                return
            self.seq += 1
            nonce = "desk{}-{}-{}".format(self.index, self.seq, secrets.token_hex(4))
            with self.lock:
                self.recent.append(ms())
            if not self.online:
                sim.made_scan(nonce, secret, "desk offline")
                self.enqueue(nonce, secret)
                sim.note("desk scans queued offline")
            else:
                sim.made_scan(nonce, secret, "desk online")
                self.scan(nonce, secret)
            # a person scans the next one: no catching up in a burst after a slow answer
            due = max(due + self.rng.uniform(low, high), time.monotonic())

    def scan(self, nonce, secret):
        sim = self.sim
        body = {"access_code": secret, "nonce": nonce}
        phase = sim.phase
        try:
            resp = self.client.request("POST", sim.desk_url + "scan/", body=body, timeout=SCAN_TIMEOUT)
        except NETWORK_ERRORS:
            resp = None
        if resp is not None:
            sim.count("desk", "scan", resp, body)
        if resp is None or resp.status >= 500:
            # no answer within 5 s: the page answers from its download and queues the scan
            sim.note("desk scans answered offline after no answer in {} s".format(SCAN_TIMEOUT))
            sim.record("scans", ("desk", phase, None))
            self.enqueue(nonce, secret)
        elif resp.status == 201:
            sim.scan_state(nonce, "answered")
            sim.record("scans", ("desk", phase, resp.elapsed))
        else:
            sim.scan_state(nonce, "refused")
            sim.error("desk {} scan: HTTP {} {}".format(self.index, resp.status, resp.body[:200]))

    def go_offline(self):
        self.online = False
        self.off = self.since = ms()
        self.on = None

    def come_back(self):
        self.on = self.since = ms()
        self.returning = True
        self.online = True
        self.wake.set()  # sync.js: a round at once when the network is back


class Scanner:
    """A pretixSCAN-style client: the list page by page in the background (then what changed,
    every 5 minutes), each scan through ``checkinrpc/redeem`` with a nonce."""

    def __init__(self, sim, index, starts_at):
        self.sim, self.index, self.starts_at = sim, index, starts_at
        self.client = TimedClient(sim.nodes[(index + 1) % len(sim.nodes)], sim.token)
        self.rng = random.Random(100000 + index)
        self.queue = deque()
        self.started = self.closed = None

    def run(self):
        sim = self.sim
        sim.stop.wait(max(0.0, self.starts_at - time.monotonic()))
        if sim.stop.is_set():
            return
        self.started = time.monotonic()
        downloading = threading.Thread(target=self.download_loop, daemon=True)
        downloading.start()
        low, high = sim.args.pace
        due = time.monotonic() + self.rng.uniform(0, low)
        seq = 0
        while True:
            sim.stop.wait(max(0.0, due - time.monotonic()))
            if sim.stop.is_set():
                break
            self.upload()
            secret = sim.pool.next()
            if secret is None:
                sim.note("clients out of tickets")
                break
            seq += 1
            nonce = "scan{}-{}-{}".format(self.index, seq, secrets.token_hex(4))
            sim.made_scan(nonce, secret, "pretixSCAN")
            body = {"secret": secret, "lists": [sim.list_id], "nonce": nonce, "type": "entry"}
            phase = sim.phase
            if not self.redeem(body, phase):
                # offline in the app: kept and uploaded with its time, as pretixSCAN does
                sim.record("scans", ("pretixSCAN", phase, None))
                self.queue.append({**body, "datetime": iso_now()})
                sim.scan_state(nonce, "queued")
                sim.note("pretixSCAN scans queued after no answer in {} s".format(SCANNER_TIMEOUT))
            due = max(due + self.rng.uniform(low, high), time.monotonic())
        downloading.join()
        deadline = time.monotonic() + sim.args.drain_seconds
        while not self.upload() and time.monotonic() < deadline:
            time.sleep(OFFLINE_RETRY_SECONDS)
        if self.queue:
            sim.note("pretixSCAN scans still queued when the simulation ended", len(self.queue))
        self.closed = time.monotonic()

    def redeem(self, body, phase, what="redeem"):
        """True once pretix answered (an unexpected answer is an error, not a retry)."""
        sim = self.sim
        try:
            resp = self.client.request("POST", sim.rpc_url, body=body, timeout=SCANNER_TIMEOUT)
        except NETWORK_ERRORS:
            return False
        sim.count("pretixSCAN", what, resp, body)
        if resp.status >= 500:
            return False
        if resp.status == 201 and resp.json().get("status") == "ok":
            sim.scan_state(body["nonce"], "answered" if what == "redeem" else "uploaded")
            if what == "redeem":
                sim.record("scans", ("pretixSCAN", phase, resp.elapsed))
        else:
            sim.scan_state(body["nonce"], "refused")
            sim.error("pretixSCAN {} {}: HTTP {} {}".format(self.index, what, resp.status, resp.body[:200]))
        return True

    def upload(self):
        while self.queue:
            if not self.redeem(self.queue[0], self.sim.phase, "upload"):
                return False
            self.queue.popleft()
        return True

    def pages(self, url, what):
        """Every page from ``url`` on, one after the other; (pages, bytes, complete)."""
        sim, pages, size = self.sim, 0, 0
        while url and not sim.stop.is_set():
            try:
                resp = self.client.request("GET", url, headers={"Accept-Encoding": "gzip"}, timeout=PRELOAD_TIMEOUT)
            except NETWORK_ERRORS as e:
                sim.error("pretixSCAN {} {}: {!r}".format(self.index, what, e))
                sim.stop.wait(OFFLINE_RETRY_SECONDS)
                continue
            sim.count("pretixSCAN", what, resp)
            if resp.status != 200:
                sim.error("pretixSCAN {} {}: HTTP {}".format(self.index, what, resp.status))
                sim.stop.wait(OFFLINE_RETRY_SECONDS)
                continue
            pages += 1
            size += len(resp.body)
            nxt = json.loads(plain(resp))["next"]
            url = None if not nxt else urlsplit(nxt).path + "?" + urlsplit(nxt).query
        return pages, size, url is None

    def download_loop(self):
        sim = self.sim
        start, since = time.monotonic(), iso_now()
        pages, size, complete = self.pages("{}?page_size={}".format(sim.positions_url, PAGE_SIZE), "first download")
        sim.record("downloads", {"seconds": time.monotonic() - start, "pages": pages, "bytes": size,
                                 "complete": complete})
        while not sim.stop.wait(SCANNER_SYNC_SECONDS):
            # pretix's check-in list positions take no modified_since; its orders do
            url = "{}?page_size={}&modified_since={}".format(sim.orders_url, PAGE_SIZE, quote(since, safe=""))
            since = iso_now()
            self.pages(url, "incremental")


def shop(sim):
    """Orders through pretix's order API at a steady rate (benchmark.py's order)."""
    clients = [TimedClient(url, sim.token) for url in sim.nodes]
    i, due = 0, time.monotonic()
    while not sim.stop.wait(max(0.0, due - time.monotonic())):
        payload = Benchmark.order_payload(None, sim.event, 100000 + i)  # uses nothing of the instance
        phase = sim.phase
        try:
            resp = clients[i % len(clients)].request("POST", sim.orders_url, body=payload)
        except NETWORK_ERRORS as e:
            sim.error("shop: {!r}".format(e))
        else:
            sim.count("shop", "order", resp, payload)
            if resp.status == 201:
                sim.record("orders", (phase, resp.elapsed))
            else:
                sim.error("shop: HTTP {} {}".format(resp.status, resp.body[:200]))
        i += 1
        due = max(due + sim.args.order_every, time.monotonic())


def warm(sim, tickets):
    """Every gunicorn worker imports and caches before the doors open (scans with nonces,
    checked like all others)."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = []
    for url in sim.nodes:
        client = TimedClient(url, sim.token)
        for i, secret in enumerate(tickets.take(4 * sim.stack.workers)):
            nonce = "warm-{}".format(secrets.token_hex(6))
            sim.made_scan(nonce, secret, "warm-up", "answered")
            if i % 2:
                jobs.append((client, sim.rpc_url, {"secret": secret, "lists": [sim.list_id], "nonce": nonce}))
            else:
                jobs.append((client, sim.desk_url + "scan/", {"access_code": secret, "nonce": nonce}))

    def post(job):
        client, url, body = job
        resp = client.request("POST", url, body=body)
        if resp.status != 201:
            raise BenchmarkError("warm-up scan: HTTP {} {}".format(resp.status, resp.body[:300]))

    with ThreadPoolExecutor(4) as ex:
        list(ex.map(post, jobs))


def run(sim):
    """The doors open, the day goes on, some desks drop off the network and come back."""
    args = sim.args
    t0 = time.monotonic()
    desks = [Desk(sim, i, t0 + i * args.opening / args.desks) for i in range(args.desks)]
    scanners = [Scanner(sim, j, t0 + (j + 0.5) * args.opening / args.scanners) for j in range(args.scanners)]
    k = max(1, round(args.desks * args.offline_share)) if args.offline_share > 0 else 0
    offline = random.Random(19).sample(desks, k)
    sim.batch_left = k
    if not k:
        sim.batch_over.set()
    threads = [threading.Thread(target=c.run, daemon=True) for c in desks + scanners]
    if args.order_every > 0:
        threads.append(threading.Thread(target=shop, args=(sim,), daemon=True))
    meter = Meter(sim.stack)
    segments = []
    marks = {"start": t0}

    def switch(phase):
        segments.append({"phase": sim.phase, "start": segments[-1]["end"] if segments else t0,
                         "end": time.monotonic(), **meter.stop()})
        if phase:
            meter.start()
        sim.phase = phase or "end"

    def say(text):
        print("[door-sim] {:6.1f} s  {}".format(time.monotonic() - t0, text), file=sys.stderr, flush=True)

    meter.start()
    for t in threads:
        t.start()
    try:
        deadline = t0 + args.opening + args.ready_timeout
        for d in desks:
            if not d.ready.wait(max(0.0, deadline - time.monotonic())):
                raise BenchmarkError("desk {} not offline-ready {:g} s after the opening".format(
                    d.index, args.ready_timeout))
        say("every desk offline-ready")
        sim.stop.wait(max(0.0, t0 + args.opening - time.monotonic()))
        switch("steady")
        steady_start = marks["steady"] = time.monotonic()
        length = args.minutes * 60
        t_off = steady_start + (length - args.offline_seconds) / 2
        t_end = steady_start + length
        if k:
            time.sleep(max(0.0, t_off - time.monotonic()))
            for d in offline:
                d.go_offline()
            marks["offline"] = time.monotonic()
            say("{} desks offline".format(k))
            time.sleep(max(0.0, t_off + args.offline_seconds - time.monotonic()))
            switch("batch")
            marks["back"] = time.monotonic()
            for d in offline:
                d.come_back()
            say("{} desks back, uploading".format(k))
            if sim.batch_over.wait(max(0.0, t_end - time.monotonic())):
                marks["batch_over"] = time.monotonic()
                say("batches uploaded")
                switch("steady")
        time.sleep(max(0.0, t_end - time.monotonic()))
        marks["end"] = time.monotonic()
        say("stopping")
    finally:
        switch(None)
        sim.stop.set()
        for d in desks:
            d.wake.set()
        for t in threads:
            t.join()
        meter.conn.close()
    say("every client done")
    return desks, scanners, offline, segments, marks


# ---------------------------------------------------------------------- in pretix's database


def seal(organizer, event):
    """Every code's sealing master, as the background derivation leaves them before the
    doors open (``seed(seal=True)``, timed on its own)."""
    from pretix.base.models import Event

    from pretix_desk.desk.sealing import derive_missing

    return derive_missing(Event.objects.get(organizer__slug=organizer, slug=event))


def verify(list_id, made):
    """Whether each scan made (``[[nonce, secret], ...]``) is exactly one successful check-in
    on the list: by its nonce, or, where the nonce was not kept, by its position; and whether
    the list has any successful check-in besides."""
    from pretix.base.models import Checkin, CheckinList

    from pretix_desk.desk import sealing
    from pretix_desk.models import DeskReport

    rows = list(Checkin.all.filter(list_id=list_id).values_list("nonce", "successful", "position__secret", "forced"))
    ok_by_nonce = defaultdict(list)
    ok_by_secret = Counter()
    failed = forced = 0
    for nonce, successful, secret, was_forced in rows:
        if successful:
            ok_by_nonce[nonce].append(secret)
            ok_by_secret[secret] += 1
            forced += bool(was_forced)
        else:
            failed += 1
    out = {"scans": len(made), "once": 0, "by_position": 0, "missing": [], "duplicate": [], "wrong_position": []}
    for nonce, secret in made:
        hits = ok_by_nonce.get(nonce, [])
        if len(hits) == 1 and hits[0] == secret and ok_by_secret[secret] == 1:
            out["once"] += 1
        elif not hits and ok_by_secret[secret] == 1:
            out["by_position"] += 1
        elif not hits and not ok_by_secret[secret]:
            out["missing"].append(nonce)
        elif any(h != secret for h in hits):
            out["wrong_position"].append(nonce)
        else:
            out["duplicate"].append(nonce)
    mine = {secret for _, secret in made}
    out["other_checkins"] = sum(n for secret, n in ok_by_secret.items() if secret not in mine)
    out["failed_checkins"] = failed
    out["forced_checkins"] = forced
    out["successful_checkins"] = sum(ok_by_secret.values())
    # bumped whenever Celery derived masters a download had to leave out: every sync token then is refused
    out["seal_generation"] = sealing.generation(CheckinList.objects.get(pk=list_id).event)
    out["desk_reports"] = dict(Counter(DeskReport.objects.filter(checkin_list_id=list_id).values_list("state", flat=True)))
    out["exactly_once"] = (out["once"] + out["by_position"] == len(made) and not out["other_checkins"])
    return out


# ---------------------------------------------------------------------- report


def summarize(sim, desks, scanners, offline, segments, marks):
    end = marks["end"]
    out = {"phases": {}, "marks": {k: v - marks["start"] for k, v in marks.items()}}
    for phase in PHASES:
        segs = [s for s in segments if s["phase"] == phase]
        seconds = sum(s["seconds"] for s in segs)
        entry = {"seconds": seconds}
        for client, limit in (("desk", SCAN_TIMEOUT), ("pretixSCAN", SCANNER_TIMEOUT)):
            entry[client] = scan_stats([s for c, p, s in sim.scans if c == client and p == phase], limit)
        entry["uploads"] = latency_stats([s for p, s, _ in sim.uploads if p == phase])
        entry["syncs"] = {kind: latency_stats([s for k, p, s, _ in sim.syncs if k == kind and p == phase])
                          for kind in ("304", "200", "full again")}
        entry["orders"] = latency_stats([s for p, s in sim.orders if p == phase])
        if seconds:
            for key in ("gunicorn_cpu_cores", "db_cpu_cores", "celery_cpu_cores", "driver_cpu_cores",
                        "machine_busy_cores"):
                entry[key] = sum(s[key] * s["seconds"] for s in segs) / seconds
            server = sum((s["gunicorn_cpu_cores"] + s["db_cpu_cores"]) * s["seconds"] for s in segs)
            desk_minutes = sum(overlap(d.opened or end, end, s["start"], s["end"]) for d in desks for s in segs) / 60
            entry["server_cpu_seconds"] = server
            entry["desk_minutes"] = desk_minutes
            entry["server_cpu_s_per_desk_minute"] = server / desk_minutes if desk_minutes else None
        out["phases"][phase] = entry
    out["uploads"] = {**latency_stats([s for _, s, _ in sim.uploads]),
                      "recorded": dict(Counter(r for _, _, r in sim.uploads))}
    out["batches"] = {"desks": len(offline), "done": len(sim.batches),
                      "items": sum(n for _, n in sim.batches),
                      "p50_s": percentile([s for s, _ in sim.batches], 50),
                      "max_s": max((s for s, _ in sim.batches), default=None)}
    ready = [r[0] for r in sim.ready]
    out["offline_ready"] = {"n": len(ready), "p50_s": percentile(ready, 50), "p95_s": percentile(ready, 95),
                            "max_s": max(ready, default=None),
                            "bytes_p50": percentile([r[1] for r in sim.ready], 50),
                            "retried": sum(1 for r in sim.ready if r[2] > 1),
                            # the same ETag is rendered once and shared (shared_preload.py)
                            "distinct_etags": len({r[3] for r in sim.ready})}
    done = [d["seconds"] for d in sim.downloads if d["complete"]]
    out["scanner_download"] = {"n": len(sim.downloads), "complete": len(done), "p50_s": percentile(done, 50),
                               "p95_s": percentile(done, 95), "max_s": max(done, default=None),
                               "pages": sum(d["pages"] for d in sim.downloads),
                               "bytes_p50": percentile([d["bytes"] for d in sim.downloads if d["complete"]], 50)}
    hours = {"desk": sum(end - d.opened for d in desks if d.opened) / 3600,
             "pretixSCAN": sum(end - s.started for s in scanners if s.started) / 3600}
    traffic = {}
    for client in ("desk", "pretixSCAN"):
        rows = {what: dict(zip(("received", "sent", "requests"), v)) for (c, what), v in sim.traffic.items()
                if c == client}
        received = sum(r["received"] for r in rows.values())
        sent = sum(r["sent"] for r in rows.values())
        first = rows.get("first download", {}).get("received", 0)
        h = hours[client]
        traffic[client] = {"hours": h, "by_kind": rows, "received": received, "sent": sent,
                           "received_per_hour": received / h if h else None,
                           "sent_per_hour": sent / h if h else None,
                           "after_first_download_per_hour": (received - first) / h if h else None}
    out["traffic"] = traffic
    return out


def mb(value):
    return "-" if value is None else "{:.2f} MB".format(value / 1e6)


def fmt(value, spec="{:.0f}"):
    if isinstance(value, str):
        return value
    return "-" if value is None else spec.format(value)


def report(result):
    m, s, v = result["meta"], result["summary"], result["verification"]
    lines = []
    w = lines.append
    w("door simulation (issue 19): {} desks, {} pretixSCAN-style clients, {} attendees, {}; "
      "opening {:g} s, steady {:g} min, {} desks offline for {:g} s; pretix {}, {} nodes x {} workers, {} CPUs{}".format(
          m["desks"], m["scanners"], m["attendees"],
          "an order every {:g} s".format(m["order_every"]) if m["order_every"] > 0 else "no shop", m["opening"], m["minutes"],
          m["offline_desks"], m["offline_seconds"], m["pretix"], m["nodes"], m["workers"], m["cpus"],
          "" if m["sealed"] else ", codes not sealed beforehand"))
    w("phases (s from the first desk opening): steady from {:.0f}, offline {}, back {}, batches over {}, end {:.0f}".format(
        s["marks"]["steady"], fmt(s["marks"].get("offline")), fmt(s["marks"].get("back")),
        fmt(s["marks"].get("batch_over")), s["marks"]["end"]))
    w("")
    row = "{:<16} {:>6} {:>6} {:>7} {:>7} {:>7}   {:>6} {:>6} {:>7} {:>7} {:>7}"
    w(row.format("scan latency", "desk n", "no ans", "p50 ms", "p95 ms", "p99 ms",
                 "SCAN n", "no ans", "p50 ms", "p95 ms", "p99 ms"))
    for phase in PHASES:
        p = s["phases"][phase]
        d, q = p["desk"], p["pretixSCAN"]
        w(row.format(PHASE_NAMES[phase], d["n"], d["no_answer"], fmt(d["p50_ms"]), fmt(d["p95_ms"]), fmt(d["p99_ms"]),
                     q["n"], q["no_answer"], fmt(q["p50_ms"]), fmt(q["p95_ms"]), fmt(q["p99_ms"])))
    u = s["uploads"]
    w(row.format("offline uploads", u["n"], "", fmt(u["p50_ms"]), fmt(u["p95_ms"]), fmt(u["p99_ms"]), "", "", "", "", ""))
    w("  no ans: the desk gave up after {} s (and answered from its download), pretixSCAN after {} s; "
      "percentiles count them as longer".format(SCAN_TIMEOUT, SCANNER_TIMEOUT))
    w("  recorded: {}; {} desks back, {} uploaded and resynced, {} items, p50 {} s, max {} s from back to done".format(
        ", ".join("{} {}".format(k, n) for k, n in sorted(u["recorded"].items())) or "-", s["batches"]["desks"],
        s["batches"]["done"], s["batches"]["items"], fmt(s["batches"]["p50_s"], "{:.1f}"),
        fmt(s["batches"]["max_s"], "{:.1f}")))
    w("")
    w("{:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}".format(
        "desk syncs", "304 n", "p50 ms", "200 n", "p50 ms", "p95 ms", "again n", "orders p50"))
    for phase in PHASES:
        p = s["phases"][phase]
        sy = p["syncs"]
        w("{:<22} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}".format(
            PHASE_NAMES[phase], sy["304"]["n"], fmt(sy["304"]["p50_ms"]), sy["200"]["n"], fmt(sy["200"]["p50_ms"]),
            fmt(sy["200"]["p95_ms"]), sy["full again"]["n"], fmt(p["orders"]["p50_ms"])))
    w("")
    r = s["offline_ready"]
    w("offline-ready (desk's full download, gzip): n {}, p50 {} s, p95 {} s, max {} s; {} each (p50); {} retried; "
      "{} distinct ETags".format(r["n"], fmt(r["p50_s"], "{:.1f}"), fmt(r["p95_s"], "{:.1f}"), fmt(r["max_s"], "{:.1f}"),
                                 mb(r["bytes_p50"]), r["retried"], r["distinct_etags"]))
    sd = s["scanner_download"]
    w("pretixSCAN's full download ({} per page): {} of {} complete, p50 {} s, p95 {} s, max {} s; {} pages in all; {} each".format(
        PAGE_SIZE, sd["complete"], sd["n"], fmt(sd["p50_s"], "{:.1f}"), fmt(sd["p95_s"], "{:.1f}"),
        fmt(sd["max_s"], "{:.1f}"), sd["pages"], mb(sd["bytes_p50"])))
    w("")
    w("{:<12} {:>9} {:>14} {:>22} {:>14}".format("bytes", "hours", "received/h", "after 1st download/h", "sent/h"))
    for client, label in (("desk", "per desk"), ("pretixSCAN", "per scanner")):
        t = s["traffic"][client]
        w("{:<12} {:>9.2f} {:>14} {:>22} {:>14}".format(label, t["hours"], mb(t["received_per_hour"]),
                                                        mb(t["after_first_download_per_hour"]), mb(t["sent_per_hour"])))
    w("  response bodies as on the wire (gzip where the server sent it), headers not counted")
    w("")
    w("{:<22} {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} {:>9} {:>12}".format(
        "CPU (cores)", "seconds", "web", "db", "celery", "driver", "all", "desk-min", "server s/dm"))
    for phase in PHASES:
        p = s["phases"][phase]
        if not p["seconds"]:
            continue
        w("{:<22} {:>7.0f} {:>6.2f} {:>6.2f} {:>6.2f} {:>6.2f} {:>6.2f} {:>9.1f} {:>12}".format(
            PHASE_NAMES[phase], p["seconds"], p["gunicorn_cpu_cores"], p["db_cpu_cores"], p["celery_cpu_cores"],
            p["driver_cpu_cores"], p["machine_busy_cores"], p["desk_minutes"],
            fmt(p["server_cpu_s_per_desk_minute"], "{:.2f}")))
    w("  web: gunicorn workers of both nodes, db: PostgreSQL's backends, driver: this process (every client),")
    w("  all: the whole machine (other work on it shows here); server s/dm: gunicorn + PostgreSQL CPU seconds per")
    w("  desk-minute, the pretixSCAN clients' and the shop's share included")
    w("")
    if m["counts"]:
        w("counts: " + "; ".join("{} {}".format(k, n) for k, n in sorted(m["counts"].items())))
    if m["errors"]:
        w("{} errors, the first:".format(len(m["errors"])))
        for e in m["errors"][:5]:
            w("  " + e)
    w("check in the database: {} scans ({}), {} once by nonce, {} by position, {} missing, {} twice, "
      "{} on another position; {} successful check-ins on the list, {} of tickets not scanned here, {} refused, "
      "{} forced".format(v["scans"], ", ".join("{} {}".format(n, k) for k, n in sorted(m["scans_by_how"].items())),
                         v["once"], v["by_position"], v["missing_count"], v["duplicate_count"],
                         v["wrong_position_count"], v["successful_checkins"], v["other_checkins"],
                         v["failed_checkins"], v["forced_checkins"]))
    w("  as the clients knew them: {}; lost (acknowledged by pretix, no check-in): {}; still queued on a client "
      "when the simulation ended: {} ({} of them not recorded by their first try either)".format(
          ", ".join("{} {}".format(n, k) for k, n in sorted(v["by_state"].items())), v["lost"], v["still_queued"],
          v["still_queued_missing"]))
    w("  sealing generation at the end: {} (each bump refuses every desk's sync token)".format(v["seal_generation"]))
    w("desks' reports kept (X-Desk-Status): {}".format(
        ", ".join("{} {}".format(n, k) for k, n in sorted(v["desk_reports"].items())) or "none"))
    w("every scan exactly once: {}".format("yes" if v["exactly_once"] else "no"))
    return "\n".join(lines)


# ---------------------------------------------------------------------- main


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="scripts/benchmark door-sim", description=__doc__.splitlines()[0])
    parser.add_argument("--desks", type=int, required=True, help="desk pages at the door")
    parser.add_argument("--attendees", type=int, required=True, help="attendees to seed")
    parser.add_argument("--minutes", type=float, default=5, help="length of the steady phase (default 5)")
    parser.add_argument("--opening", type=float, default=60,
                        help="seconds over which the desks open, evenly spread (default 60)")
    parser.add_argument("--offline-share", type=float, default=0.2,
                        help="share of the desks that loses the network mid-way (default 0.2)")
    parser.add_argument("--offline-seconds", type=float, default=60, help="how long they are offline (default 60)")
    parser.add_argument("--scanners", type=int, help="pretixSCAN-style clients beside the desks (default desks/4)")
    parser.add_argument("--order-every", type=float, default=2, help="seconds between the shop's orders (0: no shop)")
    parser.add_argument("--pace", type=float, nargs=2, default=(3.0, 5.0), metavar=("LOW", "HIGH"),
                        help="seconds between a client's scans, uniform (default 3 5)")
    parser.add_argument("--drain-seconds", type=float, default=300,
                        help="how long clients keep uploading what they queued after the end (default 300)")
    parser.add_argument("--ready-timeout", type=float, default=600,
                        help="give up when a desk is not offline-ready this long after the opening (default 600)")
    parser.add_argument("--unsealed", action="store_true",
                        help="leave the codes' sealing masters underived: the first download derives what it can "
                             "and Celery the rest, during the opening storm")
    parser.add_argument("--json", type=Path, help="write the results here (default $TMPDIR/pretix-desk-door-sim-N.json)")
    parser.add_argument("--keep", action="store_true", help="keep the stack's temporary directory (logs)")
    args = parser.parse_args(argv)
    if args.scanners is None:
        args.scanners = args.desks // 4
    if args.desks < 1 or args.scanners < 0 or args.minutes <= 0 or args.opening <= 0 or args.attendees < 1:
        parser.error("--desks, --attendees, --minutes and --opening must be positive, --scanners not negative")
    if not 0 <= args.offline_share <= 1 or args.offline_seconds < 0:
        parser.error("--offline-share is a share (0 to 1), --offline-seconds not negative")
    if args.offline_share and args.offline_seconds >= args.minutes * 60:
        parser.error("--offline-seconds must be shorter than the steady phase (--minutes)")
    if not 0 < args.pace[0] <= args.pace[1]:
        parser.error("--pace LOW HIGH: 0 < LOW <= HIGH")
    return args


def main(argv=None):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    import pretix

    started = time.time()
    load_before = os.getloadavg()
    with Stack(keep=args.keep) as stack:
        t = time.monotonic()
        ids = stack.call("tests.stack.seed:seed", attendees=args.attendees, order_events=False, seal=False,
                         timeout=max(600, args.attendees / 50))
        seeded = time.monotonic() - t
        event = ids["attendees"]["event"]
        print("[door-sim] seeded {} attendees in {:.1f} s".format(args.attendees, seeded), file=sys.stderr, flush=True)
        sealed = None
        if not args.unsealed:
            t = time.monotonic()
            stack.call("tests.stack.door_sim:seal", ids["organizer"], event, timeout=max(600, args.attendees / 20))
            sealed = time.monotonic() - t
            print("[door-sim] sealed in {:.1f} s".format(sealed), file=sys.stderr, flush=True)
        tickets = Pool(stack.call("tests.stack.seed:secrets_of", event, ids["organizer"]))
        sim = Sim(stack, ids, args, None)
        warm(sim, tickets)
        span = args.opening + args.minutes * 60
        need = (args.desks + args.scanners) * span / (sum(args.pace) / 2)
        if need > tickets.left:
            print("[door-sim] about {:.0f} scans at this pace, {} tickets: clients stop when they run out".format(
                need, tickets.left), file=sys.stderr, flush=True)
        sim.pool = SharedPool(tickets.take(tickets.left))
        desks, scanners, offline, segments, marks = run(sim)
        made = [[nonce, secret] for nonce, (secret, _, _) in sim.made.items()]
        verification = stack.call("tests.stack.door_sim:verify", sim.list_id, made)
        nodes = list(stack.nodes.values())
        meta = {"desks": args.desks, "scanners": args.scanners, "attendees": args.attendees, "minutes": args.minutes,
                "opening": args.opening, "offline_share": args.offline_share, "offline_desks": len(offline),
                "offline_seconds": args.offline_seconds, "order_every": args.order_every, "pace": list(args.pace),
                "sealed": not args.unsealed, "pretix": pretix.__version__, "nodes": len(nodes),
                "workers": nodes[0].workers, "cpus": os.cpu_count(), "seed_seconds": seeded, "seal_seconds": sealed,
                "tickets_left": sim.pool.left, "counts": dict(sim.counts), "errors": sim.errors,
                "scans_by_how": dict(Counter(how for _, how, _ in sim.made.values())),
                "orders_placed": len(sim.orders), "load_before": load_before, "load_after": os.getloadavg(),
                "stack_timings": stack.timings, "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))}
    meta["total_seconds"] = time.time() - started
    summary = summarize(sim, desks, scanners, offline, segments, marks)
    verification = judge(verification, sim.made)
    result = {"meta": meta, "summary": summary, "verification": verification,
              "segments": [{k: (v - marks["start"] if k in ("start", "end") else v) for k, v in s.items()}
                           for s in segments]}
    table = report(result)
    print(table)
    result["table"] = table
    path = args.json or Path(tempfile.gettempdir()) / "pretix-desk-door-sim-{}.json".format(args.desks)
    path.write_text(json.dumps(result, indent=2, default=str))
    print("\nJSON: {}".format(path))
    return 0 if verification["exactly_once"] else 1


if __name__ == "__main__":
    sys.exit(main())
