"""The desk page and its service worker: the page's configuration, translated strings and
static files' URLs. All data comes from the desk API.

The page is a standalone document (like pretix's web check-in): door staff need the whole
screen, and the service worker must cache everything the page loads, which rules out the
control panel's compressed bundles.

pretix's static files carry a hash of their content in the name, but the page's ES modules
import each other by plain relative names (``./api.js``): an offline reload would miss the
precached hashed files, and a browser could combine modules of two releases. The page
therefore carries an import map from each module's plain URL to its ``static()`` URL,
allowed by pretix's CSP through the hash of its text; the service worker answers plain URLs
outside the map (``vendor/jsQR.js``, a classic script) from the hashed copy. Rewriting
imports at ``collectstatic`` is a pretix-wide setting, and a build step would need Node.
"""
import hashlib
import hmac
import json
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import JsonResponse
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils.encoding import filepath_to_uri
from django.utils.safestring import mark_safe
from django.views.generic import TemplateView, View
from pretix.base.middleware import add_to_response_csp_via_request, calculate_csp_hash
from pretix.base.models import CheckinList
from pretix.base.permissions import AnyPermissionOf
from pretix.control.permissions import EventPermissionRequiredMixin

from pretix_desk import __version__
from pretix_desk.desk import envelope
from pretix_desk.desk.badges import badges_active
from pretix_desk.enabled import require_desk

from .desk_strings import desk_strings

#: Who may open the desk: the same people who may scan through the desk API.
DESK_PERMISSION = AnyPermissionOf("event.orders:checkin", "event.orders:write")

#: The page's static files: every ``.js`` and ``.css`` file below this directory
#: (``vendor/`` included), found on disk rather than listed by hand.
DESK_STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "pretix_desk" / "desk"
DESK_STATIC_PREFIX = "pretix_desk/desk/"
ASSET_SUFFIXES = (".js", ".css")

#: The page's IndexedDB database and the object store the service worker keeps when the
#: session has ended: the queue of unsent scans (sealed to the server). Every other store
#: (downloaded lists, search index, conflicts) is emptied, and so are the queue's items kept
#: after their upload.
DESK_DB = "pretix-desk"
DESK_DB_KEEP_STORES = ("queue",)


def desk_asset_names():
    """The page's asset files relative to ``pretix_desk/desk/``, sorted. Skips what
    ``collectstatic`` skips by default (hidden files, editor backups)."""
    names = []
    for path in DESK_STATIC_DIR.rglob("*"):
        rel = path.relative_to(DESK_STATIC_DIR)
        if not path.is_file() or path.suffix not in ASSET_SUFFIXES:
            continue
        if any(part.startswith(".") or part.endswith("~") for part in rel.parts):
            continue
        names.append(rel.as_posix())
    return tuple(sorted(names))


def plain_static_url(path):
    """The URL of a static file without a content hash: where a browser resolves a
    module's relative import to."""
    return urljoin(settings.STATIC_URL, filepath_to_uri(path))


@dataclass(frozen=True)
class DeskAssets:
    names: tuple
    #: name -> URL the page loads (``static()``: hashed in production)
    urls: dict
    #: name -> plain URL (what ``./name`` resolves to relative to a sibling module)
    plain_urls: dict
    #: the import map's exact text (JSON, safe inside ``<script>``)
    import_map: str
    #: fingerprint of the files and their URLs: the service worker's cache name
    version: str

    @property
    def aliases(self):
        """Plain URL -> served URL, where they differ (hashed names in production)."""
        return {self.plain_urls[n]: self.urls[n] for n in self.names if self.plain_urls[n] != self.urls[n]}


def _script_json(value):
    # Like django.utils.html.json_script: nothing in it can end the <script> element.
    return (json.dumps(value, sort_keys=True, separators=(",", ":"))
            .replace("<", "\\u003C").replace(">", "\\u003E").replace("&", "\\u0026"))


def _build_desk_assets():
    names = desk_asset_names()
    urls = {name: static(DESK_STATIC_PREFIX + name) for name in names}
    plain_urls = {name: plain_static_url(DESK_STATIC_PREFIX + name) for name in names}
    import_map = _script_json({"imports": {plain_urls[n]: urls[n] for n in names if n.endswith(".js")}})
    # The served URLs change with the content in production (hashes); during development
    # they do not, so the content counts too.
    digest = hashlib.sha256(__version__.encode())
    for name in names:
        digest.update(b"\0" + name.encode() + b"\0" + urls[name].encode() + b"\0")
        path = finders.find(DESK_STATIC_PREFIX + name)
        if path:
            with open(path, "rb") as f:
                digest.update(hashlib.sha256(f.read()).digest())
    return DeskAssets(names=names, urls=urls, plain_urls=plain_urls, import_map=import_map,
                      version=digest.hexdigest()[:16])


_desk_assets = None


def desk_assets():
    """The page's assets, computed once per process (a plugin upgrade restarts pretix after
    ``collectstatic``), and on every request with ``DEBUG`` on, where files change while
    the server runs."""
    global _desk_assets
    if settings.DEBUG or _desk_assets is None:
        _desk_assets = _build_desk_assets()
    return _desk_assets


@receiver(setting_changed)
def _forget_desk_assets(*, setting, **kwargs):
    # Tests switch static file storages (e.g. to the production storage) at runtime.
    global _desk_assets
    if setting in ("STORAGES", "STATIC_ROOT", "STATIC_URL", "STATICFILES_DIRS", "DEBUG"):
        _desk_assets = None


def desk_asset_urls():
    """The URLs the page requests: the service worker precaches exactly these."""
    assets = desk_assets()
    return [assets.urls[name] for name in assets.names]


def desk_assets_version():
    """A fingerprint of the page's static files, so that a new release of the plugin
    changes the service worker script and browsers replace their cached copies."""
    return desk_assets().version


def desk_login_tag(request):
    """Who the offline data on this browser belongs to, without naming them: the page
    deletes another user's downloaded attendees before it shows anything. (The HMAC message
    says "owner": changing it would make every desk download again.)"""
    who = "user:{}".format(request.user.pk) if request.user.is_authenticated else "anonymous"
    return hmac.new(settings.SECRET_KEY.encode(), ("pretix_desk.owner." + who).encode(),
                    hashlib.sha256).hexdigest()[:24]


class DeskMixin(EventPermissionRequiredMixin):
    permission = DESK_PERMISSION

    def dispatch(self, request, *args, **kwargs):
        require_desk(request.event)
        return super().dispatch(request, *args, **kwargs)

    def desk_urls(self):
        kwargs = {"organizer": self.request.organizer.slug, "event": self.request.event.slug}
        return {
            "page": reverse("plugins:pretix_desk:desk", kwargs=kwargs),
            "service_worker": reverse("plugins:pretix_desk:desk.sw", kwargs=kwargs),
            "session": reverse("plugins:pretix_desk:desk.session", kwargs=kwargs),
            "control": reverse("control:event.index", kwargs=kwargs),
            "logout": reverse("control:auth.logout"),
        }


class DeskView(DeskMixin, TemplateView):
    template_name = "pretixplugins/pretix_desk/desk/index.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        event = self.request.event
        lists = []
        for cl in CheckinList.objects.filter(event=event).select_related("subevent").order_by("name", "pk"):
            api_base = reverse("api-v1:checkinlist-detail", kwargs={
                "organizer": event.organizer.slug, "event": event.slug, "pk": cl.pk,
            }) + "desk/"
            lists.append({
                "id": cl.pk,
                "name": str(cl.name),
                "subevent": str(cl.subevent) if cl.subevent else None,
                "api": api_base,
                # The offline answers imitate pretix's decision for these two settings.
                "allow_multiple_entries": cl.allow_multiple_entries,
                "allow_entry_after_exit": cl.allow_entry_after_exit,
            })
        badges = badges_active(event)
        ctx["desk_config"] = {
            "event": {"name": str(event.name), "slug": event.slug, "organizer": event.organizer.slug},
            "storage_key": "pretix_desk:{}:{}".format(event.organizer.slug, event.slug),
            "locale": self.request.LANGUAGE_CODE,
            "timezone": event.settings.timezone,
            "csrf_token": get_token(self.request),
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "lists": lists,
            # The organizer's gates a desk may say it stands at (sent with each scan).
            "gates": [
                {"identifier": g.identifier, "name": g.name}
                for g in event.organizer.gates.exclude(identifier="").order_by("name", "pk")
            ],
            # pretix's badges plugin is active: scans may carry a badge PDF to print.
            "badges": badges,
            "urls": self.desk_urls(),
            "version": desk_assets_version(),
            "app_version": __version__,
            "login": desk_login_tag(self.request),
            # The queue is sealed to this key (desk/envelope.py); the search index is only
            # downloaded for those who may list attendees (desk/access.py).
            "upload_key": envelope.public_jwk(event),
            "may_list": self.request.user.has_event_permission(
                event.organizer, event, "event.orders:read", request=self.request),
        }
        ctx["desk_strings"] = desk_strings()
        assets = desk_assets()
        ctx["assets"] = {"css": assets.urls["desk.css"], "js": assets.urls["main.js"]}
        # Rendered verbatim between <script type="importmap"> and </script>: the CSP hash
        # covers exactly this text. pretix's SecurityMiddleware merges it into its policy.
        ctx["import_map"] = mark_safe(assets.import_map)
        csp = {"script-src": [calculate_csp_hash(assets.import_map)]}
        if badges:
            # The badge PDF is printed from a hidden frame holding a blob: copy of it (the
            # API's responses may not be framed: X-Frame-Options DENY).
            csp["frame-src"] = ["blob:"]
        add_to_response_csp_via_request(self.request, csp)
        return ctx


class ServiceWorkerView(DeskMixin, TemplateView):
    """The service worker script. It lives under the page's path so its default scope
    covers the page; it needs no ``Service-Worker-Allowed`` header."""

    template_name = "pretixplugins/pretix_desk/desk/sw.js"
    content_type = "application/javascript; charset=utf-8"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        assets = desk_assets()
        page = self.desk_urls()["page"]
        # One cache per desk page (service worker scope), named after the assets' content:
        # a new release installs into a new cache and the old one is deleted on activation.
        # "pretix-desk-" starts every name: the page's logout deletes caches by that prefix.
        cache_prefix = "pretix-desk-{}-".format(hashlib.sha256(page.encode()).hexdigest()[:12])
        # JSON is a valid JavaScript literal; the values are our own URLs and settings.
        ctx["sw_config"] = mark_safe(_script_json({
            "cache": cache_prefix + assets.version,
            "cache_prefix": cache_prefix,
            "page": page,
            "assets": desk_asset_urls(),
            "aliases": assets.aliases,
            "asset_dir": plain_static_url(DESK_STATIC_PREFIX),
            # A cached page opens offline only while the login that cached it could be valid.
            "session_timeout": settings.PRETIX_SESSION_TIMEOUT_ABSOLUTE,
            "db": {"name": DESK_DB, "keep": list(DESK_DB_KEEP_STORES)},
        }))
        return ctx

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        # Browsers check for a new worker at most daily unless told otherwise.
        response["Cache-Control"] = "no-cache"
        return response


class DeskSessionView(DeskMixin, View):
    """Who is logged in, for a desk page whose API request was refused with 401 or 403:
    pretix's API answers so both an ended session and a missing permission. As a control
    panel page this answers an ended session with the login page (a redirect), a login
    that may not use the desk with 403, and otherwise with the tag of the login, so
    that the page also tells another user's login from its own."""

    def get(self, request, *args, **kwargs):
        response = JsonResponse({"login": desk_login_tag(request)})
        response["Cache-Control"] = "no-store"
        return response
