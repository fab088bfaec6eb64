"""What a desk service answers, before it becomes JSON."""
import datetime
from dataclasses import dataclass, field
from typing import Optional

from pretix.base.models import Checkin, OrderPosition


@dataclass
class Conflict:
    """An offline admission that pretix did not take as an ordinary check-in: why pretix
    refuses it now, the check-in recorded (forced) or None (refused), and the position's
    other check-ins on the list."""

    position_id: Optional[int]
    reason: Optional[str]
    explanation: Optional[str]
    checkin: Optional[Checkin]
    others: list


@dataclass
class ScanOutcome:
    """``status`` is ``ok``, ``error`` (refused, ``reason`` says why), ``incomplete``
    (``questions`` must be answered first) or ``invalid``. For an offline upload,
    ``recorded`` says what pretix recorded (``uploads.RECORDED_*``, None: nothing) and
    ``conflict`` why an admission did not become an ordinary check-in."""

    status: str
    reason: Optional[str] = None
    explanation: Optional[str] = None
    position: Optional[OrderPosition] = None
    checkin: Optional[Checkin] = None
    last_entry_at: Optional[datetime.datetime] = None
    line_items: list = field(default_factory=list)
    replayed: bool = False
    questions: list = field(default_factory=list)
    checkin_list: object = None
    recorded: Optional[str] = None
    conflict: Optional[Conflict] = None


@dataclass
class LookupOutcome:
    """What the desk shows for a code without scanning it."""

    position: OrderPosition
    last_entry_at: Optional[datetime.datetime]
    line_items: list
    checkins: list
    can_check_in: bool
    reason: Optional[str] = None
    explanation: Optional[str] = None
    #: ids of the check-in questions a scan asks before it checks in
    questions: list = field(default_factory=list)


@dataclass
class RedeemOutcome:
    """``status`` is ``redeemed``, ``annulled``, ``error`` (``reason`` says why) or
    ``invalid`` (unknown code)."""

    status: str
    reason: Optional[str] = None
    position: Optional[OrderPosition] = None
    line_item: Optional[OrderPosition] = None
    redemption: object = None
    replayed: bool = False
