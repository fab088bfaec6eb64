"""The plugin's entry in pretix's plugin list; ``ready`` connects its signal receivers."""
from django.utils.translation import gettext_lazy

from . import __version__

try:
    from pretix.base.plugins import PluginConfig
except ImportError:
    raise RuntimeError("Please use pretix 2026.8 or above to run this plugin!")


class PluginApp(PluginConfig):
    default = True
    name = "pretix_desk"
    verbose_name = "pretix-desk"

    class PretixPluginMeta:
        name = gettext_lazy("Registration desk")
        author = "pretix-desk team"
        description = gettext_lazy(
            "Auto check-in rules and a registration desk for door staff: scan tickets "
            "with a USB scanner or camera, look attendees up, hand out add-ons, and keep "
            "working offline."
        )
        visible = True
        version = __version__
        category = "FEATURE"
        compatibility = "pretix>=2026.8.0"

    def ready(self):
        from . import signals  # NOQA
