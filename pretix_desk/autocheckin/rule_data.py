"""A rule as plain data: what the API answers and a rule's log entries record."""


def rule_data(rule):
    """The rule's fields, its sales channels by identifier, its products and variations by
    id, in the API's order (``api/rules.py`` answers with it)."""
    return {
        "id": rule.pk,
        "list": rule.list_id,
        "mode": rule.mode,
        "all_sales_channels": rule.all_sales_channels,
        "limit_sales_channels": [c.identifier for c in rule.limit_sales_channels.all()],
        "all_products": rule.all_products,
        "limit_products": [i.pk for i in rule.limit_products.all()],
        "limit_variations": [v.pk for v in rule.limit_variations.all()],
        "all_payment_methods": rule.all_payment_methods,
        "limit_payment_methods": list(rule.limit_payment_methods),
    }
