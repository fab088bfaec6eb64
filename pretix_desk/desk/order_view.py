"""The redemptions of an order, for the control panel's order page."""
from django.template.loader import get_template

from pretix_desk.models import Redemption


def order_redemptions_html(*, order, request):
    redemptions = list(
        Redemption.objects.filter(position__order=order)
        .select_related("position", "position__item", "position__variation", "checkin_list",
                        "user", "device")
        .order_by("-datetime", "-pk")
    )
    if not redemptions:
        return ""
    template = get_template("pretixplugins/pretix_desk/order_redemptions.html")
    return template.render({"redemptions": redemptions, "order": order}, request=request)
