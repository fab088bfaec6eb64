"""Auto check-in rules at work; what they match is ``pretix_desk.rules``."""
