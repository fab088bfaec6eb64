"""The payment providers a rule of an event may name."""
from pretix.base.signals import get_defining_app, register_payment_providers


def payment_providers(event):
    """The payment providers a rule of this event may name, by identifier.

    pretix's ``event.get_payment_providers()`` leaves out hybrid plugins (bank transfer,
    PayPal, Stripe) that are enabled on the event while their organizer-level switch is
    still off; their payments can still exist on the event's orders, so we ask every
    provider whose plugin the event itself has enabled. Settings holders ("meta"
    providers) are not payment methods and stay out.
    """
    enabled = set(event.get_plugins())
    providers = dict(event.get_payment_providers())
    for receiver in register_payment_providers._live_receivers(event)[0]:
        app = get_defining_app(receiver)
        if app == "CORE" or app is None or app.name not in enabled:
            continue
        response = receiver(signal=register_payment_providers, sender=event)
        for cls in response if isinstance(response, (list, tuple)) else [response]:
            provider = cls(event)
            providers.setdefault(provider.identifier, provider)
    return {
        identifier: provider for identifier, provider in providers.items()
        if not provider.is_meta
    }
