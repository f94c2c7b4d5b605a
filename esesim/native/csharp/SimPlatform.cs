// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// TEST-ONLY (never shipped to Windows): the simulated fleet's IHostPlatform. Every member is one
// call of the native face's simulation-only export EsesimPlatformW (UTF-16 JSON
// {"call": member, "args": {...}}), which the remote face forwards to the fleet process, where
// esesim/agent/sim_platform.py answers it from the Python HostPlatform and AgentHost of this
// agent's simulated host. Shadow reads go through EsesimReadShadowW straight into the caller's
// buffer. The exports live in the same library as the esent.dll face, so "esent.dll" is mapped
// by mono's dllmap (esent.backup.agent.exe.config). C# 5 only.
using System;
using System.Collections.Generic;
using System.Runtime.InteropServices;
using System.Text;
using ansible_collections.esent.backup.plugins.module_utils.EsentApi;

namespace EsentBackup.Agent.Simulation
{
    /// <summary>IHostPlatform of the simulated host, answered by the fleet process through the native face.</summary>
    public sealed class SimPlatform : IHostPlatform, IAgentDirectory
    {
        private const int JetErrBufferTooSmall = -1038;
        private const int FirstAnswerChars = 8192;

        // SIMULATION-ONLY exports of the native face (esesim/native/cdefs.py CDEF_SIM_EXPORTS), never esent.dll's.
        [DllImport("esent.dll", CharSet = CharSet.Unicode, ExactSpelling = true)]
        private static extern int EsesimPlatformW(string request, StringBuilder response, uint cchMax, out uint cchActual);

        [DllImport("esent.dll", CharSet = CharSet.Unicode, ExactSpelling = true)]
        private static extern int EsesimReadShadowW(string shadowId, string path, long offset, [Out] byte[] buffer, int count, out int read);

        private int processId;
        private string computerName;

        /// <summary>One platform call: the member's answer (parsed JSON), an AgentFailure thrown as the fleet raised it.</summary>
        public static object Call(string member, JsonObject args)
        {
            string request = Json.Serialize(new JsonObject().Add("call", member).Add("args", args ?? new JsonObject()));
            StringBuilder response = new StringBuilder(FirstAnswerChars);
            uint needed;
            int err = EsesimPlatformW(request, response, (uint)response.Capacity, out needed);
            if (err == JetErrBufferTooSmall)
            {
                // The face keeps the answer for this retry (per thread): the call does not run twice.
                response = new StringBuilder(checked((int)needed));
                err = EsesimPlatformW(request, response, needed, out needed);
            }
            if (err != 0)
                throw new InvalidOperationException("EsesimPlatformW " + member + " returned " + err);
            JsonObject answer = J.AsObject(Json.Parse(response.ToString()), "platform answer");
            if (answer.Bool("ok"))
                return answer["result"];
            JsonObject failure = answer.Obj("failure");
            if (failure != null)
                throw new AgentFailure(failure.Int("code"), failure.Str("message", ""), failure.Str("hint", ""), failure.Obj("result"));
            throw new InvalidOperationException("platform call " + member + " failed: " + answer.Str("error", "?"));
        }

        private static JsonObject A() { return new JsonObject(); }

        private static int[] Ints(object value, string what)
        {
            List<object> list = J.AsList(value, what) ?? new List<object>();
            int[] result = new int[list.Count];
            for (int i = 0; i < list.Count; i++)
                result[i] = checked((int)J.AsLong(list[i], what));
            return result;
        }

        private static int? NullableInt(JsonObject o, string key)
        {
            return o[key] == null ? (int?)null : o.Int(key);
        }

        // -- process identity and time ----------------------------------------------------------------

        public int ProcessId
        {
            get
            {
                if (processId == 0)
                    processId = checked((int)J.AsLong(Call("ProcessId", A()), "ProcessId"));
                return processId;
            }
        }

        public string ComputerName
        {
            get
            {
                if (computerName == null)
                    computerName = J.AsString(Call("ComputerName", A()), "ComputerName");
                return computerName;
            }
        }

        public double Time() { return J.AsDouble(Call("Time", A()), "Time"); }

        public double Monotonic() { return J.AsDouble(Call("Monotonic", A()), "Monotonic"); }

        public bool ProcessAlive(int pid) { return J.AsBool(Call("ProcessAlive", A().Add("pid", (long)pid)), "ProcessAlive"); }

        public string ProcessName(int pid) { return J.AsString(Call("ProcessName", A().Add("pid", (long)pid)), "ProcessName", ""); }

        public int[] Holders(string path) { return Ints(Call("Holders", A().Add("path", path)), "Holders"); }

        public string ServiceOfPid(int pid) { return J.AsString(Call("ServiceOfPid", A().Add("pid", (long)pid)), "ServiceOfPid"); }

        public bool IsAgentPid(int pid) { return J.AsBool(Call("IsAgentPid", A().Add("pid", (long)pid)), "IsAgentPid"); }

        /// <summary>IAgentDirectory: the instance name and log path another agent process serves, or null.</summary>
        public JsonObject AgentOfPid(int pid) { return J.AsObject(Call("AgentOfPid", A().Add("pid", (long)pid)), "AgentOfPid"); }

        // -- paths ------------------------------------------------------------------------------------

        public string RealPath(string winPath, string option)
        {
            return J.AsString(Call("RealPath", A().Add("win_path", winPath).Add("option", option)), "RealPath");
        }

        public string DestFolder(string dest, string option)
        {
            return J.AsString(Call("DestFolder", A().Add("dest", dest).Add("option", option)), "DestFolder");
        }

        public string WindowsText(string text) { return J.AsString(Call("WindowsText", A().Add("text", text)), "WindowsText"); }

        // -- files ------------------------------------------------------------------------------------

        public string[] ListDir(string folder) { return J.Strings(Call("ListDir", A().Add("folder", folder)), "ListDir").ToArray(); }

        public int[] LogGenerations(string logPath, string baseName, int legacy)
        {
            return Ints(Call("LogGenerations", A().Add("log_path", logPath).Add("base", baseName).Add("legacy", (long)legacy)), "LogGenerations");
        }

        public long FileSize(string path) { return J.AsLong(Call("FileSize", A().Add("path", path)), "FileSize"); }

        public bool VolumeFull(string path) { return J.AsBool(Call("VolumeFull", A().Add("path", path)), "VolumeFull"); }

        public int ReadShared(string path, out byte[] data)
        {
            JsonObject r = J.AsObject(Call("ReadShared", A().Add("path", path)), "ReadShared");
            data = Convert.FromBase64String(r.Str("data", ""));
            return r.Int("err");
        }

        public int CopyFile(string source, string destination, bool overwrite)
        {
            return checked((int)J.AsLong(Call("CopyFile", A().Add("source", source).Add("destination", destination).Add("overwrite", overwrite)), "CopyFile"));
        }

        public int CreateDirectory(string folder) { return checked((int)J.AsLong(Call("CreateDirectory", A().Add("folder", folder)), "CreateDirectory")); }

        /// <summary>The simulated file system has no ACLs: the host records the call (AgentHost.protected_folders).</summary>
        public void ProtectFolder(string path) { Call("ProtectFolder", A().Add("path", path)); }

        public StoreFacts ReadStoreFacts(string logPath, string systemPath, string baseName)
        {
            JsonObject r = J.AsObject(Call("ReadStoreFacts", A().Add("log_path", logPath).Add("system_path", systemPath).Add("base", baseName)), "ReadStoreFacts");
            if (r == null)
                return null;
            StoreFacts facts = new StoreFacts();
            facts.LegacyStyles = Ints(r["legacy_styles"], "legacy_styles");
            facts.Legacy = NullableInt(r, "legacy");
            facts.LogKb = NullableInt(r, "log_kb");
            facts.PageSize = NullableInt(r, "page_size");
            facts.Circular = r["circular"] == null ? (bool?)null : r.Bool("circular");
            return facts;
        }

        /// <summary>An aligned HGlobal here (mono on Linux); VirtualAlloc on Windows (EsentApi.cs AlignedBuffer).</summary>
        public IAlignedBuffer AllocateAligned(int length) { return AlignedBuffer.Allocate(length); }

        // -- shadow copies ----------------------------------------------------------------------------

        public int CreateShadow(string volume, string tag, out string shadowId)
        {
            JsonObject r = J.AsObject(Call("CreateShadow", A().Add("volume", volume).Add("tag", tag)), "CreateShadow");
            shadowId = r.Str("shadow_id", "");
            return r.Int("err");
        }

        public bool ShadowExists(string shadowId) { return J.AsBool(Call("ShadowExists", A().Add("shadow_id", shadowId)), "ShadowExists"); }

        public long ShadowFileSize(string shadowId, string path)
        {
            return J.AsLong(Call("ShadowFileSize", A().Add("shadow_id", shadowId).Add("path", path)), "ShadowFileSize");
        }

        public int ReadShadow(string shadowId, string path, long offset, byte[] buffer, int count, out int read)
        {
            if (buffer == null)
                throw new ArgumentNullException("buffer");
            if (count < 0 || count > buffer.Length)
                throw new ArgumentOutOfRangeException("count", "between 0 and the buffer length");
            int err = EsesimReadShadowW(shadowId, path, offset, buffer, count, out read);
            if (err == -11999)
                throw new InvalidOperationException("EsesimReadShadowW failed in the face (see its errors query)");
            return err;
        }

        public int DeleteShadow(string shadowId) { return checked((int)J.AsLong(Call("DeleteShadow", A().Add("shadow_id", shadowId)), "DeleteShadow")); }

        // -- services ---------------------------------------------------------------------------------

        public ServiceInfo Service(string name)
        {
            JsonObject r = J.AsObject(Call("Service", A().Add("name", name)), "Service");
            if (r == null)
                return null;
            ServiceInfo info = new ServiceInfo();
            info.ServiceName = r.Str("service_name");
            info.Running = r.Bool("running");
            info.ProcessId = r.Int("pid");
            return info;
        }

        public int StopService(string name) { return checked((int)J.AsLong(Call("StopService", A().Add("name", name)), "StopService")); }

        public int StartService(string name) { return checked((int)J.AsLong(Call("StartService", A().Add("name", name)), "StartService")); }

        // -- simulation only --------------------------------------------------------------------------

        public JsonObject SimOnly(string what, JsonObject args)
        {
            return J.AsObject(Call("SimOnly", A().Add("what", what).Add("args", args ?? new JsonObject())), "SimOnly " + what);
        }
    }
}
