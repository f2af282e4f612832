"""Which frames the worker keeps as evidence: a small sample of every station's hour, so an
alert about an hour links to what the camera saw.

Per station and UTC hour of `captured_at`, a frame is kept when it is
- the first of its slot: the hour cut into `per_hour` equal slots (3: minutes 0-19, 20-39,
  40-59), or
- the least sharp so far: its `sharpness_tile_min` is below every earlier frame's of the
  station's hour, so the hour's least sharp frame is always among those kept. The worst
  tile, because it falls for a blur of the whole frame and for a smudge over one part of
  the lens alike (whole-frame sharpness hides the smudge).
Among n frames in random order of sharpness the expected number of running minima is the
harmonic number H_n < ln n + 1 (9 for 3,600 frames an hour), so a station-hour keeps about
per_hour + ln n frames. A lens getting blurrier frame after frame could make every frame a
new minimum: one file write each, the cost of every minor image already.

State is kept for the last HOURS_KEPT hours of each station (a frame captured late, in a
previous hour, is judged against that hour, and does not reset the current one) and for at
most `max_stations` stations at a time, so memory is bounded whatever ids clients invent.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

HOURS_KEPT = 3  # the hour in hand and the two before it, per station
# A frame the log refused may come back with the same id (the directory source): it is
# kept again, so its row gets its image. Ids of evidence frames only: a few per station-hour.
_CHOSEN_IDS_KEPT = 10_000


@dataclass
class _Hour:
    slots_taken: int = 0  # bit i set: slot i has had its first frame
    lowest: float = float("inf")  # the lowest sharpness_tile_min seen in the hour


class EvidenceChoice:
    """Decides, frame by frame, whether a frame is kept as evidence; thread safe."""

    def __init__(self, per_hour: int, *, max_stations: int) -> None:
        self.per_hour = per_hour
        self.max_stations = max_stations
        self._hours: dict[str, dict[int, _Hour]] = {}  # station -> hour index -> state
        self._newest_hour = 0  # the latest hour any station has sent
        self._chosen: OrderedDict[uuid.UUID, None] = OrderedDict()
        self._lock = threading.Lock()

    def keep(
        self,
        station: str,
        captured_at: datetime,
        sharpness_tile_min: float,
        frame_id: uuid.UUID | None = None,
    ) -> bool:
        """Whether to keep this frame: the first of its slot or the least sharp so far in
        its station's hour. False when `per_hour` is 0, for an hour older than the
        station's last HOURS_KEPT, and for a station beyond `max_stations`."""
        if self.per_hour == 0:
            return False
        hour, into = divmod(captured_at.timestamp(), 3600.0)
        slot = min(int(into * self.per_hour // 3600.0), self.per_hour - 1)
        with self._lock:
            if frame_id is not None and frame_id in self._chosen:
                return True
            state = self._state(station, int(hour))
            if state is None:
                return False
            first = not state.slots_taken >> slot & 1
            state.slots_taken |= 1 << slot
            # Strictly lower: a repeat of the same frame is not a new minimum.
            lowest = sharpness_tile_min < state.lowest
            if lowest:
                state.lowest = sharpness_tile_min
            chosen = first or lowest
            if chosen and frame_id is not None:
                self._chosen[frame_id] = None
                if len(self._chosen) > _CHOSEN_IDS_KEPT:
                    self._chosen.popitem(last=False)
            return chosen

    def _state(self, station: str, hour: int) -> _Hour | None:
        """The state of (station, hour), made if new; None when it may not be kept."""
        hours = self._hours.get(station)
        if hours is None:
            if len(self._hours) >= self.max_stations:
                self._drop_quiet_stations(max(self._newest_hour, hour))
                if len(self._hours) >= self.max_stations:
                    return None
            hours = self._hours[station] = {}
        state = hours.get(hour)
        if state is None:
            if hours and hour <= max(hours) - HOURS_KEPT:
                return None  # older than the hours this station keeps: not judged
            state = hours[hour] = _Hour()
            for old in [h for h in hours if h <= hour - HOURS_KEPT]:
                del hours[old]
        self._newest_hour = max(self._newest_hour, hour)
        return state

    def _drop_quiet_stations(self, newest_hour: int) -> None:
        """Forget stations that sent nothing in the last HOURS_KEPT hours (at the cap only,
        so the scan is rare)."""
        quiet = [s for s, hours in self._hours.items() if max(hours) <= newest_hour - HOURS_KEPT]
        for station in quiet:
            del self._hours[station]

    def held(self) -> tuple[int, int]:
        """(stations, station-hours) with state now: what bounds the memory."""
        with self._lock:
            return len(self._hours), sum(len(hours) for hours in self._hours.values())
