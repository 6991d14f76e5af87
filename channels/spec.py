"""What a channel package declares about itself, so that nothing else has to list it.

A channel is one package exposing one `ChannelSpec`: its name, the settings that turn it on, how
it is built, the routes it serves and what it can show. The web app, `csbot doctor`,
`/csbot status`, start-up checks and the turn engine all read the registry of specs
(`channels.registry`), which is why adding a platform is a package and one line there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from channels.base import Channel
from channels.http import Route, WebRequest, WebResponse
from core.botdef import BotDefinition
from core.capabilities import Capabilities
from core.delivery_status import DeliveryStatus
from core.errors import ConfigError
from core.feedback import FeedbackStyle
from core.intake import Intake
from core.optouts import OptOuts
from core.ports import RateLimiter

C = TypeVar("C", bound=Channel)
S = TypeVar("S", bound="ChannelSettings")

__all__ = [
    "Capabilities", "ChannelContext", "ChannelSettings", "ChannelSpec", "Endpoint", "FeedbackStyle", "channel_spec",
    "handled_by", "secret",
]


class ChannelSettings(BaseSettings):
    """A channel's own environment variables (field `foo_bar` is read from FOO_BAR).

    Setting any of `triggers` turns the channel on, and then every one of `required` must be
    set: a half-configured channel is a start-up error naming the missing variable, never a
    channel silently off, or worse, open without its secret.
    """

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True)

    required: ClassVar[tuple[str, ...]] = ()
    triggers: ClassVar[tuple[str, ...]] = ()  # defaults to `required`

    def is_set(self, name: str) -> bool:
        return bool(getattr(self, name))

    def enabled(self) -> bool:
        """True when configured, False when untouched; `ConfigError` for anything in between."""
        if not any(self.is_set(name) for name in self.triggers or self.required):
            return False
        missing = [name for name in self.required if not self.is_set(name)]
        if missing:
            given = next(name for name in self.required if self.is_set(name)) if len(missing) < len(self.required) else None
            why = f"required when {given.upper()} is set" if given else "required to turn this channel on"
            raise ConfigError("environment", missing[0].upper(), why)
        return True


def secret(value: SecretStr | str | None) -> str:
    """The plain text of a secret setting ("" when unset)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value or "")


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """The shared parts a channel may need, built once by the composition root."""

    limiter: RateLimiter
    bot: BotDefinition
    optouts: OptOuts
    delivery_status: DeliveryStatus


CONFIGURED = "configured"  # what `csbot doctor` says of an enabled channel with no detail of its own
Serve = Callable[[Any, Intake, WebRequest], Awaitable[WebResponse]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A route a channel serves: `serve(channel, intake, request)` answers it once the channel is on."""

    method: str
    path: str
    serve: Serve


@dataclass(frozen=True, slots=True)
class ChannelSpec(Generic[S, C]):
    """Everything the rest of the system knows about one platform."""

    name: str
    settings: type[S]
    build: Callable[[S, ChannelContext], C]
    endpoints: tuple[Endpoint, ...]
    capabilities: Capabilities
    describe: Callable[[S], str] = lambda _: CONFIGURED  # the detail `csbot doctor` shows when on

    def routes(self, channel: C, intake: Intake) -> tuple[Route, ...]:
        """The endpoints bound to a built channel and the intake it hands messages to."""

        def bind(endpoint: Endpoint) -> Route:
            async def handler(request: WebRequest) -> WebResponse:
                return await endpoint.serve(channel, intake, request)

            return Route(endpoint.method, endpoint.path, handler)

        return tuple(bind(e) for e in self.endpoints)


def handled_by(method: str) -> Serve:
    """An endpoint answered by the built channel's own `method(request, intake)`.

    Almost every platform route is just that, so a spec names the method instead of writing a
    forwarding function for each; the method is looked up on the channel when a request comes,
    which keeps the SDK-heavy channel module unimported until the channel is built.
    """

    async def serve(channel: Any, intake: Intake, request: WebRequest) -> WebResponse:
        answer: WebResponse = await getattr(channel, method)(request, intake)
        return answer

    serve.__name__ = serve.__qualname__ = f"serve_{method}"
    return serve


RouteLine = tuple[str, str, str | Serve]  # (HTTP method, path, channel method name or Serve)


def channel_spec(
    name: str,
    settings: type[S],
    build: Callable[[S, ChannelContext], C],
    *,
    routes: Iterable[RouteLine],
    capabilities: Capabilities,
    describe: Callable[[S], str] | None = None,
) -> ChannelSpec[S, C]:
    """A platform's spec from its settings class, its builder and its routes.

    `routes` are `(HTTP method, path, serve)` lines, where serve is the name of a channel method
    taking `(request, intake)` or, for anything else, a `Serve` function of the spec's own.
    """
    endpoints = tuple(Endpoint(verb, path, handled_by(serve) if isinstance(serve, str) else serve) for verb, path, serve in routes)
    return ChannelSpec(name, settings, build, endpoints, capabilities, describe or (lambda _: CONFIGURED))
