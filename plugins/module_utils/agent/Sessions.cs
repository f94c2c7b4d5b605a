// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Agent sessions: ids, states as data, leases on the injectable clock, the agent's own errors.
// Ported from the reference agent's sessions.py call for call. A session is what one backup run
// holds between its tasks: a snapshot session (one JET_OSSNAPID) or a streaming session (the
// instance's external backup). Its id is opaque, "<agent boot id>:<n>:<random>": the boot id
// tells a session of an earlier agent process ("session lost") from an unknown one. The states and
// the allowed moves are the protocol's table (SessionStates.cs, generated); Session.SwitchTo is
// the only assignment of State and refuses what the table does not list.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Security.Cryptography;
using ansible_collections.esent.backup.plugins.module_utils.JetErrors;
using ansible_collections.esent.backup.plugins.module_utils.SessionStates;

namespace EsentBackup.Agent
{
    /// <summary>An op failed: a JET number (engine or client band), the message, a hint, result keys.</summary>
    public sealed class AgentFailure : Exception
    {
        public readonly int Code;
        public readonly string Hint;
        public readonly JsonObject Result;

        public AgentFailure(int code, string message, string hint = "", JsonObject result = null)
            : base(message)
        {
            Code = code;
            Hint = String.IsNullOrEmpty(hint) ? JetErrorCatalogue.Lookup(code).Hint : hint;
            Result = result ?? new JsonObject();
        }

        public string Name { get { return JetErrorCatalogue.Lookup(Code).Name; } }

        /// <summary>The reply's error object.</summary>
        public JsonObject ToError()
        {
            return new JsonObject().Add("jet", (long)Code).Add("name", Name).Add("message", Message).Add("hint", Hint);
        }
    }

    /// <summary>The catalogue numbers the agent raises itself, by name (one catalogue: _jet_errors.py -> JetErrors.cs).</summary>
    public static class Err
    {
        public static readonly int LeaseExpired = JetErrorCatalogue.CodeOf("JET_errClientLeaseExpired");
        public static readonly int AgentNotRunning = JetErrorCatalogue.CodeOf("JET_errClientAgentNotRunning");
        public static readonly int SessionLost = JetErrorCatalogue.CodeOf("JET_errClientSessionLost");
        public static readonly int OwnerStillRunning = JetErrorCatalogue.CodeOf("JET_errClientOwnerStillRunning");
        public static readonly int VerifyFailed = JetErrorCatalogue.CodeOf("JET_errClientVerifyFailed");
        public static readonly int InvalidRequest = JetErrorCatalogue.CodeOf("JET_errClientInvalidRequest");
        public static readonly int UnknownSession = JetErrorCatalogue.CodeOf("JET_errClientUnknownSession");
        public static readonly int OwnerMismatch = JetErrorCatalogue.CodeOf("JET_errClientOwnerMismatch");
        public static readonly int InvalidOption = JetErrorCatalogue.CodeOf("JET_errClientInvalidOption");
        public static readonly int InvalidSequence = JetErrorCatalogue.CodeOf("JET_errOSSnapshotInvalidSequence");
        public static readonly int InvalidSnapId = JetErrorCatalogue.CodeOf("JET_errOSSnapshotInvalidSnapId");
        public static readonly int BackupInProgress = JetErrorCatalogue.CodeOf("JET_errBackupInProgress");
        public static readonly int ParameterMismatch = JetErrorCatalogue.CodeOf("JET_errClientStoreParameterMismatch");

        /// <summary>The catalogue number of a JET name (JetErrorCatalogue.CodeOf).</summary>
        public static int Code(string name) { return JetErrorCatalogue.CodeOf(name); }
    }

    /// <summary>A deadline on the agent's clock (monotonic seconds); Renew moves it Seconds ahead.</summary>
    public sealed class Lease
    {
        public readonly double Seconds;
        public double Deadline;

        public Lease(double seconds, double now)
        {
            Seconds = seconds;
            Renew(now);
        }

        public void Renew(double now) { Deadline = now + Seconds; }
        public bool Expired(double now) { return now >= Deadline; }
    }

    /// <summary>One backup session held by the agent between tasks.</summary>
    public sealed class Session
    {
        public readonly string SessionId;
        public readonly string Kind;            // "snapshot" or "streaming"
        public readonly string Owner;
        public readonly string BackupType;
        public readonly Lease SessionLease;
        public Lease FreezeLease;
        public SessionState State = SessionState.Prepared;
        public string Reason = "";
        public IntPtr SnapId = IntPtr.Zero;
        public readonly Dictionary<string, string> Shadows = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase); // volume -> shadow id
        public JsonObject Freeze = new JsonObject();   // what the freeze covered (paths, ranges, headers)
        public object Copy;                            // the AgentCopy of this session
        public string SetDir = "";                     // Windows path of the set folder
        public bool Verified;
        public string RecordedAs;
        public JsonObject Mark;
        public bool EngineEnded;                       // the engine part ended early (service-owned store released at thaw)
        public string OwnerService;
        public bool OwnerStopped;                      // this session's prepare (or begin) stopped the running owner service
        public double? OwnerStoppedSeconds;            // how long it stayed stopped, once started again
        public readonly Dictionary<string, double> Times = new Dictionary<string, double>(); // event -> clock time
        public JsonObject Parent;
        public JsonObject Guard;
        public string SetProblem = "";                 // why the set failed its re-check at the destination

        public Session(string sessionId, string kind, string owner, string backupType, Lease sessionLease, string ownerService)
        {
            SessionId = sessionId;
            Kind = kind;
            Owner = owner;
            BackupType = backupType;
            SessionLease = sessionLease;
            OwnerService = ownerService;
            if (kind == "streaming")
                State = SessionState.Begun;
        }

        /// <summary>The protocol's name of a state ("prepared", ...).</summary>
        public static string StateName(SessionState state) { return state.ToString().ToLowerInvariant(); }

        public string StateValue { get { return StateName(State); } }

        public bool CanSwitchTo(SessionState target) { return SessionTable.CanSwitch(Kind, State, target); }

        /// <summary>The only assignment of State; refuses what the table does not allow (an invalid sequence).</summary>
        public void SwitchTo(SessionState target, string reason = "")
        {
            if (!CanSwitchTo(target))
                throw new AgentFailure(Err.InvalidSequence,
                    String.Format("session {0} is {1}; it cannot become {2}", SessionId, StateValue, StateName(target)),
                    "Run the steps in order: prepare, freeze, thaw, copy, truncate, end (or abort).", Brief());
            State = target;
            if (!String.IsNullOrEmpty(reason))
                Reason = reason;
        }

        public bool Live { get { return Array.IndexOf(SessionTable.Live, State) >= 0; } }

        /// <summary>The keys every reply about a session carries (also on failures).</summary>
        public JsonObject Brief()
        {
            JsonObject o = new JsonObject();
            o[Kind == "snapshot" ? "snapshot_id" : "session_id"] = SessionId;
            o["session_id"] = SessionId;
            o["state"] = StateValue;
            if (!String.IsNullOrEmpty(Reason))
                o["reason"] = Reason;
            return o;
        }

        /// <summary>"&lt;boot id&gt;:&lt;n&gt;:&lt;random&gt;": opaque to the controller, parsed only by the agent.</summary>
        public static string NewId(string bootId, int n)
        {
            return bootId + ":" + n + ":" + RandomHex(4);
        }

        /// <summary>The boot id and number of a well-formed id; false otherwise.</summary>
        public static bool SplitId(string sessionId, out string bootId, out int n)
        {
            bootId = null;
            n = 0;
            if (sessionId == null)
                return false;
            string[] parts = sessionId.Split(':');
            if (parts.Length != 3 || parts[0].Length == 0 || parts[1].Length == 0)
                return false;
            foreach (char c in parts[1])
                if (c < '0' || c > '9')
                    return false;
            if (!Int32.TryParse(parts[1], out n))
                return false;
            bootId = parts[0];
            return true;
        }

        /// <summary>Lower-case hex of n random bytes (Python's secrets.token_hex).</summary>
        public static string RandomHex(int bytes)
        {
            byte[] buf = new byte[bytes];
            using (RandomNumberGenerator rng = RandomNumberGenerator.Create())
                rng.GetBytes(buf);
            return BitConverter.ToString(buf).Replace("-", "").ToLowerInvariant();
        }
    }
}
