"""The desk API: thin DRF views under pretix's check-in list routes.

They validate input, call the services in ``pretix_desk.desk`` and shape the answer.
Authentication and permissions are pretix's own (``EventPermission``).
"""
import datetime

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from drf_ujson.parsers import UJSONParser
from pretix.base.models import Checkin, Device, OrderPosition
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response

from pretix_desk.desk import badges, envelope, serialization, shared_preload, uploads
from pretix_desk.desk.access import may_list_attendees
from pretix_desk.desk.codes import MAX_CODE_LENGTH, is_plausible_code
from pretix_desk.desk.compression import accepts_gzip, gzip_stream
from pretix_desk.desk.lookup import lookup
from pretix_desk.desk.multilist import scan_on_lists
from pretix_desk.desk.preload import iter_json, prepare_preload
from pretix_desk.desk.questions import InvalidAnswers, is_storable_text
from pretix_desk.desk.redeem import annul, redeem
from pretix_desk.desk.search import MIN_QUERY_LENGTH, search
from pretix_desk.desk.sync import (
    InvalidSyncToken, SyncState, etag_matches, read_download_time, with_sync_state,
)
from pretix_desk.desk.verdict import override_for
from pretix_desk.door.reports import HEADER as REPORT_HEADER, record_report
from pretix_desk.enabled import require_desk

MAX_ID = 2**31 - 1
MAX_ANSWERS = 100
MAX_LISTS = 20
NONCE_MAX_LENGTH = 190  # Checkin.nonce and Redemption.nonce


class AnyContentTypeJSONParser(UJSONParser):
    """Reads every body as JSON, so a form post or text body is a 400 that says the JSON is
    malformed instead of a 415 a desk developer has to puzzle over."""

    media_type = "*/*"


class StrictCharField(serializers.CharField):
    """A string and nothing else: DRF would turn ``123`` or ``true`` into text. JSON can
    carry lone surrogates, which no database can store: refused too."""

    default_error_messages = {"invalid": _("Not a valid string.")}

    def to_internal_value(self, data):
        if not isinstance(data, str) or not is_storable_text(data, max_length=len(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    default_error_messages = {"invalid": _("Must be true or false.")}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


#: The years a scan's or hand-out's ``datetime`` may lie in (docs/desk-api.rst).
SCAN_FIRST_YEAR, SCAN_LAST_YEAR = 2000, 2199


class ScanDateTimeField(serializers.DateTimeField):
    """Offline scans are replayed with the time they happened; years outside this range are
    typos, and would overflow when converted to the event's time zone."""

    default_error_messages = {"range": _("The date must lie between the years {first} and {last}.")}

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="ISO 8601")
        dt = super().to_internal_value(value)
        # a day's margin on either side: no time zone converts it out of range
        if not (datetime.datetime(SCAN_FIRST_YEAR, 1, 2, tzinfo=datetime.timezone.utc) <= dt
                < datetime.datetime(SCAN_LAST_YEAR, 12, 31, tzinfo=datetime.timezone.utc)):
            self.fail("range", first=SCAN_FIRST_YEAR, last=SCAN_LAST_YEAR)
        return dt


def access_code_field():
    return StrictCharField(max_length=MAX_CODE_LENGTH)


def nonce_field():
    return StrictCharField(max_length=NONCE_MAX_LENGTH, required=False, allow_null=True)


class SealedFieldsMixin:
    """A desk's queue keeps codes and answers sealed to the server (``desk.envelope``) and
    uploads them so: ``sealed`` is opened into the fields it holds before validation."""

    def to_internal_value(self, data):
        if isinstance(data, dict) and "sealed" in data:
            nonce = data.get("nonce")
            try:
                opened = envelope.open_sealed(
                    self.context["event"], data["sealed"], nonce=nonce if isinstance(nonce, str) else None,
                )
            except envelope.EnvelopeError:
                raise ValidationError({"sealed": [_("This sealed item cannot be opened with this event's key.")]})
            if set(opened) & set(data):
                raise ValidationError({"sealed": [_("A field is sent both sealed and in clear.")]})
            data = {**{k: v for k, v in data.items() if k != "sealed"}, **opened}
        return super().to_internal_value(data)


def sealed_field():
    """Documents ``sealed`` (opened before the other fields are validated)."""
    return serializers.DictField(required=False)


class OfflineSerializer(serializers.Serializer):
    """What a desk answered offline (``docs/desk-api.rst``, ``offline``)."""

    answer = serializers.ChoiceField(choices=(uploads.ADMITTED, uploads.REFUSED))
    reason = serializers.ChoiceField(choices=[code for code, _label in Checkin.REASONS], required=False)
    sync_token = StrictCharField(max_length=1000)

    def validate_sync_token(self, value):
        try:
            return read_download_time(value, checkin_list=self.context["checkin_list"])
        except InvalidSyncToken as e:
            raise ValidationError(str(e))

    def validate(self, attrs):
        if (attrs["answer"] == uploads.REFUSED) != ("reason" in attrs):
            raise ValidationError({"reason": [_("Send the reason with a refusal, and only then.")]})
        since, admission = attrs["sync_token"]
        return uploads.OfflineClaim(
            answer=attrs["answer"], reason=attrs.get("reason"), since=since, admission=admission,
        )


class ScanInputSerializer(SealedFieldsMixin, serializers.Serializer):
    access_code = StrictCharField(max_length=MAX_CODE_LENGTH, required=False)
    position_id = StrictIntegerField(min_value=1, max_value=MAX_ID, required=False)
    type = serializers.ChoiceField(choices=Checkin.CHECKIN_TYPES, default=Checkin.TYPE_ENTRY)
    nonce = nonce_field()
    datetime = ScanDateTimeField(required=False, allow_null=True)
    ignore_unpaid = StrictBooleanField(required=False, default=False)
    force = StrictBooleanField(required=False, default=False)
    gate = StrictCharField(max_length=190, required=False, allow_null=True)
    answers = serializers.DictField(required=False, allow_empty=True)
    other_lists = serializers.ListField(
        child=StrictIntegerField(min_value=1, max_value=MAX_ID), required=False, max_length=MAX_LISTS,
    )
    questions_supported = StrictBooleanField(required=False, default=True)
    offline = OfflineSerializer(required=False)
    use_order_locale = StrictBooleanField(required=False, default=False)
    sealed = sealed_field()

    def validate_answers(self, value):
        if len(value) > MAX_ANSWERS or any(not key.isascii() or not key.isdigit() for key in value):
            raise ValidationError(_("Answers must map question ids to answers."))
        return value

    def validate_other_lists(self, value):
        lists = {cl.pk: cl for cl in self.context["event"].checkin_lists.filter(pk__in=value)}
        unknown = [pk for pk in value if pk not in lists]
        if unknown:
            raise ValidationError(_("These are no check-in lists of this event: {ids}").format(
                ids=", ".join(str(pk) for pk in unknown)))
        for cl in lists.values():
            cl.event = self.context["event"]
        return [lists[pk] for pk in dict.fromkeys(value)]

    def validate_gate(self, value):
        if value is None:
            return None
        gate = self.context["organizer"].gates.filter(identifier=value).first()
        if gate is None:
            raise ValidationError(_("No gate with this identifier exists."))
        return gate

    def validate(self, attrs):
        # A desk that checks in a search result offline knows the position, not its code.
        if ("access_code" in attrs) == ("position_id" in attrs):
            raise ValidationError({"access_code": [_("Send either access_code or position_id.")]})
        if "offline" in attrs and not (attrs.get("nonce") and attrs.get("datetime")):
            raise ValidationError({"offline": [_("An offline scan needs its nonce and the time it was made.")]})
        return attrs


class RedeemInputSerializer(SealedFieldsMixin, serializers.Serializer):
    access_code = access_code_field()
    line_item_id = StrictIntegerField(min_value=1, max_value=MAX_ID)
    nonce = nonce_field()
    datetime = ScanDateTimeField(required=False, allow_null=True)
    sealed = sealed_field()


class AnnulInputSerializer(serializers.Serializer):
    access_code = access_code_field()
    line_item_id = StrictIntegerField(min_value=1, max_value=MAX_ID)


class PreloadQuerySerializer(serializers.Serializer):
    product = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    since = serializers.CharField(required=False, max_length=1000)


class SearchQuerySerializer(serializers.Serializer):
    q = serializers.CharField(min_length=MIN_QUERY_LENGTH, max_length=200)


class DeskViewSet(viewsets.ViewSet):
    """The registration desk's endpoints on one check-in list."""

    parser_classes = (AnyContentTypeJSONParser,)

    def _get_permission_name(self, request):
        if request.method in SAFE_METHODS:
            return "event.orders:checkin", "event.orders:read"
        return "event.orders:checkin", "event.orders:write"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # After pretix's permission check, which loaded request.event.
        require_desk(request.event)
        list_id = kwargs.get("list", "")
        # str.isdigit() also accepts "²" and other digits int() refuses.
        if not (list_id.isascii() and list_id.isdigit()) or int(list_id) > MAX_ID:
            raise NotFound()
        self._lists = request.event.checkin_lists.filter(pk=int(list_id))
        self._checkin_list = None
        self.tz = request.event.timezone

    @property
    def checkin_list(self):
        """The URL's list, loaded when an action first needs it (404 if there is none)."""
        if self._checkin_list is None:
            self._use_list(self._lists.first())
        return self._checkin_list

    def _use_list(self, checkin_list):
        if checkin_list is None:
            raise NotFound()
        checkin_list.event = self.request.event
        self._checkin_list = checkin_list

    def _keep_report(self):
        """The desk's report about itself, sent with its syncs (door/reports.py)."""
        value = self.request.headers.get(REPORT_HEADER)
        if value and not isinstance(self.request.auth, Device):
            record_report(value, event=self.request.event, checkin_list=self.checkin_list,
                          user=self.request.user, at=now())

    def _validated(self, serializer_class, data):
        serializer = serializer_class(data=data, context={
            "organizer": self.request.organizer, "event": self.request.event, "checkin_list": self.checkin_list,
        })
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _printable_badge(self, position):
        if position is None or not badges.badges_active(self.request.event):
            return None
        layout = badges.badge_layout(position)
        if layout is None:
            return None
        return {
            "layout": {"id": layout.pk, "name": layout.name},
            "url": reverse("api-v1:desk-badge", kwargs={
                "organizer": self.request.organizer.slug, "event": self.request.event.slug,
                "list": self.checkin_list.pk, "position": position.pk,
            }),
        }

    def _may_force(self):
        """Forcing a check-in past pretix's checks is for people who may change orders;
        a scanning device never may."""
        return not isinstance(self.request.auth, Device) and "event.orders:write" in self.request.eventpermset

    def _actor(self):
        return {"user": self.request.user, "auth": self.request.auth}

    @action(detail=False, methods=["post"], url_path="scan", url_name="scan")
    def scan(self, request, **kwargs):
        data = self._validated(ScanInputSerializer, request.data)
        may_force = self._may_force()
        if data["force"] and not may_force:
            raise PermissionDenied(_("You may not force a check-in: that needs the permission "
                                     "to change orders, and devices never may."))
        offline = data.get("offline")
        # A refusal made offline is recorded on the list that answered it, wherever the
        # ticket would be admitted now.
        other_lists = [] if offline is not None and not offline.admitted else data.get("other_lists", [])
        try:
            outcome = scan_on_lists(
                checkin_lists=[self.checkin_list] + [cl for cl in other_lists if cl.pk != self.checkin_list.pk],
                access_code=data.get("access_code"),
                position_id=data.get("position_id"),
                checkin_type=data["type"],
                nonce=data.get("nonce"),
                when=data.get("datetime"),
                ignore_unpaid=data["ignore_unpaid"],
                force=data["force"],
                gate=data.get("gate"),
                answers=data.get("answers"),
                questions_supported=data["questions_supported"],
                offline=offline,
                use_order_locale=data["use_order_locale"],
                **self._actor(),
            )
        except InvalidAnswers as e:
            raise ValidationError({"answers": e.errors})
        refused = outcome.status not in ("ok", "incomplete", "invalid")
        body, status = serialization.scan_payload(
            outcome, tz=self.tz, badge=self._printable_badge(outcome.position) if outcome.status == "ok" else None,
            override=override_for(
                outcome.position, outcome.reason, may_force=may_force,
                include_pending=outcome.checkin_list.include_pending,
            ) if refused else None,
            uploaded="offline" in data,
        )
        return Response(body, status=status)

    @action(detail=False, methods=["get"], url_path=r"lookup/(?P<code>.+)", url_name="lookup")
    def lookup(self, request, code, **kwargs):
        outcome = None
        if is_plausible_code(code):
            outcome = lookup(checkin_list=self.checkin_list, access_code=code, **self._actor())
        if outcome is None:
            return Response({"status": "error", "reason": Checkin.REASON_INVALID}, status=404)
        return Response(serialization.lookup_payload(
            outcome, tz=self.tz, badge=self._printable_badge(outcome.position),
        ))

    @action(detail=False, methods=["post"], url_path="redeem", url_name="redeem")
    def redeem(self, request, **kwargs):
        data = self._validated(RedeemInputSerializer, request.data)
        outcome = redeem(
            checkin_list=self.checkin_list,
            access_code=data["access_code"],
            line_item_id=data["line_item_id"],
            nonce=data.get("nonce"),
            when=data.get("datetime"),
            **self._actor(),
        )
        body, status = serialization.redeem_payload(outcome, tz=self.tz)
        return Response(body, status=status)

    @action(detail=False, methods=["post"], url_path="redeem/annul", url_name="redeem-annul")
    def annul(self, request, **kwargs):
        data = self._validated(AnnulInputSerializer, request.data)
        outcome = annul(
            checkin_list=self.checkin_list,
            access_code=data["access_code"],
            line_item_id=data["line_item_id"],
            **self._actor(),
        )
        body, status = serialization.redeem_payload(outcome, tz=self.tz)
        return Response(body, status=status)

    @action(detail=False, methods=["get"], url_path="preload", url_name="preload")
    def preload(self, request, **kwargs):
        # the list with the event's changes for the ETag, in one statement
        self._use_list(with_sync_state(self._lists).first())
        self._keep_report()
        params = self._validated(PreloadQuerySerializer, request.query_params)
        try:
            preload = prepare_preload(
                checkin_list=self.checkin_list,
                product_id=params.get("product"),
                since_token=params.get("since"),
                may_list=may_list_attendees(auth=request.auth, permissions=request.eventpermset),
                sync_state=SyncState.of(self.checkin_list),
            )
        except InvalidSyncToken as e:
            raise ValidationError({"since": [str(e)]})
        etag = preload.etag()
        compressed = accepts_gzip(request.headers.get("Accept-Encoding"))
        if etag_matches(request.headers.get("If-None-Match"), etag):
            response = HttpResponse(status=304)
        elif compressed:
            def render():
                return gzip_stream(iter_json(preload))

            etag, body = shared_preload.shared_download(preload, etag, render)
            if etag_matches(request.headers.get("If-None-Match"), etag):
                response = HttpResponse(status=304)  # the shared body is one the desk holds
            else:
                response = StreamingHttpResponse(body, content_type="application/json")
                response["Content-Encoding"] = "gzip"
        else:
            response = StreamingHttpResponse(iter_json(preload), content_type="application/json")
        # one representation per encoding: the compressed one's tag is weak, as Django's own
        # GZipMiddleware makes it (etag_matches takes either form)
        response["ETag"] = "W/" + etag if compressed else etag
        patch_vary_headers(response, ("Accept-Encoding",))
        response["Cache-Control"] = "private, no-cache"
        return response

    @action(detail=False, methods=["get"], url_path=r"badge/(?P<position>[0-9]{1,10})", url_name="badge")
    def badge(self, request, position, **kwargs):
        """The attendee's badge as a PDF, rendered by pretix's badges plugin."""
        if not badges.badges_active(request.event) or int(position) > MAX_ID:
            raise NotFound(_("Badges are not active for this event."))
        op = OrderPosition.objects.filter(pk=int(position), order__event=request.event).select_related(
            "order", "item", "variation", "subevent",
        ).first()
        if op is None or badges.badge_layout(op) is None:
            raise NotFound(_("No badge is printed for this ticket."))
        op.order.event = request.event
        try:
            pdf = badges.render_badge(op)
        except badges.ExportError as e:
            raise NotFound(str(e))
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = 'inline; filename="badge-{}-{}.pdf"'.format(op.order.code, op.positionid)
        response["Cache-Control"] = "private, no-store"
        return response

    @action(detail=False, methods=["get"], url_path="search", url_name="search")
    def search(self, request, **kwargs):
        self._keep_report()  # a desk that downloads nothing probes with an empty search
        params = self._validated(SearchQuerySerializer, request.query_params)
        positions = search(checkin_list=self.checkin_list, query=params["q"])
        return Response(serialization.search_payload(positions, tz=self.tz))
