"""Console: each notification as one readable line on the standard output of the process
that delivers it (`beltwatch demo`, `alerts send`, `monitor run`): for a demo, a first try
before wiring a real channel, or a log collector that reads standard output.

    [beltwatch] FIRING   critical  critical_rate on S2 since 2026-12-03 10:00 UTC: ...
    [beltwatch] RESOLVED critical  critical_rate on S2 after 2 h: ...

Writing a line cannot meaningfully fail and be retried: a closed stream gives up.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TextIO

import httpx

from monitor.core.settings import Settings
from monitor.notifiers._render import human_time, lasted, station, summary_of
from monitor.notifiers.base import Delivery, Message, Outcome, Reason, Receiver

_WORDS = {"trigger": "FIRING", "repeat": "STILL", "resolve": "RESOLVED", "test": "TEST"}


def render_line(message: Message) -> str:
    """The one line a notification prints as."""
    notice = message.payload
    when = (
        f"after {lasted(notice.started_at, notice.resolved_at) or 'a while'}"
        if notice.event == "resolve"
        else f"since {human_time(notice.started_at)}"
    )
    return (
        f"[beltwatch] {_WORDS.get(notice.event, notice.event.upper()):<8} "
        f"{notice.severity:<8}  {notice.rule} on {station(notice)} {when}: "
        f"{summary_of(notice)}"
    )


@dataclass
class ConsoleNotifier:
    """Prints each notification; `stream` None: the standard output at the time of sending."""

    stream: TextIO | None = None
    name: str = "console"
    sends_resolved: bool = True

    def send(self, message: Message, client: httpx.Client) -> Delivery:
        stream = self.stream or sys.stdout
        try:
            print(render_line(message), file=stream, flush=True)
        except (OSError, ValueError) as error:  # a closed pipe or stream
            return Delivery(Outcome.GIVE_UP, Reason.CONNECTION, detail=f"cannot write: {error}")
        return Delivery(Outcome.DELIVERED, Reason.OK)


def from_settings(settings: Settings) -> ConsoleNotifier:
    return ConsoleNotifier()


RECEIVER = Receiver(
    channel="console",
    setting="console_notifications",
    secrets=(),
    build=from_settings,
)
