"""Jepsen's set checker for Diego desires: was anything the BBS acknowledged lost?

The load records each desire it *attempted* (a Task guid, a process_guid, a route) and whether
the BBS *acknowledged* it or answered with an error or nothing (timeout: outcome unknown). After
the scenario (and its faults) a final read says what is present. Each element is then:

- **stable**: acknowledged and present at the end;
- **lost**: acknowledged but absent at the end (fails the check);
- **recovered**: never confirmed (errored or unknown) yet present at the end;
- **never confirmed**: never confirmed and absent (not a loss: the BBS never promised it).

Present elements nobody attempted are reported as **unexpected**. Without a final read the
verdict is unknown, never a pass.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SetResult:
    stable: set[str]
    lost: set[str]
    recovered: set[str]
    never_confirmed: set[str]
    unexpected: set[str]

    @property
    def valid(self) -> bool:
        return not self.lost

    def summary(self) -> str:
        return (f"{len(self.stable)} stable, {len(self.lost)} lost, {len(self.recovered)} recovered, "
                f"{len(self.never_confirmed)} never confirmed, {len(self.unexpected)} unexpected")


@dataclass
class SetCheck:
    """Attempts, acknowledgements and the final read of one set of desires."""

    attempted: set[str] = field(default_factory=set)
    acknowledged: set[str] = field(default_factory=set)
    final_read: set[str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def attempt(self, element: str) -> None:
        with self._lock:
            self.attempted.add(element)

    def acknowledge(self, element: str) -> None:
        with self._lock:
            self.attempted.add(element)
            self.acknowledged.add(element)

    def read(self, present: set[str] | list[str]) -> None:
        """The final read: what is there once the scenario (and its faults) are over."""
        self.final_read = set(present)

    def result(self) -> SetResult:
        if self.final_read is None:
            raise ValueError("the set check has no final read: call read(present) after the "
                             "scenario, or its verdict would pass vacuously")
        present = self.final_read
        unconfirmed = self.attempted - self.acknowledged
        return SetResult(stable=self.acknowledged & present, lost=self.acknowledged - present,
                         recovered=unconfirmed & present, never_confirmed=unconfirmed - present,
                         unexpected=present - self.attempted)

    def merge(self, other: SetCheck) -> SetCheck:
        self.attempted |= other.attempted
        self.acknowledged |= other.acknowledged
        if other.final_read is not None:
            self.final_read = (self.final_read or set()) | other.final_read
        return self

    def to_dict(self) -> dict[str, Any]:
        return {"attempted": sorted(self.attempted), "acknowledged": sorted(self.acknowledged),
                "final_read": None if self.final_read is None else sorted(self.final_read)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SetCheck:
        final = data.get("final_read")
        return cls(set(data["attempted"]), set(data["acknowledged"]),
                   None if final is None else set(final))
