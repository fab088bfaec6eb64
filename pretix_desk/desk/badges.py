"""Badges at the desk, by pretix's bundled badges plugin: which layout applies, and the PDF
from pretix's own renderer. Nothing here draws a badge."""
from io import BytesIO

from pretix.base.services.export import ExportError

BADGES_PLUGIN = "pretix.plugins.badges"


def badges_active(event):
    return BADGES_PLUGIN in event.get_plugins()


def badge_layout(position):
    """The layout pretix prints for this position, or None.

    The badges plugin's rule (``BadgeItem``): a product assigned to a layout uses it, a
    product assigned to no layout prints none, any other product uses the default layout.
    ``test_desk_badges`` checks it against what pretix's renderer does.
    """
    from pretix.plugins.badges.models import BadgeItem, BadgeLayout

    assignment = BadgeItem.objects.filter(item_id=position.item_id).select_related("layout").first()
    if assignment is not None:
        return assignment.layout
    return BadgeLayout.objects.filter(event_id=position.order.event_id, default=True).first()


def render_badge(position) -> bytes:
    """One badge as pretix's badges plugin renders it (one per page). Raises ExportError
    when no layout applies."""
    from pretix.plugins.badges.exporters import OPTIONS, render_pdf

    out = BytesIO()
    render_pdf(position.order.event, [position], opt=OPTIONS["one"], output_file=out)
    return out.getvalue()


__all__ = ["ExportError", "badge_layout", "badges_active", "render_badge"]
