"""What a desk service answers, before it becomes JSON."""
import datetime
from dataclasses import dataclass, field
from typing import Optional

from pretix.base.models import Checkin, OrderPosition


@dataclass
class ScanOutcome:
    """``status`` is ``ok``, ``error`` (refused, ``reason`` says why), ``incomplete``
    (``questions`` must be answered first) or ``invalid``."""

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
