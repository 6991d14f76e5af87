"""Slack: customers in DMs and mentions, the agents' desk, and admin commands."""

from channels.slack.spec import SPEC

__all__ = ["SPEC"]
