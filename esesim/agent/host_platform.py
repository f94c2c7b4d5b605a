"""What the agent needs of Windows besides esent.dll: files, aligned buffers, shadow copies, services, processes.

Test-only code (the simulated agent): do not use directly. The agent's ops reach the simulated
machine only through ``esent_api.Jet`` (esent.dll) and this ``HostPlatform``, the seam the C#
agent has as ``IHostPlatform``; each method names the Windows call the C# agent makes. It is
for facts no esent.dll call gives: which log generations are on disk, a file's size, the
checkpoint's bytes, who holds a file open, shadow copies, service control and process identity.

A leaf of the agent package: it imports only the engine's host-side modules.
"""

from __future__ import annotations

import mmap
from typing import Any, Protocol

from esesim.engine import Host, OwnerService, params
from esesim.engine import faults as engine_faults
from esesim.engine.logs import list_generations
from esesim.engine.shadow import Shadow, shadows_of
from esesim.engine.volumes import ACCESS_READ, SHARE_DELETE, SHARE_READ, SHARE_WRITE


class _Machine(Protocol):
    """What the platform needs of ``simhost.AgentHost`` (the simulated machine)."""

    engine: Host
    protected_folders: list[str]

    def service(self, name: str) -> OwnerService | None: ...
    def on_owner_started(self, svc: OwnerService) -> None: ...


class HostPlatform:
    """The Windows side of one agent process (``pid``) on its simulated host."""

    def __init__(self, ahost: _Machine, pid: int = 0) -> None:
        self._ahost = ahost
        self._host = ahost.engine
        self.pid = pid  # Environment.ProcessId
        self.clock = ahost.engine.clock  # DateTime.UtcNow (time) and Stopwatch (monotonic)

    # -- process identity -----------------------------------------------------------------------

    def process_alive(self, pid: int) -> bool:
        """Process.GetProcessById(pid) finds a running process."""
        return self._host.process_alive(pid)

    def store_facts(self, log_path: str, system_path: str, base: str) -> Any:
        """Page size, log file size and circular logging as the store's log and checkpoint headers say
        (on Windows: the first log's header, as esentutl /ml reads it); None when there is no log."""
        return params.read_store_facts(self._host, self.pid, log_path, system_path, base)

    def process_name(self, pid: int) -> str:
        """Process.GetProcessById(pid).ProcessName ('' when unknown)."""
        return self._host.process_name(pid)

    def holders(self, path: str) -> list[int]:
        """The pids holding a file open (the Restart Manager's RmGetList)."""
        return self._host.holders(path)

    # -- files ----------------------------------------------------------------------------------

    def list_dir(self, folder: str) -> list[str]:
        """The file names in a folder, sorted (Directory.GetFiles); empty when it cannot be listed."""
        err, names = self._host.listdir(folder)
        return names if not err else []

    def log_generations(self, log_path: str, base: str, legacy: int) -> list[int]:
        """The archived log generations in a log folder, ascending: its file names parsed under a naming style."""
        return list_generations(self._host, log_path, base, legacy)

    def file_size(self, path: str) -> int:
        """FileInfo.Length (-1 when the file is missing)."""
        return self._host.file_size(path)

    def volume_full(self, path: str) -> bool:
        """Creating ``path`` meets ERROR_DISK_FULL on its volume (the host's storage fault ``volume.disk_full``)."""
        return self._host.faults.fire(engine_faults.DISK_FULL, volume=path[:1].upper(), path=path) is not None

    def read_shared(self, path: str) -> tuple[int, bytes]:
        """A whole small file read in one go, shared with every writer and deleter (FileShare.ReadWrite | Delete).

        Returns:
            (Win32 error, bytes).
        """
        werr, hid = self._host.open(self.pid, path, ACCESS_READ, SHARE_READ | SHARE_WRITE | SHARE_DELETE)
        if werr:
            return werr, b""
        try:
            _e, size = self._host.size(hid)
            _e, data = self._host.read(hid, 0, size)
        finally:
            self._host.close(hid)
        return 0, data

    def copy_file(self, src: str, dst: str, *, overwrite: bool = False) -> int:
        """CopyFileW; returns a Win32 error."""
        return self._host.copy_file(self.pid, src, dst, overwrite=overwrite)

    def create_directory(self, folder: str) -> int:
        """Directory.CreateDirectory (parents too); returns a Win32 error."""
        return self._host.makedirs(folder)

    def protect_folder(self, folder: str) -> None:
        """A set folder the agent created gets a protected DACL: SYSTEM, Administrators and the agent's user,
        full control, inherited by what it holds, nothing inherited from above (Directory.SetAccessControl).

        The simulated file system has no ACLs: the call is recorded on the host
        (``AgentHost.protected_folders``, the Windows path) for the tests.
        """
        self._ahost.protected_folders.append(folder)

    # -- aligned buffers ------------------------------------------------------------------------

    @staticmethod
    def allocate_aligned(length: int) -> mmap.mmap:
        """Page-aligned memory for JetReadFileInstance (VirtualAlloc; ``AlignedBuffer.Allocate`` in EsentApi.cs). Close it when done."""
        return mmap.mmap(-1, length)

    # -- shadow copies --------------------------------------------------------------------------

    def create_shadow(self, volume: str, tag: str) -> tuple[int, str]:
        """A shadow copy of one volume (VSS DoSnapshotSet); returns (Win32 error, shadow id)."""
        return shadows_of(self._host).create(volume, tag=tag)

    def shadow(self, shadow_id: str) -> Shadow | None:
        """An existing shadow copy, to read files from (its device path); None when it is gone."""
        return shadows_of(self._host).get(shadow_id)

    def delete_shadow(self, shadow_id: str) -> int:
        """Delete a shadow copy (IVssBackupComponents::DeleteSnapshots); returns a Win32 error (2 when unknown)."""
        return shadows_of(self._host).delete(shadow_id)

    # -- services -------------------------------------------------------------------------------

    def service(self, name: str) -> OwnerService | None:
        """The service of that name (ServiceController; None when the host has none). ``running`` and ``service_name`` are read on it."""
        return self._ahost.service(name)

    def stop_service(self, svc: OwnerService) -> int:
        """Stop a service and wait until it stopped (Service Control Manager); returns an error code."""
        return svc.stop()

    def start_service(self, svc: OwnerService) -> int:
        """Start a service and wait until it runs; returns an error code.

        The simulated host then lets the service's own work go on (its demo workload), as the
        service itself would.
        """
        err = svc.start()
        if not err:
            self._ahost.on_owner_started(svc)
        return err
