"""The desk scanner page and the service worker that keeps it usable offline.

The page is a standalone document (like pretix's web check-in) rather than a child of the
control panel layout: door staff need the whole screen for the result colour, and the
service worker must be able to cache everything the page loads, which rules out the control
panel's compressed bundles. All data comes from the desk API; these views only hand the
page its configuration and its translated strings.
"""
import hashlib
import hmac
import json
from functools import lru_cache

from django.conf import settings
from django.contrib.staticfiles import finders
from django.http import Http404
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import reverse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.views.generic import TemplateView
from pretix.base.models import CheckinList
from pretix.base.permissions import AnyPermissionOf
from pretix.control.permissions import EventPermissionRequiredMixin

from pretix_desk import __version__

from .desk_strings import desk_strings

#: Who may open the desk: the same people who may scan through the desk API.
DESK_PERMISSION = AnyPermissionOf("event.orders:checkin", "event.orders:write")

#: Static files of the page, relative to ``pretix_desk/desk/``. The service worker
#: pre-caches exactly these, so a reload without network still opens the page.
DESK_ASSETS = (
    "desk.css",
    "main.js",
    "api.js",
    "camera.js",
    "hash.js",
    "offline.js",
    "queue.js",
    "scanner.js",
    "sound.js",
    "store.js",
    "ui.js",
    "util.js",
    "vendor/jsQR.js",
)


def desk_asset_urls():
    return [static("pretix_desk/desk/" + name) for name in DESK_ASSETS]


@lru_cache(maxsize=1)
def desk_assets_version():
    """A fingerprint of the page's static files, so that a new release of the plugin
    changes the service worker script and browsers replace their cached copies."""
    digest = hashlib.sha256(__version__.encode())
    for name in DESK_ASSETS:
        path = finders.find("pretix_desk/desk/" + name)
        if path:
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:16]


def desk_owner_tag(request):
    """Who the offline data on this browser belongs to, without naming them: the page
    deletes another user's downloaded attendees before it shows anything."""
    who = "user:{}".format(request.user.pk) if request.user.is_authenticated else "anonymous"
    return hmac.new(settings.SECRET_KEY.encode(), ("pretix_desk.owner." + who).encode(),
                    hashlib.sha256).hexdigest()[:24]


class DeskMixin(EventPermissionRequiredMixin):
    permission = DESK_PERMISSION

    def dispatch(self, request, *args, **kwargs):
        # pretix does not gate a plugin's control panel URLs by the event's plugin choice.
        if "pretix_desk" not in request.event.get_plugins():
            raise Http404(gettext("The registration desk is not enabled for this event."))
        return super().dispatch(request, *args, **kwargs)

    def desk_urls(self):
        kwargs = {"organizer": self.request.organizer.slug, "event": self.request.event.slug}
        return {
            "page": reverse("plugins:pretix_desk:desk", kwargs=kwargs),
            "service_worker": reverse("plugins:pretix_desk:desk.sw", kwargs=kwargs),
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
        ctx["desk_config"] = {
            "event": {"name": str(event.name), "slug": event.slug, "organizer": event.organizer.slug},
            "storage_key": "pretix_desk:{}:{}".format(event.organizer.slug, event.slug),
            "locale": self.request.LANGUAGE_CODE,
            "timezone": event.settings.timezone,
            "csrf_token": get_token(self.request),
            "csrf_cookie": settings.CSRF_COOKIE_NAME,
            "lists": lists,
            "urls": self.desk_urls(),
            "version": desk_assets_version(),
            "owner": desk_owner_tag(self.request),
        }
        ctx["desk_strings"] = desk_strings()
        ctx["assets"] = {"css": static("pretix_desk/desk/desk.css"), "js": static("pretix_desk/desk/main.js")}
        return ctx


class ServiceWorkerView(DeskMixin, TemplateView):
    """The service worker script. It lives under the page's path so its default scope
    covers the page; it needs no ``Service-Worker-Allowed`` header."""

    template_name = "pretixplugins/pretix_desk/desk/sw.js"
    content_type = "application/javascript; charset=utf-8"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        # JSON is a valid JavaScript literal; the values are our own URLs.
        ctx["sw_config"] = mark_safe(json.dumps({
            "cache": "pretix-desk-{}".format(desk_assets_version()),
            "page": self.desk_urls()["page"],
            "assets": desk_asset_urls(),
            "asset_dir": settings.STATIC_URL + "pretix_desk/desk/",
        }))
        return ctx

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        # Browsers check for a new worker at most daily unless told otherwise.
        response["Cache-Control"] = "no-cache"
        return response
