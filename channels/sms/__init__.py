"""SMS through Twilio: signed form webhooks in, the Messages API out."""

from channels.sms.spec import SPEC

__all__ = ["SPEC"]
