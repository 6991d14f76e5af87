"""The one list of channels. A platform is on when its package's settings are set.

Everything that needs to know which channels exist (the web app's routes, `csbot doctor`,
`/csbot status`, start-up checks, capabilities for the turn engine) reads this tuple, so a new
platform is its package plus one line here.
"""

from __future__ import annotations

from channels import slack, sms, telegram, whatsapp
from channels.spec import ChannelSpec

Registry = tuple[ChannelSpec, ...]

CHANNELS: Registry = (
    telegram.SPEC,
    slack.SPEC,
    sms.SPEC,
    whatsapp.SPEC,
)
