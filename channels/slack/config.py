"""What the Slack customer channel needs to run."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.slack.spec import DEFAULT_API_URL


@dataclass(frozen=True, slots=True)
class SlackConfig:
    """What the Slack channel needs; secrets are kept out of `repr` so they never reach a log."""

    bot_token: str = field(repr=False)
    signing_secret: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    agent_channel: str | None = None  # the agents' desk; its messages are never customer messages
    per_channel_rate: float = 1.0  # chat.postMessage: about one message per second per channel
    partial_per_second: float = 1.0  # pushes of a growing answer per channel (appendStream / chat.update)
    timeout_seconds: float = 10.0
    bot_user_id: str | None = None  # normally learned from each event's `authorizations`

    def __post_init__(self) -> None:
        if not self.bot_token.strip() or not self.signing_secret.strip():
            raise ValueError("Slack needs a bot token and a signing secret")
        if self.per_channel_rate <= 0:
            raise ValueError("per_channel_rate must be positive")
