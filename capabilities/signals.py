"""Signals other apps (billing) listen to. Sent after the change has committed."""

from django.dispatch import Signal

# Sent with organization, capability_key, enabled, actor once a toggle change commits.
capability_toggled = Signal()
