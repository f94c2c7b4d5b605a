"""The log stream writer of one instance: buffer, flush (durability), roll, reserve logs.

A commit is durable once ``flush`` has written its record to the current log file; the
buffer before that is process memory and dies with the process. A roll seals the current log
as ``edbXXXXX.log``: the next generation is prepared as ``edbtmp.log`` and renamed in, as ESE
does. When the log volume is full a reserve log (``edbres00001.jrs``) becomes the next
generation and the stream enters log-disk-full mode (further updates get -529).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from . import faults as _faults
from . import jet, lognames
from .clock import Clock, logtime
from .lgpos import Lgpos, Signature
from .logfile import HEADER_SIZE, LogHeader, encode_record
from .volumes import ACCESS_READ, ACCESS_WRITE, CREATE_ALWAYS, OPEN_EXISTING, SHARE_NONE, Host, join


class LogStream:
    """The current log generation and its in-memory buffer."""

    def __init__(
        self,
        host: Host,
        pid: int,
        clock: Clock,
        *,
        log_path: str,
        base: str,
        legacy: int,
        log_kb: int,
        page_size: int,
        circular: bool,
        reserve_count: int,
        rng: random.Random,
    ) -> None:
        self.host = host
        self.pid = pid
        self.clock = clock
        self.log_path = log_path
        self.base = base
        self.legacy = legacy
        self.log_kb = log_kb
        self.page_size = page_size
        self.circular = circular
        self.reserve_count = reserve_count
        self.rng = rng
        self.gen = 0
        self.hid = 0
        self.offset = HEADER_SIZE
        self.header: LogHeader | None = None
        self.sign_log: Signature | None = None
        self._buffer = bytearray()
        self._buffer_offset = HEADER_SIZE
        self.flushed = Lgpos()
        self.attachments: dict[int, str] = {}
        self.disk_full = False
        self.on_roll: Callable[[int], int] | None = None  # instance hook: headers, checkpoint, circular deletes

    # -- names ---------------------------------------------------------------------------------

    @property
    def size_bytes(self) -> int:
        """The fixed size of every log file."""
        return self.log_kb * 1024

    def path(self, name: str) -> str:
        """Full path of a file in the log folder."""
        return join(self.log_path, name)

    def current_path(self) -> str:
        """``<log path>\\edb.log``."""
        return self.path(lognames.current_log_name(self.base, self.legacy))

    def archived_path(self, gen: int) -> str:
        """``<log path>\\edbXXXXX.log`` for ``gen``."""
        return self.path(lognames.log_file_name(self.base, gen, self.legacy))

    def tmp_path(self) -> str:
        """``<log path>\\edbtmp.log``."""
        return self.path(lognames.tmp_log_name(self.base, self.legacy))

    def list_generations(self) -> list[int]:
        """Archived generations on disk, ascending (a LOG_MISSING fault hides one)."""
        return list_generations(self.host, self.log_path, self.base, self.legacy)

    # -- lifecycle -----------------------------------------------------------------------------

    def _new_header(self, gen: int, prev_time: tuple[int, ...]) -> LogHeader:
        assert self.sign_log is not None
        return LogHeader(
            gen=gen,
            sign_log=self.sign_log,
            create_time=logtime(self.clock),
            prev_create_time=prev_time,
            log_file_size_kb=self.log_kb,
            page_size=self.page_size,
            legacy_names=self.legacy,
            base_name=self.base,
            circular=self.circular,
            circular_history=self.circular,
            attachments=dict(self.attachments),
        )

    def start_new_stream(self) -> int:
        """Create generation 1 of a new log stream (new signature) as the current log."""
        self.sign_log = Signature.new(self.clock, self.host.computer_name, self.rng)
        header = self._new_header(1, ())
        err = self._write_new_file(self.current_path(), header)
        if err:
            return err
        return self._open_current(header)

    def resume(self, header: LogHeader, end: int) -> int:
        """Continue an existing stream after recovery: seal the current log and roll.

        Args:
            header: the current log's header.
            end: offset after its last good record; a torn tail beyond is zeroed first so the
                sealed generation replays cleanly anywhere.
        """
        self.sign_log = header.sign_log
        self.header = header
        self.gen = header.gen
        err, self.hid = self.host.open(self.pid, self.current_path(), ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
        if err:
            self.hid = 0
            return jet.win32_to_jet(err)
        err, size = self.host.size(self.hid)
        if end < size:
            err = self.host.write(self.hid, end, bytes(size - end))
            if err:
                return jet.win32_to_jet(err, jet.LogDiskFull)
        self.offset = self._buffer_offset = end
        self.flushed = Lgpos.at(self.gen, end)
        return self.roll()

    def _write_new_file(self, path: str, header: LogHeader) -> int:
        err, hid = self.host.open(self.pid, path, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, CREATE_ALWAYS)
        if err:
            return jet.win32_to_jet(err, jet.LogDiskFull)
        try:
            err = self.host.set_size(hid, self.size_bytes) or self.host.write(hid, 0, header.encode())
            return jet.win32_to_jet(err, jet.LogDiskFull)
        finally:
            self.host.close(hid)

    def _open_current(self, header: LogHeader) -> int:
        # ESE holds the current log with share mode 0: nobody else may open it.
        err, self.hid = self.host.open(self.pid, self.current_path(), ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
        if err:
            self.hid = 0
            return jet.win32_to_jet(err)
        self.header = header
        self.gen = header.gen
        self.offset = self._buffer_offset = HEADER_SIZE
        self.flushed = Lgpos.at(self.gen, HEADER_SIZE)
        return jet.SUCCESS

    def close(self) -> None:
        """Close the current log (unflushed buffer is dropped: callers flush first)."""
        if self.hid:
            self.host.close(self.hid)
            self.hid = 0
        self._buffer.clear()

    def ensure_reserve_logs(self) -> None:
        """Create the reserve logs if missing (best effort: a full volume leaves fewer)."""
        for n in range(1, self.reserve_count + 1):
            path = self.path(lognames.reserve_log_name(self.base, n))
            if not self.host.exists(path):
                err, hid = self.host.open(self.pid, path, ACCESS_READ | ACCESS_WRITE, SHARE_NONE, CREATE_ALWAYS)
                if err:
                    return
                self.host.set_size(hid, self.size_bytes)
                self.host.close(hid)

    # -- writing -------------------------------------------------------------------------------

    def end(self) -> Lgpos:
        """Position the next record will get."""
        return Lgpos.at(self.gen, self.offset)

    def append(self, rec: dict[str, Any]) -> tuple[int, Lgpos]:
        """Add a record to the log buffer (not durable until ``flush``).

        Returns:
            (err, position of the record); -529 in log-disk-full mode.
        """
        if self.disk_full and rec.get("t") == "txn":
            return jet.LogDiskFull, Lgpos()
        probe = encode_record(rec, self.gen, self.offset)
        if len(probe) > self.size_bytes - HEADER_SIZE:
            return jet.InvalidParameter, Lgpos()
        if self.offset + len(probe) > self.size_bytes:
            err = self.roll()
            if err:
                return err, Lgpos()
            probe = encode_record(rec, self.gen, self.offset)
        pos = Lgpos.at(self.gen, self.offset)
        if not self._buffer:
            self._buffer_offset = self.offset
        self._buffer += probe
        self.offset += len(probe)
        return jet.SUCCESS, pos

    def flush(self) -> int:
        """Write the buffer to the current log: everything appended so far becomes durable."""
        if not self._buffer:
            return jet.SUCCESS
        data = bytes(self._buffer)
        crash = self.host.faults.fire(_faults.CRASH, at=_faults.CRASH_LOG_WRITE, pid=self.pid)
        if crash is not None:
            # The process dies mid-write: a prefix of the buffer reaches the file (a torn write).
            frac = crash.params.get("torn")
            cut = int(len(data) * frac) if frac is not None else self.host.faults.rng.randrange(len(data))
            if cut:
                self.host.write(self.hid, self._buffer_offset, data[:cut])
            raise _faults.ProcessCrash(self.pid, _faults.CRASH_LOG_WRITE)
        err = self.host.write(self.hid, self._buffer_offset, data)
        if err:
            return jet.win32_to_jet(err, jet.LogDiskFull)
        self.host.flush(self.hid)
        self._buffer.clear()
        self._buffer_offset = self.offset
        self.flushed = Lgpos.at(self.gen, self.offset)
        return jet.SUCCESS

    def roll(self) -> int:
        """Seal the current generation and start the next one (``edbtmp.log`` renamed in)."""
        err = self.flush()
        if err:
            return err
        assert self.header is not None
        header = self._new_header(self.gen + 1, self.header.create_time)
        err = self._write_new_file(self.tmp_path(), header)
        if err == jet.LogDiskFull:
            err = self._use_reserve_log(header)
        if err:
            return err
        self._crash_point()
        if self.hid:
            self.host.close(self.hid)
            self.hid = 0
        werr = self.host.rename(self.pid, self.current_path(), self.archived_path(self.gen))
        if werr:
            return jet.win32_to_jet(werr)
        self._crash_point()
        werr = self.host.rename(self.pid, self.tmp_path(), self.current_path())
        if werr:
            return jet.win32_to_jet(werr)
        err = self._open_current(header)
        if err:
            return err
        if self.on_roll is not None:
            return self.on_roll(self.gen)
        return jet.SUCCESS

    def _use_reserve_log(self, header: LogHeader) -> int:
        for n in range(1, self.reserve_count + 1):
            path = self.path(lognames.reserve_log_name(self.base, n))
            if not self.host.exists(path):
                continue
            if self.host.rename(self.pid, path, self.tmp_path(), replace=True):
                continue
            err, hid = self.host.open(self.pid, self.tmp_path(), ACCESS_READ | ACCESS_WRITE, SHARE_NONE, OPEN_EXISTING)
            if err:
                return jet.LogDiskFull
            try:
                # Overwrite in place: a reserve log is already allocated, so this needs no space.
                werr = self.host.write(hid, 0, header.encode() + bytes(self.size_bytes - HEADER_SIZE))
            finally:
                self.host.close(hid)
            if werr:
                return jet.LogDiskFull
            self.disk_full = True
            return jet.SUCCESS
        return jet.LogDiskFull

    def _crash_point(self) -> None:
        if self.host.faults.fire(_faults.CRASH, at=_faults.CRASH_LOG_ROLL, pid=self.pid) is not None:
            raise _faults.ProcessCrash(self.pid, _faults.CRASH_LOG_ROLL)

    def delete_generations_below(self, gen: int) -> None:
        """Circular logging: remove archived generations older than ``gen`` (lowest first)."""
        for g in self.list_generations():
            if g >= gen:
                break
            self.host.delete(self.pid, self.archived_path(g))


def list_generations(host: Host, log_path: str, base: str, legacy: int) -> list[int]:
    """Archived generations in a log folder under a naming style, ascending.

    A LOG_MISSING fault matching a generation hides it, as if the file had been deleted.
    """
    err, names = host.listdir(log_path)
    if err:
        return []
    gens = []
    for n in names:
        g = lognames.parse_log_file_name(n, base, legacy)
        if g is not None and host.faults.fire(_faults.LOG_MISSING, gen=g, path=join(log_path, n)) is None:
            gens.append(g)
    return sorted(gens)
