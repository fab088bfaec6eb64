"""The benchmark command runs end to end on a small data set and leaves nothing behind."""
import io

import pytest
from django.core.management import call_command
from pretix.base.models import Order, Organizer


@pytest.mark.django_db
def test_benchmark_command(organizer):
    out = io.StringIO()
    call_command("desk_benchmark", attendees=120, stdout=out)
    text = out.getvalue()
    print(text)
    lines = {line[:42].strip(): line.split() for line in text.splitlines()}
    assert lines["desk scan (ok)"][-4] == "201"
    assert lines["pretix checkinrpc/redeem (ok)"][-4] == "201"
    assert lines["desk preload (streamed, all)"][-4] == "200"
    assert "pretix positions/ (3 pages)" in lines
    assert Organizer.objects.count() == 1 and not Order.objects.exists()
