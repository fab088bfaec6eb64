"""The plugin's Celery tasks, on pretix's own task classes."""
import json
from datetime import timedelta

from django.core.cache import cache
from django.core.files.base import ContentFile
from django.utils.timezone import now
from django.utils.translation import gettext as _
from pretix.api.models import OAuthApplication
from pretix.base.models import CachedFile, Device, TeamAPIToken, User
from pretix.base.services.tasks import ProfiledEventTask
from pretix.celery_app import app

from . import apply
from .models import AutoCheckinRule

RESULT_SALT = "pretix_desk-apply"


class ApplyError(Exception):
    """An apply that cannot run; the message is shown to the user."""


def new_result_file(request):
    """A place for a task's summary that only the session or token of ``request`` may
    read, kept for a day."""
    cf = CachedFile(web_download=False, date=now(), expires=now() + timedelta(days=1),
                    filename="result.json", type="application/json")
    cf.bind_to_session(request, RESULT_SALT)
    cf.save()
    return cf


def read_result(cf):
    """The summary a finished task wrote, or ``None`` while it runs."""
    if not cf.file:
        return None
    with cf.file.open("rb") as f:
        return json.loads(f.read())


def auth_ids(request):
    """Who started a task, as the task's keyword arguments (for the log entry)."""
    auth = getattr(request, "auth", None)
    user = request.user if request.user.is_authenticated else None
    return {
        "user": user.pk if user else None,
        "token": auth.pk if isinstance(auth, TeamAPIToken) else None,
        "device": auth.pk if isinstance(auth, Device) else None,
        "oauth_application": getattr(getattr(auth, "application", None), "pk", None),
    }


@app.task(base=ProfiledEventTask, bind=True, name="pretix_desk.tasks.apply_rule", throws=(ApplyError,))
def apply_rule_in_background(self, event, *, rule, dry_run, result_file, user=None, token=None, device=None,
                             oauth_application=None):
    """``apply.apply_rule`` in a worker (the Celery name stays, for tasks already queued).

    Reports its progress as pretix's exports do (pretix's progress dialog shows it) and
    writes its summary to ``result_file``, a ``CachedFile`` bound to whoever started it, as
    pretix's asynchronous API operations keep their results: it survives the result
    backend, and where tasks run eagerly (no worker) it is the only place to read it from.
    """
    try:
        rule = AutoCheckinRule.objects.select_related("event").get(event=event, pk=rule)
    except AutoCheckinRule.DoesNotExist:
        raise ApplyError(_("The rule has been deleted in the meantime."))

    def progress(done, total):
        if not self.request.called_directly:
            self.update_state(state="PROGRESS", meta={"value": round(done / total * 100, 2) if total else 100})

    auth = (
        TeamAPIToken.objects.filter(pk=token).first() if token
        else Device.objects.filter(pk=device).first() if device
        else OAuthApplication.objects.filter(pk=oauth_application).first() if oauth_application
        else None
    )
    result = apply.apply_rule(
        rule=rule, dry_run=dry_run, progress=progress, auth=auth,
        user=User.objects.filter(pk=user).first() if user else None,
    )
    cf = CachedFile.objects.get(pk=result_file)
    cf.file.save("result.json", ContentFile(json.dumps(result).encode()))
    return {**result, "result_file": str(cf.pk)}


@app.task(base=ProfiledEventTask, name="pretix_desk.tasks.derive_seal_keys")
def derive_seal_keys(event):
    """Derive the sealing masters a download found missing (``desk.sealing``); their
    orders are marked changed, so the desks' next syncs send those records sealed."""
    from pretix_desk.desk import sealing

    try:
        sealing.derive_missing(event, touch=True)
    finally:
        cache.delete(sealing.backfill_lock(event))


@app.task(base=ProfiledEventTask, name="pretix_desk.tasks.count_door")
def count_door(event, *, list_ids):
    """Count the door's figures in a worker, so that no manager's refresh waits for it
    (``door.shared``)."""
    from pretix_desk.door import shared

    shared.count_and_share(event, event.checkin_lists.filter(pk__in=list_ids), locked=True)
