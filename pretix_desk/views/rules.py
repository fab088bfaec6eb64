"""The control panel's pages for auto check-in rules."""
import uuid

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views import View
from django.views.generic import DetailView, ListView
from pretix.base.models import CachedFile
from pretix.base.views.tasks import AsyncAction
from pretix.control.permissions import EventPermissionRequiredMixin
from pretix.control.views import CreateView, UpdateView
from pretix.plugins.autocheckin.models import AutoCheckinRule as BundledRule

from .. import apply, importer, tasks
from ..autocheckin.providers import payment_providers
from ..autocheckin.rule_data import rule_data
from ..enabled import require_desk
from ..forms import AutoCheckinRuleForm
from ..models import AutoCheckinRule

PERMISSION = "event.settings.general:write"


def _either(names):
    if len(names) == 1:
        return names[0]
    return _("{first} or {last}").format(first=", ".join(names[:-1]), last=names[-1])


def _both(names):
    if len(names) == 1:
        return names[0]
    return _("{first} and {last}").format(first=", ".join(names[:-1]), last=names[-1])


def describe_rule(rule, *, payment_method_names):
    """The rule in one sentence, e.g. "When an order is paid with PayPal, check in
    T-shirt tickets on list Main." ``rule`` has its relations prefetched."""
    channels = [] if rule.all_sales_channels else [str(c.label) for c in rule.limit_sales_channels.all()]
    methods = [] if rule.all_payment_methods else [
        str(payment_method_names.get(m, m)) for m in rule.limit_payment_methods or []
    ]
    products = [] if rule.all_products else (
        [str(i.name) for i in rule.limit_products.all()]
        + [f"{v.item.name} – {v.value}" for v in rule.limit_variations.all()]
    )
    fmt = {"channels": _either(channels) if channels else "",
           "methods": _either(methods) if methods else ""}

    if rule.mode == AutoCheckinRule.MODE_PLACED:
        condition = (_("When an order is placed through {channels}") if channels
                     else _("When an order is placed"))
    elif methods and channels:
        condition = _("When an order placed through {channels} is paid with {methods}")
    elif methods:
        condition = _("When an order is paid with {methods}")
    elif channels:
        condition = _("When an order placed through {channels} is paid")
    else:
        condition = _("When an order is paid")

    if rule.all_products:
        tickets = _("all tickets")
    elif products:
        tickets = _("{products} tickets").format(products=_both(products))
    else:
        tickets = _("no tickets (no product selected)")
    if rule.list_id:
        action = _("check in {tickets} on list {list}").format(tickets=tickets, list=rule.list.name)
    else:
        action = _("check in {tickets} on every list that admits them").format(tickets=tickets)

    # Translators: a condition ("When an order is paid") and an action ("check in all
    # tickets on list Main") make one sentence.
    return _("{condition}, {action}.").format(condition=condition.format(**fmt), action=action)


def _rules(event):
    return AutoCheckinRule.objects.filter(event=event).select_related("list").prefetch_related(
        "limit_sales_channels", "limit_products", "limit_variations__item",
    )


class RuleMixin(EventPermissionRequiredMixin):
    permission = PERMISSION

    def dispatch(self, request, *args, **kwargs):
        # Events without pretix_desk keep pretix's bundled auto check-in; these pages
        # would edit rules that nothing evaluates there.
        require_desk(request.event)
        return super().dispatch(request, *args, **kwargs)

    def get_object(self, queryset=None):
        return get_object_or_404(_rules(self.request.event), pk=self.kwargs["rule"])

    @cached_property
    def index_url(self):
        return reverse("plugins:pretix_desk:rules", kwargs={
            "organizer": self.request.organizer.slug, "event": self.request.event.slug,
        })

    def log(self, rule, action):
        rule.log_action(action, user=self.request.user, data=rule_data(rule))

    def get_context_data(self, **kwargs):
        return super().get_context_data(index_url=self.index_url, **kwargs)


class RuleListView(RuleMixin, ListView):
    template_name = "pretixplugins/pretix_desk/rules/index.html"
    context_object_name = "rules"
    paginate_by = 50

    def get_queryset(self):
        return _rules(self.request.event)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        names = {ident: p.verbose_name for ident, p in payment_providers(self.request.event).items()}
        for rule in ctx["rules"]:
            rule.description = describe_rule(rule, payment_method_names=names)
        ctx["bundled_rules"] = BundledRule.objects.filter(event=self.request.event).count()
        return ctx


class RuleFormMixin(RuleMixin):
    model = AutoCheckinRule
    form_class = AutoCheckinRuleForm
    template_name = "pretixplugins/pretix_desk/rules/form.html"
    context_object_name = "rule"

    def form_valid(self, form):
        with transaction.atomic():
            self.object = form.save()
            self.log(self.object, self.log_action_type)
        messages.success(self.request, self.success_message)
        return redirect(self.index_url)

    def form_invalid(self, form):
        messages.error(self.request, _("We could not save your changes. See below for details."))
        return super().form_invalid(form)


class RuleCreateView(RuleFormMixin, CreateView):
    log_action_type = "pretix_desk.rule.added"
    success_message = _("The rule has been created.")


class RuleUpdateView(RuleFormMixin, UpdateView):
    log_action_type = "pretix_desk.rule.changed"
    success_message = _("Your changes have been saved.")


class RuleDeleteView(RuleMixin, DetailView):
    template_name = "pretixplugins/pretix_desk/rules/delete.html"
    context_object_name = "rule"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        names = {ident: p.verbose_name for ident, p in payment_providers(self.request.event).items()}
        ctx["description"] = describe_rule(self.object, payment_method_names=names)
        return ctx

    def post(self, request, *args, **kwargs):
        rule = self.get_object()
        with transaction.atomic():
            self.log(rule, "pretix_desk.rule.deleted")
            rule.delete()
        messages.success(request, _("The rule has been deleted."))
        return redirect(self.index_url)


class RuleApplyView(RuleMixin, AsyncAction, DetailView):
    """Apply a rule to the orders that exist already: first a dry run that counts what
    it would do, shown on this page, then the run itself. Both are Celery tasks with
    pretix's progress dialog; their summaries live in a ``CachedFile`` of this session."""

    template_name = "pretixplugins/pretix_desk/rules/apply.html"
    context_object_name = "rule"
    task = tasks.apply_rule_in_background
    known_errortypes = ["ApplyError"]

    def get(self, request, *args, **kwargs):
        if "async_id" in request.GET:
            return AsyncAction.get(self, request, *args, **kwargs)
        return DetailView.get(self, request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        rule = self.get_object()
        cf = tasks.new_result_file(request)
        return self.do(
            # Only an explicit "false" checks tickets in; anything else counts.
            request.event.pk, rule=rule.pk, dry_run=request.POST.get("dry_run") != "false",
            result_file=str(cf.pk), **tasks.auth_ids(request),
        )

    @cached_property
    def dry_run_result(self):
        """The dry run this page was sent to show, if it is this session's and this rule's."""
        try:
            cf = CachedFile.objects.filter(pk=uuid.UUID(self.request.GET.get("result", ""))).first()
        except ValueError:
            return None
        if cf is None or not cf.allowed_for_session(self.request, tasks.RESULT_SALT):
            return None
        result = tasks.read_result(cf)
        if not result or not result["dry_run"] or result["rule"] != self.object.pk:
            return None
        return result

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        names = {ident: p.verbose_name for ident, p in payment_providers(self.request.event).items()}
        ctx["description"] = describe_rule(self.object, payment_method_names=names)
        ctx["result"] = self.dry_run_result
        if ctx["result"]:
            ctx["result_text"] = apply.describe(ctx["result"])
        return ctx

    def apply_url(self):
        return reverse("plugins:pretix_desk:rules.apply", kwargs={
            "organizer": self.request.organizer.slug, "event": self.request.event.slug,
            "rule": self.kwargs["rule"],
        })

    def get_success_url(self, value):
        if value["dry_run"]:
            return self.apply_url() + "?result=" + value["result_file"]
        return reverse("plugins:pretix_desk:rules.edit", kwargs={
            "organizer": self.request.organizer.slug, "event": self.request.event.slug,
            "rule": self.kwargs["rule"],
        })

    def get_error_url(self):
        return self.apply_url()

    def get_success_message(self, value):
        # A dry run's numbers are shown on the page it leads to.
        return None if value["dry_run"] else apply.describe(value)


class RuleImportView(RuleMixin, View):
    """Import the event's rules of pretix's bundled automated check-in plugin (POST)."""

    def post(self, request, *args, **kwargs):
        outcomes = importer.import_bundled_rules(event=request.event, user=request.user)
        lines = importer.describe_import(outcomes)
        created = any(o.status == importer.CREATED for o in outcomes)
        (messages.success if created else messages.info)(request, lines[0])
        for line in lines[1:]:
            messages.info(request, line)
        if outcomes and "pretix.plugins.autocheckin" in request.event.get_plugins():
            messages.info(request, _(
                "pretix-desk now runs these rules. You can switch off pretix's \"Automated "
                "check-in\" plugin in the event's plugin settings."
            ))
        return redirect(self.index_url)
