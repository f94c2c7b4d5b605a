// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Background copies of a backup set: free space first, SHA-256 in the same pass, everything
// flushed. Ported call for call from esesim/agent/copier.py. A CopyJob copies a list of CopySource
// objects into one set folder on its own thread while the controller polls Status() (protocol ops
// snapshot_copy/stream_copy, copy_status, copy_cancel). A source is only a name, a role, an
// announced size and a function returning byte chunks, so a shadow reader and a streaming reader
// (JetReadFileInstance) plug in alike.
//
// Rules (docs/dev/architecture.md sections 3 and 4, docs/dev/safety-rules.md rule 6):
// * Free space is checked before anything is created or written; too little fails with
//   JET_errClientInsufficientSpace and the set folder is not even created.
// * The hash is computed from the very bytes written, in the same pass; nothing is re-read.
// * A source that yields fewer (or more) bytes than it announced fails with JET_errClientShortRead:
//   that file is never marked done and the job fails.
// * Each file is written as <name>.partial, flushed (FlushFileBuffers), renamed to <name> and its
//   folder flushed; a name without .partial therefore always holds a complete, hashed file.
// * Cancel is checked between chunks; a throttle paces the writes and wakes at once on cancel.
// A failed or cancelled job keeps the files it completed (Files() describes them for the failed
// manifest) and deletes only its own in-flight .partial. The copier never writes a manifest.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Threading;
using Microsoft.Win32.SafeHandles;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;

namespace EsentBackup.Agent
{
    /// <summary>One file of a set, as a reader offers it; OpenChunks returns a fresh chunk sequence (called once per copy).</summary>
    public sealed class CopySource
    {
        public readonly string Name;
        public readonly string Role;
        public readonly long SizeBytes;
        public readonly Func<IEnumerable<byte[]>> OpenChunks;
        public readonly string Source;
        public readonly long? Generation;

        public CopySource(string name, string role, long sizeBytes, Func<IEnumerable<byte[]>> openChunks, string source = "", long? generation = null)
        {
            Name = name;
            Role = role;
            SizeBytes = sizeBytes;
            OpenChunks = openChunks;
            Source = source ?? "";
            Generation = generation;
        }
    }

    /// <summary>What the fault hook is told before each chunk is written (file, offset, length, chunk index).</summary>
    public sealed class ChunkEvent
    {
        public readonly string File;
        public readonly long Offset;
        public readonly int Length;
        public readonly int Index;

        public ChunkEvent(string file, long offset, int length, int index)
        {
            File = file;
            Offset = offset;
            Length = length;
            Index = index;
        }
    }

    /// <summary>A copy failure with its catalogue code; File names the file when one is involved.</summary>
    public sealed class CopyError : Exception
    {
        public readonly int Code;
        public readonly string Name;
        public readonly string File;

        public CopyError(string name, string message, string file = null)
            : base(message)
        {
            Code = JetErrorCatalogue.CodeOf(name);
            Name = name;
            File = file;
        }

        /// <summary>The protocol error object (jet, name, message, hint) plus file.</summary>
        public JsonObject ToError()
        {
            return new JsonObject().Add("jet", (long)Code).Add("name", Name).Add("message", Message)
                .Add("hint", JetErrorCatalogue.Lookup(Code).Hint).Add("file", File);
        }
    }

    public static class Copier
    {
        public const string StatePending = "pending";
        public const string StateRunning = "running";
        public const string StateDone = "done";
        public const string StateFailed = "failed";
        public const string StateCancelled = "cancelled";
        public static readonly string[] FinalStates = { StateDone, StateFailed, StateCancelled };

        public const int DefaultChunkBytes = 1 << 20;
        /// <summary>Headroom over the announced sizes: the manifest and its temporary copy, and file-system slack.</summary>
        public const long DefaultReserveBytes = 1 << 20;
        public const string PartialSuffix = ".partial";

        private static long _throttleBps; // process-wide default of every CopyJob's throttle (0: as fast as the disk goes)

        public static long ThrottleBps { get { return Interlocked.Read(ref _throttleBps); } }

        /// <summary>Pace every copy started from now on in this process to bytesPerSecond (0: no limit).</summary>
        public static void SetThrottle(long bytesPerSecond)
        {
            if (bytesPerSecond < 0)
                throw new ArgumentException("a copy throttle is 0 or more bytes per second, got " + bytesPerSecond);
            Interlocked.Exchange(ref _throttleBps, bytesPerSecond);
        }

        /// <summary>Flush an open file's data and size to disk (FlushFileBuffers).</summary>
        public static void FsyncFile(FileStream fs)
        {
            fs.Flush(true);
        }

        /// <summary>Flush a folder's entries (new names, renames) to disk: on Windows a handle opened with
        /// FILE_FLAG_BACKUP_SEMANTICS is flushed (best effort: NTFS journals its metadata); elsewhere nothing.</summary>
        public static void FsyncDir(string folder)
        {
            if (Environment.OSVersion.Platform != PlatformID.Win32NT)
                return;
            using (SafeFileHandle handle = Win32.CreateFileW(folder, Win32.GENERIC_WRITE, Win32.FILE_SHARE_READ | Win32.FILE_SHARE_WRITE | Win32.FILE_SHARE_DELETE,
                                                             IntPtr.Zero, Win32.OPEN_EXISTING, Win32.FILE_FLAG_BACKUP_SEMANTICS, IntPtr.Zero))
            {
                if (!handle.IsInvalid)
                    Win32.FlushFileBuffers(handle);
            }
        }

        /// <summary>Rename source over destination in one step (Python's os.replace): MoveFileEx with
        /// MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH on Windows, File.Replace or File.Move elsewhere.</summary>
        public static void Replace(string source, string destination)
        {
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                if (!Win32.MoveFileExW(source, destination, Win32.MOVEFILE_REPLACE_EXISTING | Win32.MOVEFILE_WRITE_THROUGH))
                    throw new IOException("cannot rename " + source + " to " + destination + ": " + new System.ComponentModel.Win32Exception().Message,
                                          Marshal.GetHRForLastWin32Error());
                return;
            }
            if (System.IO.File.Exists(destination))
                System.IO.File.Replace(source, destination, null);
            else
                System.IO.File.Move(source, destination);
        }

        /// <summary>An IOException that means the volume is full (ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL; Python's ENOSPC).</summary>
        public static bool IsDiskFull(Exception exc)
        {
            if (!(exc is IOException))
                return false;
            int code = Marshal.GetHRForException(exc) & 0xFFFF;
            return code == 112 || code == 39;
        }

        /// <summary>The IOException CreateFileW meets on a full volume (ERROR_DISK_FULL), with the OS text.</summary>
        public static IOException DiskFullError(string message)
        {
            return new IOException(message, unchecked((int)0x80070070));
        }

        /// <summary>The copier's hook for the host's storage faults (Python: common.destination_faults): a file created on a
        /// full volume fails with ERROR_DISK_FULL, as CreateFileW does (IHostPlatform.VolumeFull).</summary>
        public static Action<string, int> DestinationFaults(IHostPlatform platform, string setWin)
        {
            return delegate(string name, int chunk)
            {
                if (chunk == 0 && platform.VolumeFull(setWin + "\\" + name))
                    throw DiskFullError("There is not enough space on the disk (" + setWin.Substring(0, Math.Min(2, setWin.Length)) + ")");
            };
        }

        /// <summary>A full destination volume is an expected failure with its own catalogue entry; every other OS error is a disk I/O error.</summary>
        internal static CopyError OsError(Exception exc, string file)
        {
            if (IsDiskFull(exc))
                return new CopyError("JET_errDiskFull", "the destination volume is full while writing " + (file ?? "None") + ": " + exc.Message, file);
            string where = file ?? "the set folder";
            return new CopyError("JET_errDiskIO", "I/O error on " + where + ": " + exc.Message, file);
        }

        internal static bool IsOsError(Exception exc)
        {
            return exc is IOException || exc is UnauthorizedAccessException;
        }

        private static string ExistingAncestor(string path)
        {
            string candidate = Path.GetFullPath(path);
            while (candidate != null)
            {
                if (Directory.Exists(candidate) || System.IO.File.Exists(candidate))
                    return candidate;
                candidate = Path.GetDirectoryName(candidate);
            }
            return Path.GetPathRoot(Path.GetFullPath(path));
        }

        /// <summary>Free bytes on the volume of path's nearest existing folder (GetDiskFreeSpaceEx on Windows, the mount's DriveInfo elsewhere).</summary>
        public static long FreeBytes(string path)
        {
            string existing = ExistingAncestor(path);
            if (Environment.OSVersion.Platform == PlatformID.Win32NT)
            {
                ulong available, total, free;
                if (!Win32.GetDiskFreeSpaceExW(existing, out available, out total, out free))
                    throw new IOException("GetDiskFreeSpaceEx failed on " + existing, Marshal.GetHRForLastWin32Error());
                return (long)available;
            }
            DriveInfo best = null;
            foreach (DriveInfo drive in DriveInfo.GetDrives())
            {
                string root = drive.RootDirectory.FullName;
                bool under = existing == root || existing.StartsWith(root.TrimEnd('/', '\\') + Path.DirectorySeparatorChar, StringComparison.Ordinal) || root == "/";
                if (under && (best == null || root.Length > best.RootDirectory.FullName.Length))
                    best = drive;
            }
            return (best ?? new DriveInfo(Path.GetPathRoot(existing))).AvailableFreeSpace;
        }

        /// <summary>A CopySource reading a local file (offline copies, tests); the size is taken now.</summary>
        public static CopySource FileSource(string path, string name, string role, string source = "", long? generation = null, int chunkSize = DefaultChunkBytes)
        {
            long size = new FileInfo(path).Length;
            return new CopySource(name, role, size, () => ReadChunks(path, chunkSize), String.IsNullOrEmpty(source) ? path : source, generation);
        }

        private static IEnumerable<byte[]> ReadChunks(string path, int chunkSize)
        {
            using (FileStream fh = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
            {
                while (true)
                {
                    byte[] buffer = new byte[chunkSize];
                    int n = fh.Read(buffer, 0, chunkSize);
                    if (n == 0)
                        yield break;
                    if (n < chunkSize)
                        Array.Resize(ref buffer, n);
                    yield return buffer;
                }
            }
        }
    }

    /// <summary>One background copy of a set's files into SetDir (created after the free-space check).</summary>
    public sealed class CopyJob
    {
        private sealed class Cancelled : Exception { }

        public readonly List<CopySource> Sources;
        public readonly long ThrottleBpsValue;
        public readonly string SetDir;
        public readonly string CopyId;
        public readonly int ChunkSize;
        public readonly long ReserveBytes;
        public readonly Action<ChunkEvent> FaultHook;
        /// <summary>Called with SetDir once it exists, before any file is written (the set folder's protected ACL).</summary>
        public readonly Action<string> OnFolder;
        public readonly Func<string, long> FreeSpace;
        public readonly long BytesTotal;

        private long _paced;          // bytes written since the throttle's clock started
        private double _paceStart;
        private readonly object _lock = new object();
        private readonly ManualResetEvent _cancel = new ManualResetEvent(false);
        private readonly ManualResetEvent _finished = new ManualResetEvent(false);
        private Thread _thread;
        private string _state = Copier.StatePending;
        private JsonObject _error;
        private long _bytesDone;
        private string _current;
        private readonly List<JsonObject> _files = new List<JsonObject>();
        private static readonly Stopwatch Clock = Stopwatch.StartNew();

        /// <summary>Sources in copy order (databases, logs, checkpoint); faultHook may throw an IOException (a full
        /// destination) or a CopyError before each chunk; freeSpace returns free bytes for a path; throttleBps null takes SetThrottle's value.</summary>
        /// <exception cref="CopyError">JET_errInvalidParameter for a bad or duplicate name, role or size.</exception>
        public CopyJob(IEnumerable<CopySource> sources, string setDir, string copyId = null, int chunkSize = Copier.DefaultChunkBytes,
                       long reserveBytes = Copier.DefaultReserveBytes, Action<ChunkEvent> faultHook = null, Func<string, long> freeSpace = null,
                       long? throttleBps = null, Action<string> onFolder = null)
        {
            Sources = new List<CopySource>(sources);
            OnFolder = onFolder;
            ThrottleBpsValue = throttleBps ?? Copier.ThrottleBps;
            SetDir = setDir;
            CopyId = String.IsNullOrEmpty(copyId) ? Guid.NewGuid().ToString("N") : copyId;
            ChunkSize = chunkSize;
            ReserveBytes = reserveBytes;
            FaultHook = faultHook;
            FreeSpace = freeSpace ?? Copier.FreeBytes;
            CheckSources();
            BytesTotal = Sources.Sum(s => s.SizeBytes);
        }

        private void CheckSources()
        {
            HashSet<string> seen = new HashSet<string>(StringComparer.Ordinal);
            for (int i = 0; i < Sources.Count; i++)
            {
                CopySource src = Sources[i];
                try
                {
                    Manifest.CheckFileName(src.Name, "sources[" + i + "].name");
                }
                catch (ManifestError exc)
                {
                    throw new CopyError("JET_errInvalidParameter", exc.Message, src.Name ?? "None");
                }
                if (seen.Contains(src.Name.ToLowerInvariant()))
                    throw new CopyError("JET_errInvalidParameter", "sources[" + i + "].name: " + Py.Repr(src.Name) + " appears twice (Windows names are case-insensitive)", src.Name);
                seen.Add(src.Name.ToLowerInvariant());
                if (Array.IndexOf(Manifest.Roles, src.Role) < 0)
                    throw new CopyError("JET_errInvalidParameter", "sources[" + i + "].role: must be one of " + String.Join(", ", Manifest.Roles) + ", got " + Py.Repr(src.Role), src.Name);
                if (src.SizeBytes < 0)
                    throw new CopyError("JET_errInvalidParameter", "sources[" + i + "].size_bytes: must be a non-negative integer", src.Name);
            }
        }

        // -- control --------------------------------------------------------------------------------

        /// <summary>Check free space, then copy on a background thread; returns the job.</summary>
        /// <exception cref="CopyError">JET_errClientInsufficientSpace before anything is created (the job is then failed), or already started.</exception>
        public CopyJob Start()
        {
            lock (_lock)
            {
                if (_state != Copier.StatePending)
                    throw new CopyError("JET_errInvalidParameter", "copy " + CopyId + " was already started");
                _state = Copier.StateRunning;
            }
            try
            {
                Preflight();
            }
            catch (CopyError exc)
            {
                Finish(Copier.StateFailed, exc.ToError());
                throw;
            }
            _thread = new Thread(Work);
            _thread.Name = "copy-" + CopyId;
            _thread.IsBackground = true;
            _thread.Start();
            return this;
        }

        /// <summary>Copy synchronously on the calling thread (same rules as Start); returns the final state.</summary>
        public string Run()
        {
            try
            {
                Start();
            }
            catch (CopyError)
            {
                return State;
            }
            Wait();
            return State;
        }

        /// <summary>Ask the job to stop at the next chunk; a finished job is left as it is. True when it was pending or running.</summary>
        public bool Cancel()
        {
            lock (_lock)
            {
                if (Array.IndexOf(Copier.FinalStates, _state) >= 0)
                    return false;
                if (_state == Copier.StatePending)
                {
                    _state = Copier.StateCancelled;
                    _error = CancelError();
                    _finished.Set();
                    return true;
                }
            }
            _cancel.Set();
            return true;
        }

        /// <summary>Wait until the job is done, failed or cancelled; true when it finished within timeout seconds.</summary>
        public bool Wait(double? timeout = null)
        {
            return timeout.HasValue ? _finished.WaitOne(TimeSpan.FromSeconds(Math.Max(0, timeout.Value))) : _finished.WaitOne();
        }

        // -- progress -------------------------------------------------------------------------------

        /// <summary>pending, running, done, failed or cancelled.</summary>
        public string State { get { lock (_lock) return _state; } }

        /// <summary>The protocol error object of a failed or cancelled job.</summary>
        public JsonObject Error { get { lock (_lock) return _error != null ? new JsonObject(_error) : null; } }

        /// <summary>Manifest entries (name, role, size_bytes, sha256, source, generation) of the files completed so far.</summary>
        public List<JsonObject> Files()
        {
            lock (_lock)
                return _files.Select(f => new JsonObject(f)).ToList();
        }

        /// <summary>The copy_status result: state, bytes and files done and total, current file, error.</summary>
        public JsonObject Status()
        {
            lock (_lock)
            {
                return new JsonObject()
                    .Add("copy_id", CopyId)
                    .Add("set_dir", SetDir)
                    .Add("state", _state)
                    .Add("bytes_done", _bytesDone)
                    .Add("bytes_total", BytesTotal)
                    .Add("current_file", _current)
                    .Add("files_done", (long)_files.Count)
                    .Add("files_total", (long)Sources.Count)
                    .Add("error", _error != null ? new JsonObject(_error) : null);
            }
        }

        // -- worker ---------------------------------------------------------------------------------

        private JsonObject CancelError()
        {
            return new CopyError("errBackupAbortByCaller", "copy " + CopyId + " was cancelled").ToError();
        }

        private void Preflight()
        {
            long need = BytesTotal + ReserveBytes;
            long free;
            try
            {
                free = FreeSpace(SetDir);
            }
            catch (Exception exc)
            {
                if (!Copier.IsOsError(exc))
                    throw;
                throw Copier.OsError(exc, SetDir);
            }
            if (free < need)
                throw new CopyError("JET_errClientInsufficientSpace",
                                    SetDir + ": the set needs " + need + " bytes (" + BytesTotal + " of files and " + ReserveBytes + " reserve), " + free + " are free");
        }

        private void Finish(string state, JsonObject error)
        {
            lock (_lock)
            {
                _state = state;
                _error = error;
                if (state == Copier.StateDone)
                    _current = null;
            }
            _finished.Set();
        }

        private void Work()
        {
            string state = Copier.StateDone;
            JsonObject error = null;
            _paceStart = Clock.Elapsed.TotalSeconds;
            try
            {
                Directory.CreateDirectory(SetDir);
                if (OnFolder != null)
                    OnFolder(SetDir);  // the set folder's protected ACL, before any file is in it
                foreach (CopySource src in Sources)
                    CopyOne(src);
                Copier.FsyncDir(SetDir);
            }
            catch (Cancelled)
            {
                state = Copier.StateCancelled;
                error = CancelError();
            }
            catch (CopyError exc)
            {
                state = Copier.StateFailed;
                error = exc.ToError();
            }
            catch (Exception exc)
            {
                string current;
                lock (_lock)
                    current = _current;
                state = Copier.StateFailed;
                if (Copier.IsOsError(exc))
                    error = Copier.OsError(exc, current).ToError();
                else // a reader bug must still end the job, never leave it "running"
                    error = new CopyError("JET_errDiskIO", "reading " + (current ?? "None") + " failed: " + exc.GetType().Name + "(" + Py.Repr(exc.Message) + ")", current).ToError();
            }
            Finish(state, error);
        }

        private void CopyOne(CopySource src)
        {
            if (_cancel.WaitOne(0))
                throw new Cancelled();
            lock (_lock)
                _current = src.Name;
            string final = Path.Combine(new[] { SetDir }.Concat(src.Name.Split('/')).ToArray());
            string partial = final + Copier.PartialSuffix;
            Directory.CreateDirectory(Path.GetDirectoryName(final));
            if (Verify.Lstat(final) != null)
                throw new CopyError("JET_errInvalidParameter", src.Name + " already exists in " + SetDir + "; a copy never overwrites", src.Name);
            // CreateNew: never write through a name someone planted (a link or an old file).
            FileStream fs = new FileStream(partial, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, FileOptions.None);
            string digest;
            long done;
            try
            {
                done = WriteChunks(src, fs, out digest);
                if (done != src.SizeBytes)
                    throw new CopyError("JET_errClientShortRead", src.Name + ": the source gave " + done + " bytes, " + src.SizeBytes + " were announced", src.Name);
                Copier.FsyncFile(fs);
            }
            catch
            {
                fs.Dispose();
                // Only our own in-flight output goes; completed files stay for the failed manifest.
                try
                {
                    System.IO.File.Delete(partial);
                }
                catch (Exception exc)
                {
                    if (!Copier.IsOsError(exc))
                        throw;
                }
                throw;
            }
            fs.Dispose();
            System.IO.File.Move(partial, final);
            Copier.FsyncDir(Path.GetDirectoryName(final));
            JsonObject entry = new JsonObject().Add("name", src.Name).Add("role", src.Role).Add("size_bytes", done).Add("sha256", digest)
                .Add("source", src.Source).Add("generation", src.Generation.HasValue ? (object)src.Generation.Value : null);
            lock (_lock)
                _files.Add(entry);
        }

        /// <summary>SHA-256 for whole files: the CryptoAPI provider (native on Windows; .NET Framework's SHA256.Create()
        /// gives the managed one, several times slower). Under mono both are managed.</summary>
        public static SHA256 BulkSha256()
        {
            return new SHA256CryptoServiceProvider();
        }

        private long WriteChunks(CopySource src, FileStream fs, out string hex)
        {
            long done = 0;
            using (SHA256 digest = BulkSha256())
            {
                IEnumerable<byte[]> chunks = src.OpenChunks();
                IEnumerator<byte[]> it = null;
                try
                {
                    int index = 0;
                    it = Rechunk(chunks).GetEnumerator();
                    while (it.MoveNext())
                    {
                        byte[] chunk = it.Current;
                        if (_cancel.WaitOne(0))
                            throw new Cancelled();
                        if (done + chunk.Length > src.SizeBytes)
                            throw new CopyError("JET_errClientShortRead",
                                                src.Name + ": the source gave more than the " + src.SizeBytes + " bytes announced (it changed during the copy)", src.Name);
                        if (FaultHook != null)
                            FaultHook(new ChunkEvent(src.Name, done, chunk.Length, index));
                        fs.Write(chunk, 0, chunk.Length);
                        digest.TransformBlock(chunk, 0, chunk.Length, null, 0);
                        done += chunk.Length;
                        lock (_lock)
                            _bytesDone += chunk.Length;
                        Pace(chunk.Length);
                        index++;
                    }
                }
                finally
                {
                    if (it != null)
                        it.Dispose(); // lets an iterator reader release its file handle at once
                }
                digest.TransformFinalBlock(new byte[0], 0, 0);
                hex = Manifest.Hex(digest.Hash);
            }
            return done;
        }

        /// <summary>With a throttle, sleep until the bytes written so far are due (cancel wakes it).</summary>
        private void Pace(int written)
        {
            if (ThrottleBpsValue == 0)
                return;
            _paced += written;
            double wait = _paceStart + (double)_paced / ThrottleBpsValue - Clock.Elapsed.TotalSeconds;
            if (wait > 0 && _cancel.WaitOne(TimeSpan.FromSeconds(wait)))
                throw new Cancelled();
        }

        // Readers may yield large buffers; split them so cancel and the fault hook stay fine-grained
        // (and, throttled, so the bytes move every tenth of a second).
        private IEnumerable<byte[]> Rechunk(IEnumerable<byte[]> chunks)
        {
            int size = ThrottleBpsValue != 0 ? (int)Math.Min(ChunkSize, Math.Max(4096, ThrottleBpsValue / 10)) : ChunkSize;
            foreach (byte[] chunk in chunks)
            {
                if (chunk == null)
                {
                    string current;
                    lock (_lock)
                        current = _current;
                    throw new CopyError("JET_errInvalidParameter", (current ?? "None") + ": the reader yielded NoneType, not bytes", current);
                }
                if (chunk.Length <= size)
                {
                    if (chunk.Length > 0)
                        yield return chunk;
                    continue;
                }
                for (int start = 0; start < chunk.Length; start += size)
                {
                    byte[] part = new byte[Math.Min(size, chunk.Length - start)];
                    Buffer.BlockCopy(chunk, start, part, 0, part.Length);
                    yield return part;
                }
            }
        }
    }
}
