"""The Slack channel as the registry sees it; the SDK loads only when the channel is built.

One Slack app has one events URL, one interactions URL and one commands URL. The customer channel
serves all three and hands what is not a customer's (agent-channel messages, desk clicks,
`/csbot` commands) to the agent desk the composition root wires in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import SecretStr

from channels.spec import Capabilities, ChannelContext, ChannelSettings, ChannelSpec, FeedbackStyle, channel_spec, secret

if TYPE_CHECKING:
    from channels.slack.channel import SlackChannel

NAME = "slack"
EVENTS_PATH = "/webhooks/slack/events"
INTERACTIONS_PATH = "/webhooks/slack/interactions"
COMMANDS_PATH = "/webhooks/slack/commands"
DEFAULT_API_URL = "https://slack.com/api/"
# chat.postMessage takes 40,000 characters but Slack advises 4,000 per message; chat.update and the
# streaming methods (chat.startStream/appendStream/stopStream) let a growing answer be shown.
CAPABILITIES = Capabilities(
    feedback_style=FeedbackStyle.BUTTONS, typing=False, streaming=True, edits=True, max_message_chars=4000
)


class SlackSettings(ChannelSettings):
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_api_url: str = DEFAULT_API_URL
    slack_agent_channel: str | None = None

    required = ("slack_bot_token", "slack_signing_secret")


def build(settings: SlackSettings, context: ChannelContext) -> SlackChannel:
    from channels.slack.channel import SlackChannel
    from channels.slack.config import SlackConfig

    config = SlackConfig(
        bot_token=secret(settings.slack_bot_token),
        signing_secret=secret(settings.slack_signing_secret),
        api_url=settings.slack_api_url,
        agent_channel=settings.slack_agent_channel,
    )
    return SlackChannel(config, context.limiter)


SPEC: ChannelSpec[SlackSettings, SlackChannel] = channel_spec(
    NAME, SlackSettings, build,
    routes=[
        ("POST", EVENTS_PATH, "handle_events"),
        ("POST", INTERACTIONS_PATH, "handle_interactions"),
        ("POST", COMMANDS_PATH, "handle_commands"),
    ],
    capabilities=CAPABILITIES,
    describe=lambda s: s.slack_api_url,
)
