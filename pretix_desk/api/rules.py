"""The ``auto_checkin_rules`` resource of an event, in place of the bundled plugin's."""
import re
import uuid

from celery.result import AsyncResult
from django.conf import settings
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from pretix.base.models import (
    CachedFile, CheckinList, Item, ItemVariation, SalesChannel,
)
from pretix.plugins.autocheckin.api import RuleViewSet as BundledRuleViewSet
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.reverse import reverse

from pretix_desk.enabled import desk_enabled

from .. import apply, tasks
from ..autocheckin.providers import payment_providers
from ..autocheckin.rule_data import rule_data
from ..models import AutoCheckinRule

RE_TASK_ID = re.compile(r"^[a-zA-Z0-9\-]+$")

#: What a field left out of a PUT body (or a POST body) becomes.
DEFAULTS = {
    "list": None,
    "mode": AutoCheckinRule.MODE_PLACED,
    "all_sales_channels": True,
    "limit_sales_channels": [],
    "all_products": True,
    "limit_products": [],
    "limit_variations": [],
    "all_payment_methods": True,
    "limit_payment_methods": [],
}

PLACED_NEEDS_ALL_PAYMENT_METHODS = _("all_payment_methods should be used for mode=placed")


class IdentifierRelatedField(serializers.SlugRelatedField):
    """A sales channel by identifier; text PostgreSQL cannot store (a NUL character) is no
    identifier, and must be a 400, not a database error."""

    def to_internal_value(self, data):
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", "\\x00"))
        return super().to_internal_value(data)


class AutoCheckinRuleSerializer(serializers.ModelSerializer):
    list = serializers.PrimaryKeyRelatedField(
        queryset=CheckinList.objects.none(), allow_null=True, required=False,
    )
    limit_sales_channels = IdentifierRelatedField(
        slug_field="identifier", queryset=SalesChannel.objects.none(), many=True,
        required=False,
    )
    limit_products = serializers.PrimaryKeyRelatedField(
        queryset=Item.objects.none(), many=True, required=False,
    )
    limit_variations = serializers.PrimaryKeyRelatedField(
        queryset=ItemVariation.objects.none(), many=True, required=False,
    )
    limit_payment_methods = serializers.ListField(
        child=serializers.CharField(), required=False, allow_empty=True,
    )

    class Meta:
        model = AutoCheckinRule
        fields = [
            "id", "list", "mode",
            "all_sales_channels", "limit_sales_channels",
            "all_products", "limit_products", "limit_variations",
            "all_payment_methods", "limit_payment_methods",
        ]
        read_only_fields = ["id"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        event = self.context["event"]
        self.fields["list"].queryset = event.checkin_lists.all()
        self.fields["limit_sales_channels"].child_relation.queryset = (
            event.organizer.sales_channels.all()
        )
        self.fields["limit_products"].child_relation.queryset = event.items.all()
        self.fields["limit_variations"].child_relation.queryset = (
            ItemVariation.objects.filter(item__event=event)
        )

    def validate_limit_payment_methods(self, value):
        known = payment_providers(self.context["event"])
        unknown = [v for v in value if v not in known]
        if unknown:
            raise serializers.ValidationError(
                _("Unknown payment method: {names}. Known: {known}.").format(
                    names=", ".join(f'"{v}"' for v in unknown),
                    known=", ".join(sorted(known)),
                )
            )
        return sorted(set(value), key=value.index)

    def to_representation(self, instance):
        return rule_data(instance)

    def validate(self, attrs):
        if self.instance is None or not self.partial:
            # POST and PUT describe the whole rule: what they leave out is the default.
            attrs = {**DEFAULTS, **attrs}
            result = attrs
        else:
            # PATCH changes what it names; the rule it leaves behind must still be valid.
            result = {
                "mode": self.instance.mode,
                "all_payment_methods": self.instance.all_payment_methods,
                **attrs,
            }
        if result["mode"] == AutoCheckinRule.MODE_PLACED and not result["all_payment_methods"]:
            raise serializers.ValidationError(PLACED_NEEDS_ALL_PAYMENT_METHODS)
        return attrs


class ApplySerializer(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)


class AutoCheckinRuleViewSet(BundledRuleViewSet):
    """Takes the bundled plugin's place in pretix's router: pretix_desk's rules for events
    that enable pretix_desk, the bundled viewset unchanged (inherited, deferred to) for
    every other event."""
    queryset = AutoCheckinRule.objects.none()

    @cached_property
    def serves_desk_rules(self):
        # request.event was loaded by the permission check in initial(), which runs
        # before any of the methods below.
        return desk_enabled(self.request.event)

    def get_queryset(self):
        if not self.serves_desk_rules:
            return super().get_queryset()
        return AutoCheckinRule.objects.filter(event=self.request.event).prefetch_related(
            "limit_sales_channels", "limit_products", "limit_variations",
        )

    def get_serializer_class(self):
        if not self.serves_desk_rules:
            return super().get_serializer_class()
        return AutoCheckinRuleSerializer

    def perform_create(self, serializer):
        if not self.serves_desk_rules:
            return super().perform_create(serializer)
        with transaction.atomic():
            rule = serializer.save(event=self.request.event)
            self._log(rule, "pretix_desk.rule.added", serializer.data)

    def perform_update(self, serializer):
        if not self.serves_desk_rules:
            return super().perform_update(serializer)
        with transaction.atomic():
            rule = serializer.save()
            self._log(rule, "pretix_desk.rule.changed", serializer.data)

    def perform_destroy(self, instance):
        if not self.serves_desk_rules:
            return super().perform_destroy(instance)
        with transaction.atomic():
            self._log(instance, "pretix_desk.rule.deleted", rule_data(instance))
            instance.delete()

    def _log(self, rule, action, data):
        rule.log_action(action, user=self.request.user, auth=self.request.auth, data=dict(data))

    # --- applying a rule to existing orders: 202 and a URL to poll, as pretix's
    # asynchronous operations (exports, shredders) answer ---

    @action(detail=True, methods=["POST"])
    def apply(self, request, *args, **kwargs):
        if not self.serves_desk_rules:
            raise Http404()
        rule = self.get_object()
        serializer = ApplySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cf = tasks.new_result_file(request)
        result = tasks.apply_rule_in_background.apply_async(args=(request.event.pk,), kwargs={
            "rule": rule.pk, "dry_run": serializer.validated_data["dry_run"],
            "result_file": str(cf.pk), **tasks.auth_ids(request),
        })
        return Response({
            "result": reverse("api-v1:autocheckinrules-apply-result", kwargs={
                **self.kwargs, "asyncid": result.id, "cfid": str(cf.pk),
            }, request=request),
        }, status=status.HTTP_202_ACCEPTED)

    @action(detail=True, methods=["GET"], url_name="apply-result",
            url_path=r"apply/(?P<asyncid>[^/]+)/(?P<cfid>[^/]+)")
    def apply_result(self, request, *args, asyncid, cfid, **kwargs):
        if not self.serves_desk_rules:
            raise Http404()
        rule = self.get_object()
        try:
            cf = get_object_or_404(CachedFile, pk=uuid.UUID(cfid))
        except ValueError:
            raise Http404()
        if not cf.allowed_for_session(request, tasks.RESULT_SALT):
            return Response({"status": "failed", "message": "Unknown result."}, status=status.HTTP_410_GONE)
        result = tasks.read_result(cf)
        if result is not None:
            if result["rule"] != rule.pk:
                raise Http404()
            return Response({"status": "done", **result, "message": apply.describe(result)})
        if not settings.HAS_CELERY:
            # Tasks run eagerly here: no result means the task failed.
            return Response({"status": "failed", "message": "Internal error"}, status=status.HTTP_410_GONE)
        if not RE_TASK_ID.match(asyncid):
            raise Http404()
        res = AsyncResult(asyncid)
        if res.failed():
            message = "Internal error"
            if isinstance(res.info, tasks.ApplyError):
                message = str(res.info)
            return Response({"status": "failed", "message": message}, status=status.HTTP_410_GONE)
        running = res.state in ("PROGRESS", "STARTED", "SUCCESS")
        percentage = res.info.get("value") if isinstance(res.info, dict) and res.state == "PROGRESS" else None
        return Response({"status": "running" if running else "waiting", "percentage": percentage},
                        status=status.HTTP_409_CONFLICT)
