"""Handing out add-ons and bundled products at the desk, once per line item.

"Once" is the database's job: a partial unique index admits one non-annulled redemption
per position, so two desks racing for the same T-shirt end with one insert and one
IntegrityError, never with two rows.
"""
from django.db import IntegrityError, transaction
from django.utils.timezone import now
from pretix.base.models import Device, OrderPosition

from pretix_desk.models import Redemption

from .outcomes import RedeemOutcome
from .positions import desk_positions, redeemed_at_subquery, with_desk_state
from .verdict import handout_refusal

ALREADY_REDEEMED = "already_redeemed"
NOT_REDEEMED = "not_redeemed"
LINE_ITEM = "line_item"


def redeem(*, checkin_list, access_code, line_item_id, nonce=None, when=None, user=None,
           auth=None) -> RedeemOutcome:
    found = _attendee_and_line_item(
        checkin_list=checkin_list, access_code=access_code, line_item_id=line_item_id,
    )
    if isinstance(found, RedeemOutcome):
        return found
    position, line_item = found
    if (refusal := handout_refusal(position)) is not None:
        return RedeemOutcome(status="error", reason=refusal, position=position, line_item=line_item)

    if nonce:
        earlier = Redemption.objects.filter(position=line_item, nonce=nonce).first()
        if earlier is not None:
            return _redeemed(earlier, position=position, line_item=line_item, replayed=True)

    redemption = Redemption(
        position=line_item,
        checkin_list=checkin_list,
        datetime=when or now(),
        user=user if user is not None and user.is_authenticated else None,
        device=auth if isinstance(auth, Device) else None,
        nonce=nonce,
    )
    try:
        with transaction.atomic():
            redemption.save()
            position.order.touch()  # so the next preload sync sends this attendee again
            position.order.log_action("pretix_desk.redeemed", data=_log_data(
                redemption, position=position, line_item=line_item, checkin_list=checkin_list,
            ), user=user, auth=auth)
    except IntegrityError:
        if nonce:
            earlier = Redemption.objects.filter(position=line_item, nonce=nonce).first()
            if earlier is not None:  # the same request, sent twice at once
                return _redeemed(earlier, position=position, line_item=line_item, replayed=True)
        current = Redemption.objects.filter(position=line_item, annulled__isnull=True).first()
        line_item.redeemed_at = current.datetime if current else None
        return RedeemOutcome(
            status="error", reason=ALREADY_REDEEMED, position=position, line_item=line_item,
            redemption=current,
        )
    return _redeemed(redemption, position=position, line_item=line_item)


def annul(*, checkin_list, access_code, line_item_id, user=None, auth=None) -> RedeemOutcome:
    """Undo a redemption made by mistake. The row stays, marked annulled, and the order log
    says who undid it."""
    found = _attendee_and_line_item(
        checkin_list=checkin_list, access_code=access_code, line_item_id=line_item_id,
    )
    if isinstance(found, RedeemOutcome):
        return found
    position, line_item = found
    with transaction.atomic():
        redemption = Redemption.objects.filter(position=line_item, annulled__isnull=True).first()
        annulled_at = now()
        # A conditional UPDATE, so two desks undoing at once annul it once.
        if redemption is None or not Redemption.objects.filter(
            pk=redemption.pk, annulled__isnull=True
        ).update(annulled=annulled_at):
            return RedeemOutcome(
                status="error", reason=NOT_REDEEMED, position=position, line_item=line_item,
            )
        redemption.annulled = annulled_at
        position.order.touch()
        position.order.log_action("pretix_desk.redemption.annulled", data=_log_data(
            redemption, position=position, line_item=line_item, checkin_list=checkin_list,
        ), user=user, auth=auth)
    line_item.redeemed_at = None
    return RedeemOutcome(
        status="annulled", position=position, line_item=line_item, redemption=redemption,
    )


def _attendee_and_line_item(*, checkin_list, access_code, line_item_id):
    found = desk_positions(with_desk_state(
        OrderPosition.all.filter(secret=access_code, order__event_id=checkin_list.event_id),
        checkin_list=checkin_list,
    )[:1])
    if not found:
        return RedeemOutcome(status="invalid", reason="invalid")
    position = found[0]
    position.order.event = checkin_list.event
    line_item = (
        OrderPosition.objects.filter(pk=line_item_id, addon_to_id=position.pk)
        .select_related("item", "variation")
        .annotate(redeemed_at=redeemed_at_subquery())
        .first()
    )
    if line_item is None:
        return RedeemOutcome(status="error", reason=LINE_ITEM, position=position)
    return position, line_item


def _redeemed(redemption, *, position, line_item, replayed=False):
    line_item.redeemed_at = redemption.datetime
    return RedeemOutcome(
        status="redeemed", position=position, line_item=line_item, redemption=redemption,
        replayed=replayed,
    )


def _log_data(redemption, *, position, line_item, checkin_list):
    return {
        "redemption": redemption.pk,
        "position": position.pk,
        "positionid": position.positionid,
        "line_item": line_item.pk,
        "line_item_positionid": line_item.positionid,
        "product": str(line_item.item.name),
        "list": checkin_list.pk,
        "list_name": checkin_list.name,
        "datetime": redemption.datetime,
    }
