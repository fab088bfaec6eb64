"""pretix with the plugin as production runs it, for tests and benchmarks over HTTP.

``Stack`` creates a fresh PostgreSQL database and claims an empty Redis database, writes a
``pretix.cfg`` (PostgreSQL; Redis as cache, session store, Celery broker and result backend;
``debug=off``; a data directory in a temporary directory), runs ``python -m pretix migrate``
and ``collectstatic`` with pretix's ``ManifestStaticFilesStorage``, and starts

* node ``a``: gunicorn serving ``pretix.wsgi`` with two sync workers on a free loopback port,
* node ``b``: a second gunicorn "host" on another port, sharing database and Redis,
* a Celery worker (``celery -A pretix.celery_app worker``) on every pretix queue,
* per node a front server (``front.py``) that serves the collected static files and passes
  everything else to the node, in nginx's place.

It waits until every gunicorn worker has answered (``X-Stack-Worker``) and Celery says it is
ready, and tears it all down again, on failure too: each process runs in its own process
group, is stopped with SIGTERM and then SIGKILL, and dies with the harness if the harness is
killed (``PR_SET_PDEATHSIG``); the database is dropped, the Redis database flushed and the
temporary directory removed. Databases of harnesses that died before cleaning up are dropped
by the next one (their names carry the owner's process id).

    with Stack() as stack:
        stack.nodes["a"].url             # http://127.0.0.1:PORT (gunicorn)
        stack.nodes["a"].site_url        # through the front server, with /static/
        stack.nodes["a"].worker_pids()   # e.g. to SIGKILL one mid-request
        stack.manage("shell", "-c", "...")
        stack.call("tests.stack.seed:seed_event", attendees=100)   # ORM code, in a subprocess
        stack.sql("select count(*) from pretixbase_checkin")
        # fault tests: pause a request at a statement, then kill its worker (middleware.py)
        #   POST with header X-Stack-Pause-After: INSERT INTO "pretixbase_checkin"
        #   pid, sql = stack.wait_for_pause(); os.kill(pid, signal.SIGKILL)
        # stop the Celery worker (warm shutdown; SIGKILL: the whole worker) and start it again
        stack.stop_celery(signal.SIGTERM); stack.start_celery()

Processes that want the ORM in-process (the benchmark) call ``stack.configure_django()``
before anything imports Django's settings.

The settings module of every process is ``tests/stack/settings.py``: pretix's own settings
plus what ``pretix.cfg`` cannot set (see there).
"""
import contextlib
import ctypes
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
DB_PREFIX = "pretix_desk_stack_"
REDIS_CLAIM_KEY = "pretix-desk-stack:claim"
SETTINGS_MODULE = "tests.stack.settings"
# config sections pretix also reads from PRETIX_<SECTION>_<OPTION> variables: the stack's
# processes must see only the stack's pretix.cfg (scripts/test exports PRETIX_DATABASE_*)
CONFIG_SECTIONS = (
    "PRETIX", "DJANGO", "DATABASE", "REPLICA", "DBREADONLY", "REDIS", "CELERY", "MAIL",
    "URLS", "LOCALE", "MEMCACHED", "ENTROPY", "METRICS", "GEOIP", "CACHE", "TOOLS",
)


class StackError(RuntimeError):
    pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent():
    """preexec_fn: SIGTERM when the harness process dies, so no server outlives it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def proc_stat(pid):
    """(ppid, utime + stime in seconds) of a process from /proc/<pid>/stat."""
    with open("/proc/{}/stat".format(pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """utime + stime of these processes (those that died count as 0)."""
    total = 0.0
    for pid in pids:
        try:
            total += proc_stat(pid)[1]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total


def proc_status(pid, key):
    """A value of /proc/<pid>/status in kB, e.g. ``VmRSS`` or ``VmHWM`` (peak RSS)."""
    with open("/proc/{}/status".format(pid)) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def children(pid):
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if proc_stat(int(entry))[0] == pid:
                    out.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return sorted(out)


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def template_key():
    """Names the migrated state: pretix's version and every migration file of pretix and
    the installed plugins (a plugin's unreleased migration may be edited in place)."""
    from importlib.metadata import entry_points

    import pretix
    digest = hashlib.sha1(pretix.__version__.encode())
    dirs = [Path(pretix.__file__).parent]
    for ep in sorted(entry_points(group="pretix.plugin"), key=lambda e: e.module):
        spec = importlib.util.find_spec(ep.module.split(".")[0])
        if spec and spec.origin:
            dirs.append(Path(spec.origin).parent)
    for base in dirs:
        for path in sorted(base.glob("**/migrations/*.py")):
            digest.update(str(path.relative_to(base)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def pg_settings():
    """Where PostgreSQL is: the PRETIX_DESK_PG_* variables scripts/test documents."""
    return {
        "host": os.environ.get("PRETIX_DESK_PG_HOST", "127.0.0.1"),
        "port": os.environ.get("PRETIX_DESK_PG_PORT", "5432"),
        "user": os.environ.get("PRETIX_DESK_PG_USER", "postgres"),
        "password": os.environ.get("PRETIX_DESK_PG_PASSWORD", ""),
    }


def redis_settings():
    return {
        "host": os.environ.get("PRETIX_DESK_REDIS_HOST", "127.0.0.1"),
        "port": int(os.environ.get("PRETIX_DESK_REDIS_PORT", "6379")),
    }


@dataclass
class Service:
    name: str
    args: list
    log: Path
    process: subprocess.Popen = None

    @property
    def pid(self):
        return self.process.pid

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines=40):
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"


@dataclass
class Node:
    """One gunicorn "host": its master, its workers and its front server."""
    name: str
    port: int
    front_port: int
    gunicorn: Service = None
    front: Service = None
    workers: int = 2

    @property
    def url(self):
        return "http://127.0.0.1:{}".format(self.port)

    @property
    def site_url(self):
        return "http://127.0.0.1:{}".format(self.front_port)

    @property
    def master_pid(self):
        return self.gunicorn.pid

    def worker_pids(self):
        """The gunicorn workers alive now (gunicorn replaces a killed one)."""
        return children(self.gunicorn.pid)


@dataclass
class Stack:
    """See the module docstring. Keyword arguments:

    nodes: names of the gunicorn nodes (each with ``workers`` workers); once constructed,
        ``nodes`` maps each name to its ``Node``
    celery: start a Celery worker (without one, pretix's tasks wait in Redis)
    static: run collectstatic and start the front servers
    compress: run ``compress`` as pretix's ``rebuild`` does; otherwise the offline
        compression output pretix ships in its package is copied into STATIC_ROOT, which is
        what ``compress`` would write for pretix's templates (the plugin has no compress tags)
    keep: leave the temporary directory (configuration, logs) for a post-mortem
    template: create the database from a migrated template database when there is one for
        this pretix version and these plugin migrations (``migrate`` then still runs and
        finds nothing to do), and leave one behind after a full ``migrate``: a full migrate
        of pretix takes 80 s on two cores. ``PRETIX_DESK_STACK_FRESH=1`` turns it off.
    config: extra pretix.cfg entries, ``{"section": {"option": "value"}}``
    """
    nodes: tuple = ("a", "b")
    workers: int = 2
    celery: bool = True
    static: bool = True
    compress: bool = False
    keep: bool = False
    config: dict = field(default_factory=dict)
    quiet: bool = False
    timeout: float = 180
    template: bool = True

    def __post_init__(self):
        self.db_name = "{}{}_{}".format(DB_PREFIX, os.getpid(), secrets.token_hex(3))
        self.pg = pg_settings()
        self.redis = redis_settings()
        self.redis_db = None
        self._redis_token = secrets.token_hex(8)
        self.dir = None
        self.node_list = [Node(name, free_port(), free_port(), workers=self.workers) for name in self.nodes]
        self.nodes = {n.name: n for n in self.node_list}
        self.celery_service = None
        self._started = self._stopped = False
        self._lock = threading.Lock()
        self.timings = {}
        self.from_template = False
        if os.environ.get("PRETIX_DESK_STACK_FRESH"):
            self.template = False
        self.template_name = DB_PREFIX + "tpl_" + template_key()

    # ------------------------------------------------------------------ life cycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        if self._started:
            raise StackError("a Stack starts once")
        self._started = True
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _say(self, text):
        if not self.quiet:
            print("[stack] " + text, file=sys.stderr, flush=True)

    def _timed(self, name, fn):
        start = time.monotonic()
        fn()
        self.timings[name] = round(time.monotonic() - start, 2)
        self._say("{} ({:.1f} s)".format(name, self.timings[name]))

    def _start(self):
        self.dir = Path(tempfile.mkdtemp(prefix="pretix-desk-stack-"))
        (self.dir / "data").mkdir()
        (self.dir / "logs").mkdir()
        self.static_root = self.dir / "static"
        self._drop_stale_databases()
        self._timed("database " + self.db_name, self._create_database)
        self._claim_redis_db()
        self._write_config()
        self._timed("migrate", lambda: self.manage("migrate", "--noinput", log="migrate"))
        if self.template and not self.from_template:
            self._timed("template " + self.template_name, self._save_template)
        if self.static:
            self._timed("collectstatic", self._collectstatic)
        if self.celery:
            self._spawn_celery()
        for node in self.node_list:
            node.gunicorn = self._spawn("gunicorn-" + node.name, [
                PYTHON, "-m", "gunicorn", "pretix.wsgi", "--name", "pretix-stack-" + node.name,
                "--workers", str(node.workers), "--bind", "127.0.0.1:{}".format(node.port),
                # no --max-requests: a worker keeps its pid (CPU accounting, fault tests)
                "--timeout", "300", "--graceful-timeout", "5", "--log-level", "warning",
                "--worker-tmp-dir", str(self.dir),
            ])
            if self.static:
                node.front = self._spawn("front-" + node.name, [
                    PYTHON, "-m", "tests.stack.front", "--port", str(node.front_port),
                    "--upstream", "127.0.0.1:{}".format(node.port), "--static-root", str(self.static_root),
                ])
        self._timed("servers ready", self._wait_ready)

    def stop(self):
        """Stop every process, drop the database, flush the Redis database, remove the
        temporary directory. Safe to call twice and after a failed start."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        problems = []
        services = [s for n in reversed(self.node_list) for s in (n.front, n.gunicorn) if s]
        if self.celery_service:
            services.append(self.celery_service)
        for service in services:
            self._signal(service, signal.SIGTERM)
        for service in services:
            try:
                self._terminate(service)
            except Exception as e:  # keep cleaning up
                problems.append("{}: {!r}".format(service.name, e))
        try:
            from django.conf import settings
            if settings.configured and os.environ.get("PRETIX_CONFIG_FILE") == str(self.config_file):
                from django.db import connections
                connections.close_all()
        except Exception as e:
            problems.append("close connections: {!r}".format(e))
        try:
            self._drop_database(self.db_name)
        except Exception as e:
            problems.append("drop database: {!r}".format(e))
        try:
            self._release_redis_db()
        except Exception as e:
            problems.append("redis: {!r}".format(e))
        if self.dir and not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)
        elif self.dir:
            self._say("kept " + str(self.dir))
        if problems:
            self._say("teardown problems: " + "; ".join(problems))
        self.teardown_problems = problems

    def _terminate(self, service, timeout=15):
        """SIGTERM to the service's process group, SIGKILL after ``timeout``; waits until
        the whole group (gunicorn workers, Celery's pool) is gone."""
        if service.process is None:
            return
        pgid = service.process.pid
        self._signal(service, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._group_alive(pgid, service):
            time.sleep(0.05)
        if self._group_alive(pgid, service):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            service.process.wait(timeout=10)
        while self._group_alive(pgid, service):
            time.sleep(0.05)
            if time.monotonic() > deadline + 20:
                raise StackError("process group {} of {} does not die".format(pgid, service.name))

    @staticmethod
    def _signal(service, signum):
        if service.process is not None:
            try:
                os.killpg(service.process.pid, signum)
            except ProcessLookupError:
                pass

    @staticmethod
    def _group_alive(pgid, service):
        service.process.poll()  # reap the leader
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        # a zombie group member is dead for our purposes
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open("/proc/{}/stat".format(entry)) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except (FileNotFoundError, ProcessLookupError):
                    continue
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
        return False

    # ------------------------------------------------------------------ services

    @property
    def config_file(self):
        return self.dir / "pretix.cfg" if self.dir else None

    @property
    def env(self):
        """The environment of the stack's processes, for callers that start their own."""
        env = {k: v for k, v in os.environ.items()
               if not any(k.startswith(p) for p in (
                   *("PRETIX_{}_".format(s) for s in CONFIG_SECTIONS), "FILE__PRETIX_"))}
        env.update({
            "PRETIX_CONFIG_FILE": str(self.config_file),
            "DJANGO_SETTINGS_MODULE": SETTINGS_MODULE,
            "PRETIX_DESK_STACK_STATIC_ROOT": str(self.static_root),
            "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
            "PYTHONUNBUFFERED": "1",
        })
        return env

    def _spawn(self, name, args):
        service = Service(name, args, self.dir / "logs" / (name + ".log"))
        with open(service.log, "ab") as log:
            service.process = subprocess.Popen(
                args, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        return service

    def manage(self, *args, log=None, check=True, timeout=600):
        """``python -m pretix <args>`` against the stack; returns the CompletedProcess
        (stdout and stderr as text). With ``log``, output goes to logs/<log>.log instead."""
        cmd = [PYTHON, "-m", "pretix", *args]
        if log:
            path = self.dir / "logs" / (log + ".log")
            with open(path, "ab") as out:
                result = subprocess.run(cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, timeout=timeout)
            if check and result.returncode:
                tail = "\n".join(path.read_text().splitlines()[-40:])
                raise StackError("{} failed ({}):\n{}".format(" ".join(args), result.returncode, tail))
            return result
        result = subprocess.run(cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                                text=True, timeout=timeout)
        if check and result.returncode:
            tail = result.stdout[-3000:] + result.stderr[-3000:]
            raise StackError("{} failed ({}):\n{}".format(" ".join(args), result.returncode, tail))
        return result

    def call(self, target, *args, timeout=600, **kwargs):
        """Run ``module:function(*args, **kwargs)`` in a fresh process with the stack's
        settings (Django set up, django-scopes off) and return its result. Arguments and
        result travel as JSON."""
        result = subprocess.run(
            [PYTHON, "-m", "tests.stack.call", target], cwd=ROOT, env=self.env,
            input=json.dumps({"args": args, "kwargs": kwargs}), capture_output=True, text=True, timeout=timeout,
        )
        if result.returncode:
            raise StackError("{} failed:\n{}".format(target, result.stderr[-4000:]))
        return json.loads(result.stdout.strip().splitlines()[-1])

    def configure_django(self):
        """Point this process's Django at the stack (call before Django's settings load)."""
        from django.conf import settings
        if settings.configured:
            raise StackError("Django is configured already; use stack.call() from this process")
        for key in list(os.environ):
            if key not in self.env:
                del os.environ[key]
        os.environ.update(self.env)
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        import django
        django.setup()

    # ------------------------------------------------------------------ PostgreSQL

    def _pg(self, dbname="postgres"):
        import psycopg
        return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=10, **self.pg)

    def sql(self, query, params=None):
        """Run one statement on the stack's database; rows as a list of tuples (or [])."""
        with self._pg(self.db_name) as conn, conn.cursor() as cur:
            cur.execute(query, params)
            return cur.fetchall() if cur.description else []

    def _create_database(self):
        with self._pg() as conn:
            if self.template:
                with self._template_lock(conn):
                    if self._exists(conn, self.template_name):
                        conn.execute('CREATE DATABASE "{}" TEMPLATE "{}"'.format(self.db_name, self.template_name))
                        self.from_template = True
                        return
            conn.execute('CREATE DATABASE "{}" ENCODING \'UTF8\' TEMPLATE template0'.format(self.db_name))

    def _save_template(self):
        """Copy the freshly migrated database as the template for later stacks; templates
        of other pretix versions or migrations are dropped."""
        with self._pg() as conn, self._template_lock(conn):
            if self._exists(conn, self.template_name):
                return
            for (name,) in conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                        (DB_PREFIX + "tpl_%",)).fetchall():
                conn.execute('DROP DATABASE IF EXISTS "{}" WITH (FORCE)'.format(name))
            conn.execute('CREATE DATABASE "{}" TEMPLATE "{}"'.format(self.template_name, self.db_name))

    @staticmethod
    def _exists(conn, name):
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None

    @staticmethod
    @contextlib.contextmanager
    def _template_lock(conn):
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (DB_PREFIX + "tpl",))
        try:
            yield
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (DB_PREFIX + "tpl",))

    def _drop_database(self, name):
        with self._pg() as conn:
            conn.execute('DROP DATABASE IF EXISTS "{}" WITH (FORCE)'.format(name))

    def _drop_stale_databases(self):
        with self._pg() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (DB_PREFIX + "%",))]
        for name in names:
            owner = name[len(DB_PREFIX):].split("_")[0]
            if owner.isdigit() and not _pid_alive(int(owner)):
                self._say("dropping stale database " + name)
                self._drop_database(name)

    # ------------------------------------------------------------------ Redis

    def _redis(self, db):
        import redis
        return redis.Redis(db=db, socket_timeout=10, **self.redis)

    def _claim_redis_db(self):
        """A Redis database of our own (2..15), so stacks running at the same time never
        share a cache or a Celery queue: an empty one, or one whose claim names a harness
        process that is gone (its leftovers are flushed). Databases with keys but no claim
        belong to someone else and are left alone."""
        import redis
        claim = "{}:{}".format(os.getpid(), self._redis_token)
        for db in range(2, 16):
            r = self._redis(db)
            with r.pipeline() as pipe:
                try:
                    pipe.watch(REDIS_CLAIM_KEY)
                    owner = (pipe.get(REDIS_CLAIM_KEY) or b"").decode()
                    size = pipe.dbsize()
                    if owner:
                        pid = owner.split(":")[0]
                        if not pid.isdigit() or _pid_alive(int(pid)):
                            continue
                        self._say("flushing Redis database {} of a harness that is gone".format(db))
                    elif size:
                        continue
                    pipe.multi()
                    pipe.flushdb()
                    pipe.set(REDIS_CLAIM_KEY, claim)
                    pipe.execute()
                except redis.WatchError:
                    continue
            self.redis_db = db
            return
        raise StackError("no free Redis database among 2..15")

    def _release_redis_db(self):
        if self.redis_db is None:
            return
        r = self._redis(self.redis_db)
        if (r.get(REDIS_CLAIM_KEY) or b"").decode().endswith(":" + self._redis_token):
            r.flushdb()
        self.redis_db = None

    @property
    def redis_url(self):
        return "redis://{}:{}/{}".format(self.redis["host"], self.redis["port"], self.redis_db)

    # ------------------------------------------------------------------ configuration

    def _write_config(self):
        node_a = self.node_list[0]
        config = {
            "pretix": {
                "instance_name": "pretix-desk stack", "url": node_a.site_url if self.static else node_a.url,
                "datadir": str(self.dir / "data"), "currency": "EUR", "ecb_rates": "off", "loglevel": "WARNING",
            },
            "locale": {"default": "en", "timezone": "Europe/Berlin"},
            "django": {"debug": "off", "secret": secrets.token_urlsafe(40)},
            "database": {
                "backend": "postgresql", "name": self.db_name, "user": self.pg["user"],
                "password": self.pg["password"], "host": self.pg["host"], "port": self.pg["port"],
            },
            "redis": {"location": self.redis_url, "sessions": "true"},
            "celery": {"broker": self.redis_url, "backend": self.redis_url},
            "mail": {"from": "stack@localhost"},
        }
        for section, options in self.config.items():
            config.setdefault(section, {}).update(options)
        lines = []
        for section, options in config.items():
            lines.append("[{}]".format(section))
            lines += ["{}={}".format(k, v) for k, v in options.items()]
            lines.append("")
        self.config_file.write_text("\n".join(lines))

    def _collectstatic(self):
        import pretix
        if not self.compress:
            shipped = Path(pretix.__file__).parent / "static.dist" / "CACHE"
            if shipped.is_dir():
                shutil.copytree(shipped, self.static_root / "CACHE")
        self.manage("collectstatic", "--noinput", "-v0", log="collectstatic")
        if self.compress:
            self.manage("compress", log="compress")

    # ------------------------------------------------------------------ readiness

    def _check_alive(self):
        services = [s for n in self.node_list for s in (n.gunicorn, n.front) if s]
        if self.celery_service:
            services.append(self.celery_service)
        for service in services:
            if not service.alive():
                raise StackError("{} exited ({}):\n{}".format(service.name, service.process.returncode,
                                                              service.log_tail()))

    def _wait_ready(self):
        deadline = time.monotonic() + self.timeout
        pending = {n.name for n in self.node_list}
        celery_ready = not self.celery
        with ThreadPoolExecutor(8) as pool:
            while pending or not celery_ready:
                self._check_alive()
                if time.monotonic() > deadline:
                    logs = "\n".join("--- {}\n{}".format(s.name, s.log_tail()) for n in self.node_list
                                     for s in (n.gunicorn, n.front) if s)
                    raise StackError("stack not ready after {} s (waiting for {}{})\n{}".format(
                        self.timeout, ", ".join(sorted(pending)), "" if celery_ready else " celery", logs))
                for name in list(pending):
                    if self._node_ready(self.nodes[name], pool):
                        pending.discard(name)
                if not celery_ready:
                    celery_ready = self._celery_ready()
                if pending or not celery_ready:
                    time.sleep(0.3)

    def _node_ready(self, node, pool):
        workers = node.worker_pids()
        if len(workers) < node.workers:
            return False
        seen = set()
        for answer in pool.map(lambda _: self._probe(node.url + "/healthcheck/"), range(6)):
            if answer:
                seen.add(answer)
        if not set(workers) <= seen:
            return False
        if node.front and not self._probe(node.site_url + "/healthcheck/"):
            return False
        return True

    @staticmethod
    def _probe(url):
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                if response.status == 200:
                    return int(response.headers.get("X-Stack-Worker", 0))
        except (urllib.error.URLError, ConnectionError, OSError):
            return None
        return None

    # ------------------------------------------------------------------ Celery

    def _spawn_celery(self):
        log = self.dir / "logs" / "celery.log"
        # a restarted worker appends to the log: readiness is read from here on
        self._celery_log_offset = log.stat().st_size if log.exists() else 0
        self.celery_service = self._spawn("celery", [
            PYTHON, "-m", "celery", "-A", "pretix.celery_app", "worker", "--loglevel", "INFO",
            "--concurrency", "1", "--hostname", "stack-{}@%h".format(self.db_name),
            "--without-gossip", "--without-mingle",
        ])

    def _celery_ready(self):
        with open(self.celery_service.log, "rb") as f:
            f.seek(self._celery_log_offset)
            return b" ready." in f.read()

    def celery_pids(self):
        """The Celery worker's main process, then its pool process (``--concurrency 1``), which
        runs the tasks; [] while the worker is stopped."""
        service = self.celery_service
        if service is None or not service.alive():
            return []
        return [service.pid] + children(service.pid)

    def stop_celery(self, sig=signal.SIGTERM, *, group=None, timeout=60):
        """Stop the Celery worker with ``sig`` and wait until all its processes are gone
        (``StackError`` after ``timeout`` s); ``start_celery()`` starts it again. Meanwhile
        pretix's tasks wait in Redis and the web nodes keep serving.

        By default ``SIGTERM`` goes to the worker's main process only: Celery's warm shutdown
        (what ``kill <pid>`` or ``celery control shutdown`` does) lets the running task finish
        and hands the messages the worker had reserved back to the broker. ``SIGKILL`` goes to
        the whole process group, as when the machine or container dies. ``group=True`` sends
        ``SIGTERM`` to every process at once too, as systemd stops a service
        (``KillMode=control-group``): Celery's pool process does not handle ``SIGTERM`` and dies
        mid-task. Returns the main process's exit status."""
        service = self.celery_service
        if service is None or not service.alive():
            raise StackError("the Celery worker is not running")
        if group is None:
            group = sig == signal.SIGKILL
        if group:
            self._signal(service, sig)
        else:
            os.kill(service.pid, sig)
        deadline = time.monotonic() + timeout
        while self._group_alive(service.pid, service):
            if time.monotonic() > deadline:
                raise StackError("the Celery worker did not stop within {} s after {}:\n{}".format(
                    timeout, signal.Signals(sig).name, service.log_tail()))
            time.sleep(0.05)
        self._say("celery stopped ({}{})".format(signal.Signals(sig).name, " to the group" if group else ""))
        return service.process.wait()

    def start_celery(self, timeout=None):
        """Start the Celery worker again (after ``stop_celery``) and wait until it is ready."""
        if self.celery_service is not None and self.celery_service.alive():
            raise StackError("the Celery worker is running")
        start = time.monotonic()
        self._spawn_celery()
        deadline = start + (timeout or self.timeout)
        while not self._celery_ready():
            if not self.celery_service.alive():
                raise StackError("celery exited ({}):\n{}".format(self.celery_service.process.returncode,
                                                                  self.celery_service.log_tail()))
            if time.monotonic() > deadline:
                raise StackError("celery not ready:\n" + self.celery_service.log_tail())
            time.sleep(0.1)
        self._say("celery started ({:.1f} s)".format(time.monotonic() - start))

    def redis_client(self):
        """A client of the stack's Redis database (Celery's broker: queues, ``unacked``)."""
        return self._redis(self.redis_db)

    # ------------------------------------------------------------------ helpers

    def all_worker_pids(self):
        return {n.name: n.worker_pids() for n in self.node_list}

    def processes(self):
        """Every process of the stack that is alive: {name: [pids]}."""
        out = {}
        for service in [s for n in self.node_list for s in (n.gunicorn, n.front) if s] + (
                [self.celery_service] if self.celery_service else []):
            if service.alive():
                out[service.name] = [service.pid] + children(service.pid)
        return out

    def wait_for_pause(self, timeout=30):
        """Wait until a worker paused at a statement (``X-Stack-Pause-Before``/``-After``, see
        ``middleware.py``); returns (pid, statement) and forgets the pause."""
        directory = self.dir / "data" / "stack-pauses"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for path in sorted(directory.glob("*")) if directory.is_dir() else ():
                statement = path.read_text()
                path.unlink()
                return int(path.name), statement
            time.sleep(0.02)
        raise StackError("no worker paused within {} s".format(timeout))

    def database_backend_pids(self):
        """PostgreSQL's server processes connected to the stack's database (for CPU
        accounting: the database's share of a request)."""
        rows = self.sql("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (self.db_name,))
        return [r[0] for r in rows]
