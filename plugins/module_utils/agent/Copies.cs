// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// A session's background copy as the agent runs it: copier, then verification, then the manifest.
// Ported call for call from esesim/agent/copies.py. CopyJob (Copier.cs) copies and hashes; this
// wrapper follows the job on its own thread and, once every file is written, re-reads the
// destination (Verify.cs; never the source stream) and writes the set's manifest: pending-end when
// the copy and the verification passed (End comes later and finalises it), failed naming the error
// otherwise, so a partial set never gets a final manifest (docs/dev/safety-rules.md rule 6).
// copy_status stays running until the manifest is on disk; once done it lists the set's files
// (path, size_bytes, sha256, role, source) as the manifest does.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using System.Threading;

namespace EsentBackup.Agent
{
    /// <summary>Read count bytes of a shadow file at offset into buffer; returns a Win32 error (Python: read(offset, length) -> (err, data)).</summary>
    public delegate int ShadowReader(long offset, byte[] buffer, int count, out int read);

    public static class Copies
    {
        public const int ChunkBytes = 256 * 1024;

        /// <summary>A copier source reading one file of a shadow copy through IHostPlatform.ReadShadow (see the other overload).</summary>
        public static CopySource ShadowSource(IHostPlatform platform, string shadowId, string path, long size, string name, string role,
                                              string source, object hostLock, long? generation = null)
        {
            ShadowReader read = delegate(long offset, byte[] buffer, int count, out int n)
            {
                return platform.ReadShadow(shadowId, path, offset, buffer, count, out n);
            };
            return ShadowSource(read, size, name, role, source, hostLock, generation);
        }

        /// <summary>A copier source reading one file of a shadow copy in chunks, each read under the host lock (shadows are
        /// engine objects, not thread-safe). size: the file's size at shadow creation.</summary>
        public static CopySource ShadowSource(ShadowReader read, long size, string name, string role, string source, object hostLock, long? generation = null)
        {
            return new CopySource(name, role, size, () => ShadowChunks(read, size, source, hostLock), source, generation);
        }

        private static IEnumerable<byte[]> ShadowChunks(ShadowReader readShadow, long size, string source, object hostLock)
        {
            long offset = 0;
            while (offset < size)
            {
                int count = (int)Math.Min(ChunkBytes, size - offset);
                byte[] buffer = new byte[count];
                int err, read;
                lock (hostLock)
                    err = readShadow(offset, buffer, count, out read);
                if (err != 0)
                    throw new IOException("reading " + source + " from the shadow copy failed with Win32 error " + err);
                if (read <= 0)
                    yield break; // the copier reports the short read
                if (read < count)
                    Array.Resize(ref buffer, read);
                offset += read;
                yield return buffer;
            }
        }
    }

    /// <summary>One snapshot_copy/stream_copy job: copy, verify at the destination, manifest.</summary>
    public sealed class AgentCopy
    {
        public readonly string SetReal;
        public readonly string SetWin;
        public readonly Action<ChunkEvent> FaultHook;
        public readonly Action<string> OnFolder;
        public volatile CopyJob Job;
        public readonly string CopyId;
        public readonly bool DoVerify; // Python: verify
        public readonly JsonObject ManifestArgs;
        public JsonObject VerifyResult;

        private readonly IHostPlatform _platform;
        private readonly Func<List<CopySource>> _more;
        private readonly List<CopyJob> _doneJobs = new List<CopyJob>();
        private readonly object _lock;
        private readonly Action<bool> _onVerified;
        private volatile string _phase = "copying";
        private volatile string _final;
        private JsonObject _error;
        private List<JsonObject> _files; // the set's files once its manifest is written
        private readonly ManualResetEvent _done = new ManualResetEvent(false);

        /// <summary>setReal: the local set folder; setWin: the same as the host names it. manifestArgs: host, instance, method, header,
        /// log_range, parent, session_id, agent. more: a second phase whose file list is known only after the first (streaming logs).
        /// faultHook: the host's storage faults at the destination, called with (file name, chunk index) before each write
        /// (Copier.DestinationFaults). platform: for Windows names in messages (IHostPlatform.WindowsText); may be null.</summary>
        /// <exception cref="AgentFailure">a bad source (JET_errInvalidParameter).</exception>
        public AgentCopy(List<CopySource> sources, string setReal, string setWin, bool verify, JsonObject manifestArgs, object hostLock,
                         Action<bool> onVerified, string copyId = null, Func<List<CopySource>> more = null, Action<string, int> faultHook = null,
                         IHostPlatform platform = null, Action<string> protectFolder = null)
        {
            SetReal = setReal;
            SetWin = setWin;
            _platform = platform;
            // the set folder's protected ACL, set once the copy created the folder (IHostPlatform.ProtectFolder, by Windows path)
            if (protectFolder != null)
                OnFolder = delegate(string real) { protectFolder(setWin); };
            if (faultHook != null)
                FaultHook = delegate(ChunkEvent e) { faultHook(e.File, e.Index); };
            try
            {
                Job = new CopyJob(sources, setReal, copyId, faultHook: FaultHook, onFolder: OnFolder);
            }
            catch (CopyError exc)
            {
                throw new AgentFailure(exc.Code, Windows(exc.Message));
            }
            CopyId = Job.CopyId;
            _more = more;
            DoVerify = verify;
            ManifestArgs = manifestArgs;
            _lock = hostLock;
            _onVerified = onVerified;
        }

        /// <summary>Free-space check, then copy on the job's thread; a follower thread finishes the set.</summary>
        /// <exception cref="AgentFailure">not enough free space (nothing created).</exception>
        public AgentCopy Start()
        {
            try
            {
                Job.Start();
            }
            catch (CopyError exc)
            {
                _error = WindowsError(exc.ToError());
                _final = Copier.StateFailed;
                _done.Set();
                throw new AgentFailure(exc.Code, Windows(exc.Message));
            }
            Thread follower = new Thread(Follow);
            follower.Name = "copy-follow-" + CopyId;
            follower.IsBackground = true;
            follower.Start();
            return this;
        }

        private string SetId { get { return Path.GetFileName(SetReal.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar)); } }

        private JsonObject NewManifest(List<JsonObject> files, string verifiedUtc, string status, JsonObject error)
        {
            JsonObject a = ManifestArgs;
            return Manifest.NewManifest(SetId, a.Str("host"), a.Str("instance"), a.Str("method"), files.Cast<object>(), a["header"] as JsonObject,
                                        a["log_range"] as JsonObject, a["mark"] as JsonObject, a["parent"] as JsonObject, a.Str("session_id"),
                                        a["agent"] as JsonObject, verifiedUtc, status, error);
        }

        private void Follow()
        {
            Job.Wait();
            List<JsonObject> files = Job.Files();
            try
            {
                if (Job.State == Copier.StateDone && _more != null)
                {
                    List<CopySource> second;
                    try
                    {
                        second = _more();
                    }
                    catch (AgentFailure exc)
                    {
                        Fail(exc.ToError(), Copier.StateFailed, files);
                        return;
                    }
                    _doneJobs.Add(Job);
                    Job = new CopyJob(second, SetReal, CopyId, faultHook: FaultHook, onFolder: OnFolder);
                    try
                    {
                        Job.Start();
                    }
                    catch (CopyError exc)
                    {
                        Fail(exc.ToError(), Copier.StateFailed, files);
                        return;
                    }
                    Job.Wait();
                    files = files.Concat(Job.Files()).ToList();
                }
                if (Job.State != Copier.StateDone)
                {
                    Fail(Job.Error ?? new JsonObject(), Job.State, files);
                    return;
                }
                string verifiedUtc = null;
                if (DoVerify)
                {
                    _phase = "verifying";
                    EsentBackup.Agent.VerifyResult result = Verify.VerifyFiles(SetReal, files.Cast<object>());
                    JsonObject view = result.ToDict();
                    view["set_dir"] = SetWin;
                    VerifyResult = view;
                    if (!result.Ok)
                    {
                        Fail(result.Error() ?? new JsonObject(), Copier.StateFailed, files);
                        return;
                    }
                    verifiedUtc = Manifest.UtcText();
                }
                JsonObject doc = NewManifest(files, verifiedUtc, Manifest.StatusPending, null);
                BackupSets.WriteManifest(SetReal, doc);
                lock (_lock)
                    _onVerified(verifiedUtc != null);
                _files = doc.List("files").Cast<JsonObject>().Select(Entry).ToList();
                _final = Copier.StateDone;
            }
            catch (Exception exc) // a bug must end the job as failed, never leave it running
            {
                Fail(new JsonObject().Add("jet", -10010L).Add("name", "JET_errClientInvalidRequest")
                         .Add("message", "writing the manifest failed: " + exc.GetType().Name + "(" + Py.Repr(exc.Message) + ")"),
                     Copier.StateFailed, files);
            }
            finally
            {
                _done.Set();
            }
        }

        /// <summary>A copier message with the set's local folder (and what lies under it) as the host names it.</summary>
        public string Windows(string text)
        {
            string real = SetReal;
            string result = Regex.Replace(text, Regex.Escape(real) + "((?:[/\\\\][^/\\\\\\s'\",;:)]*)*)",
                                          m => SetWin + m.Groups[1].Value.Replace("/", "\\"));
            return _platform != null ? _platform.WindowsText(result) : result;
        }

        private JsonObject WindowsError(JsonObject error)
        {
            string message = error["message"] as string;
            if (String.IsNullOrEmpty(message))
                return new JsonObject(error);
            return new JsonObject(error).Add("message", Windows(message));
        }

        private void Fail(JsonObject error, string state, List<JsonObject> files)
        {
            error = WindowsError(error);
            _error = error;
            JsonObject err = new JsonObject().Add("jet", error["jet"]).Add("name", error["name"]).Add("message", error["message"]);
            try
            {
                JsonObject doc = NewManifest(files, null, Manifest.StatusFailed, err);
                if (Directory.Exists(SetReal))
                    BackupSets.WriteManifest(SetReal, doc);
            }
            catch (Exception) // the failed manifest is best effort; the error is reported anyway
            {
            }
            _final = state;
        }

        /// <summary>One file of the final copy_status: its Windows path in the set, size, SHA-256, role and source.</summary>
        private JsonObject Entry(JsonObject f)
        {
            return new JsonObject().Add("path", SetWin.TrimEnd('\\') + "\\" + f.Str("name").Replace("/", "\\")).Add("size_bytes", f["size_bytes"])
                .Add("sha256", f["sha256"]).Add("role", f["role"]).Add("source", f["source"]);
        }

        /// <summary>Wait until the set is finished (manifest written or failed); true when it did within timeout seconds.</summary>
        public bool Wait(double? timeout = null)
        {
            return timeout.HasValue ? _done.WaitOne(TimeSpan.FromSeconds(Math.Max(0, timeout.Value))) : _done.WaitOne();
        }

        public bool Cancel()
        {
            return Job.Cancel();
        }

        /// <summary>running until the manifest is on disk, then done, failed or cancelled.</summary>
        public string State { get { return _final ?? "running"; } }

        /// <summary>The copy_status result.</summary>
        public JsonObject Status()
        {
            JsonObject st = Job.Status();
            foreach (CopyJob earlier in _doneJobs)
            {
                st["bytes_done"] = st.Long("bytes_done") + earlier.BytesTotal;
                st["bytes_total"] = st.Long("bytes_total") + earlier.BytesTotal;
                st["files_done"] = st.Long("files_done") + earlier.Sources.Count;
                st["files_total"] = st.Long("files_total") + earlier.Sources.Count;
            }
            string final = _final;
            st["state"] = final ?? "running";
            st["phase"] = final ?? _phase;
            st["set_dir"] = SetWin;
            st["set_id"] = SetId;
            st["error"] = final != null && final != Copier.StateDone ? _error : null;
            st["verify"] = VerifyResult;
            // The final status lists the set's files (as its manifest does), so the controller needs no fetch.
            List<JsonObject> files = _files;
            st["files"] = final == Copier.StateDone && files != null ? files.Select(f => (object)new JsonObject(f)).ToList() : null;
            return st;
        }
    }
}
