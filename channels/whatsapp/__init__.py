"""WhatsApp Cloud API: Graph API webhooks in (GET verification, signed POSTs), Graph API out."""

from channels.whatsapp.spec import SPEC

__all__ = ["SPEC"]
