"""The control panel's form for an auto check-in rule."""
from django import forms
from django.utils.translation import gettext_lazy as _
from django_scopes.forms import SafeModelChoiceField, SafeModelMultipleChoiceField
from pretix.control.forms import SalesChannelCheckboxSelectMultiple

from .autocheckin.providers import payment_providers
from .models import AutoCheckinRule


def _depends_on(checkbox):
    """Widget attrs that hide a "limit to" picker while its "all" box is ticked."""
    return {
        "data-inverse-dependency": f"<[name$={checkbox}]",
        "class": "scrolling-multiple-choice",
    }


class AutoCheckinRuleForm(forms.ModelForm):
    """One rule, with pickers for list, products and variations, sales channels and
    payment methods. Products and variations share one picker: ``"<item>"`` stands
    for a product with all its variations, ``"<item>-<variation>"`` for one variation.
    """

    itemvars = forms.MultipleChoiceField(label=_("Products"), required=False)
    limit_payment_methods = forms.MultipleChoiceField(label=_("Payment methods"), required=False)

    class Meta:
        model = AutoCheckinRule
        fields = [
            "mode", "list",
            "all_sales_channels", "limit_sales_channels",
            "all_products",
            "all_payment_methods",
        ]
        field_classes = {
            "list": SafeModelChoiceField,
            "limit_sales_channels": SafeModelMultipleChoiceField,
        }
        widgets = {"mode": forms.RadioSelect}

    def __init__(self, *args, event, **kwargs):
        self.event = event
        super().__init__(*args, **kwargs)
        rule = self.instance

        self.fields["list"].queryset = event.checkin_lists.all()
        self.fields["list"].empty_label = _("Every list that admits the ticket")

        channels = self.fields["limit_sales_channels"]
        channels.queryset = event.organizer.sales_channels.all()
        channels.widget = SalesChannelCheckboxSelectMultiple(
            event, attrs=_depends_on("all_sales_channels"), choices=channels.widget.choices,
        )

        items = list(event.items.prefetch_related("variations"))
        self.fields["itemvars"].choices = [
            choice
            for item in items
            for choice in [(str(item.pk), self._item_label(item))] + [
                (f"{item.pk}-{v.pk}", f"{item.name} – {v.value}") for v in item.variations.all()
            ]
        ]
        self.fields["itemvars"].widget = forms.CheckboxSelectMultiple(
            attrs=_depends_on("all_products"), choices=self.fields["itemvars"].choices,
        )

        providers = payment_providers(event)
        choices = [(ident, p.verbose_name) for ident, p in providers.items()]
        # A method that was chosen once stays visible even if its plugin is off now.
        choices += [(m, m) for m in (rule.limit_payment_methods or []) if m not in providers]
        self.fields["limit_payment_methods"].choices = choices
        self.fields["limit_payment_methods"].widget = forms.CheckboxSelectMultiple(
            attrs=_depends_on("all_payment_methods"), choices=choices,
        )

        if rule.pk and not self.is_bound:
            self.initial["itemvars"] = [str(i.pk) for i in rule.limit_products.all()] + [
                f"{v.item_id}-{v.pk}" for v in rule.limit_variations.all()
            ]
            self.initial["limit_payment_methods"] = list(rule.limit_payment_methods or [])

    @staticmethod
    def _item_label(item):
        if item.variations.all():
            return _("{product} – all variations").format(product=item.name)
        return str(item.name)

    def clean(self):
        data = super().clean()
        if data.get("mode") == AutoCheckinRule.MODE_PLACED and not data.get("all_payment_methods", True):
            self.add_error("mode", _(
                "A rule limited to payment methods can only run once the order is paid: "
                "choose \"After the order was paid\" or allow all payment methods."
            ))
        if not data.get("all_sales_channels", True) and not data.get("limit_sales_channels"):
            self.add_error("limit_sales_channels", _(
                "Select at least one sales channel, or let the rule apply to all of them."
            ))
        if not data.get("all_products", True) and not data.get("itemvars"):
            self.add_error("itemvars", _(
                "Select at least one product or variation, or let the rule apply to all of them."
            ))
        if not data.get("all_payment_methods", True) and not data.get("limit_payment_methods"):
            self.add_error("limit_payment_methods", _(
                "Select at least one payment method, or let the rule apply to all of them."
            ))
        return data

    def save(self):
        """Save the rule with all its limits (there is no ``commit=False``: the product
        and variation limits need the saved rule)."""
        rule = self.instance
        rule.event = self.event
        rule.limit_payment_methods = list(self.cleaned_data.get("limit_payment_methods") or [])
        rule = super().save()
        keys = self.cleaned_data.get("itemvars") or []
        item_ids = {int(k) for k in keys if "-" not in k}
        variation_ids = {int(k.split("-")[1]) for k in keys if "-" in k}
        rule.limit_products.set(self.event.items.filter(pk__in=item_ids))
        rule.limit_variations.set(
            rule.limit_variations.model.objects.filter(item__event=self.event, pk__in=variation_ids)
        )
        return rule
