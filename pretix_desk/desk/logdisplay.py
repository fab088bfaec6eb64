"""How the desk's entries read in an order's log."""
from django.utils.translation import gettext_lazy as _
from pretix.base.logentrytypes import OrderLogEntryType, log_entry_types


@log_entry_types.new_from_dict({
    "pretix_desk.redeemed": _(
        "Position #{line_item_positionid} ({product}) was handed out at the registration "
        "desk (check-in list \"{list_name}\")."
    ),
    "pretix_desk.redemption.annulled": _(
        "The hand-out of position #{line_item_positionid} ({product}) at the registration "
        "desk was undone."
    ),
})
class DeskOrderLogEntryType(OrderLogEntryType):
    pass
