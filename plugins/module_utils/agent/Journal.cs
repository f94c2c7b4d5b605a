// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The agent's journal and state file, ported from esesim/agent/journal.py.
//
// Journal: one JSON line per state change of a session (and per agent start, reap and owner
// action) in %ProgramData%\esent.backup\journal\<route>.jsonl, with the reason for every abort.
// It outlives the agent process: a completion step repeated after an agent restart reads whether
// its session completed normally, and forensics read it after a crash.
//
// State file: %ProgramData%\esent.backup\agents\<route>.json with the agent's pid, pipe name, boot
// id and the shadow copies it created and has not deleted yet (docs/dev/safety-rules.md rule 11).
// The bootstrap reads pid and pipe; the next agent of the route reads the shadows and reaps them
// when the recorded pid is dead. Written atomically: a temp file in the same folder, flushed to
// disk, then moved over the old one.
//
// Both files are written as Python's json.dumps(doc, sort_keys=True) writes them (", " and ": "
// separators, ASCII only), so the two agents leave the same files on disk.
// C# 5 only.
using System;
using System.Collections;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;

namespace EsentBackup.Agent
{
    /// <summary>Append-only JSON lines, with an in-memory tail for status.</summary>
    public sealed class Journal
    {
        public readonly string Path;
        private readonly Func<double> _time;
        private readonly int _tailSize;
        private readonly LinkedList<JsonObject> _tail = new LinkedList<JsonObject>();
        private readonly object _lock = new object();
        private long _seq;

        public Journal(string path, Func<double> clockTime, int tail = 200)
        {
            Path = path;
            string folder = System.IO.Path.GetDirectoryName(path);
            if (!String.IsNullOrEmpty(folder))
                Directory.CreateDirectory(folder);
            _time = clockTime;
            _tailSize = tail;
        }

        /// <summary>Record one event (session, state, reason ... as fields; null values left out) and return it.</summary>
        public JsonObject Write(string evt, JsonObject fields = null)
        {
            lock (_lock)
            {
                _seq++;
                JsonObject entry = new JsonObject().Add("time", Math.Round(_time(), 3)).Add("seq", _seq).Add("event", evt);
                if (fields != null)
                    foreach (KeyValuePair<string, object> kv in fields)
                        if (kv.Value != null)
                            entry[kv.Key] = kv.Value;
                byte[] line = Encoding.UTF8.GetBytes(Py.Dumps(entry) + "\n");
                using (FileStream fh = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete))
                    fh.Write(line, 0, line.Length);
                _tail.AddLast(entry);
                while (_tail.Count > _tailSize)
                    _tail.RemoveFirst();
                return entry;
            }
        }

        /// <summary>The last n entries this process wrote.</summary>
        public List<object> Tail(int n = 20)
        {
            lock (_lock)
            {
                List<object> all = new List<object>(_tail);
                return all.GetRange(Math.Max(0, all.Count - n), Math.Min(n, all.Count));
            }
        }

        /// <summary>Every entry in the file (it spans agent restarts); a torn last line after a crash is skipped.</summary>
        public List<JsonObject> ReadAll()
        {
            List<JsonObject> output = new List<JsonObject>();
            string[] lines;
            try
            {
                using (FileStream fs = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
                using (StreamReader reader = new StreamReader(fs, new UTF8Encoding(false)))
                    lines = reader.ReadToEnd().Split('\n');
            }
            catch (FileNotFoundException)
            {
                return output;
            }
            catch (DirectoryNotFoundException)
            {
                return output;
            }
            foreach (string line in lines)
            {
                if (line.Trim().Length == 0)
                    continue;
                try
                {
                    JsonObject entry = Json.Parse(line) as JsonObject;
                    if (entry != null)
                        output.Add(entry);
                }
                catch (JsonException)
                {
                    continue;
                }
            }
            return output;
        }

        /// <summary>Every entry of one session, from the file (it spans agent restarts).</summary>
        public List<JsonObject> History(string sessionId)
        {
            List<JsonObject> output = new List<JsonObject>();
            foreach (JsonObject e in ReadAll())
                if ((e["session"] as string) == sessionId)
                    output.Add(e);
            return output;
        }
    }

    /// <summary>The agent's state file: written atomically (temp file in the same folder, flushed to disk, moved over).</summary>
    public sealed class StateFile
    {
        public readonly string Path;

        public StateFile(string path)
        {
            Path = path;
        }

        /// <summary>The recorded object; null when missing, unreadable, not JSON or not an object.</summary>
        public JsonObject Read()
        {
            try
            {
                return Json.Parse(File.ReadAllText(Path, new UTF8Encoding(false))) as JsonObject;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
            catch (JsonException)
            {
                return null;
            }
        }

        public void Write(JsonObject doc)
        {
            string folder = System.IO.Path.GetDirectoryName(Path);
            if (!String.IsNullOrEmpty(folder))
                Directory.CreateDirectory(folder);
            string tmp = Path + ".tmp";
            byte[] data = Encoding.UTF8.GetBytes(Py.Dumps(doc));
            using (FileStream fh = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None))
            {
                fh.Write(data, 0, data.Length);
                fh.Flush(true); // FlushFileBuffers: on disk before the rename makes it the state file
            }
            if (File.Exists(Path))
                File.Replace(tmp, Path, null);
            else
                File.Move(tmp, Path);
        }

        public void Remove()
        {
            try
            {
                File.Delete(Path);
            }
            catch (DirectoryNotFoundException)
            {
                // missing_ok
            }
        }
    }
}
