"""Log positions (JET_LGPOS) and signatures (JET_SIGNATURE), shared by logs, headers and backups."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import Clock, logtime

SECTOR = 512


@dataclass(frozen=True, order=True)
class Lgpos:
    """A position in the log stream: generation, sector, byte in sector (ordered in that order)."""

    gen: int = 0
    isec: int = 0
    ib: int = 0

    @classmethod
    def at(cls, gen: int, offset: int) -> Lgpos:
        """The position of byte ``offset`` of generation ``gen``."""
        return cls(gen, offset // SECTOR, offset % SECTOR)

    @property
    def offset(self) -> int:
        """Byte offset inside the generation's file."""
        return self.isec * SECTOR + self.ib

    def to_list(self) -> list[int]:
        return [self.gen, self.isec, self.ib]

    @classmethod
    def from_list(cls, v: list[int] | tuple[int, ...] | None) -> Lgpos:
        return cls(*v) if v else cls()

    def __str__(self) -> str:
        # esentutl prints lgpos as (0xGEN,SEC,IB)
        return f"(0x{self.gen:X},{self.isec:X},{self.ib:X})"


NULL_LGPOS = Lgpos()


@dataclass(frozen=True)
class Signature:
    """JET_SIGNATURE: random number, creation time, computer name."""

    random: int
    time: tuple[int, ...]
    computer: str

    @classmethod
    def new(cls, clock: Clock, computer: str, rng: random.Random) -> Signature:
        """A fresh signature stamped with the clock's time."""
        return cls(rng.getrandbits(32), logtime(clock), computer[:15])

    def to_list(self) -> list[object]:
        return [self.random, list(self.time), self.computer]

    @classmethod
    def from_list(cls, v: list[object] | None) -> Signature | None:
        if not v:
            return None
        rnd, t, comp = v
        return cls(int(rnd), tuple(t), str(comp))  # type: ignore[arg-type]

    def __str__(self) -> str:
        y, mo, d, h, mi, s, _ = self.time
        return f"Create time:{mo:02d}/{d:02d}/{y:04d} {h:02d}:{mi:02d}:{s:02d} Rand:{self.random} Computer:{self.computer}"
