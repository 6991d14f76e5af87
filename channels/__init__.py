"""Platform adapters: verify and parse webhooks into `InboundMessage`s, send `OutboundMessage`s.

One module per platform. Adapters meet the rest of the system only through `core` (intake and
the ports); the composition root in `bots` builds them from settings and mounts their routes.
"""
