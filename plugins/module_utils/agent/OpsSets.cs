// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Set-level reads of the agent: backup_sets, verify's deeper checks, and the peek answers of all three.
// Ported from the reference agent's ops_sets.py call for call.
//
// * backup_sets lists every set under <dest>\<host>\<instance> (valid manifests of this collection
//   only; links and reparse points are reported as skipped and never followed: BackupSets.Scan) and
//   the complete full chains they form, newest first by lgposMark (docs/manifest.md, "Order" and
//   "Chains"). It is what a person or the restore role reads to choose a set, and what
//   esent.backup.restore takes its default from.
// * VerifyMore is the verify op's hook (OpsInfo.OpVerify): the set's manifest status, and on request
//   page_check (every database page's checksum, as esentutl /k reads them) and restore_check: the
//   set's chain is restored (OpsRestore.OpRestore) into a scratch folder next to the instance's sets,
//   the restored databases are attached in a throw-away process and compared with the store's
//   workload ledger when it has one, and the scratch folder is removed whatever happened.
// * PeekReply answers backup_sets, verify without restore_check and prune with dry_run when no agent
//   of the route runs (agent.ps1 -Peek: read-only, nothing started), which is how check mode reads them.
//
// What only the simulation has. The reference agent reads pages, records, log generations and the
// workload ledger through the simulated engine's own modules (volumes, pages, ledger, logfile,
// open_store); esent.dll has no API for them in this agent, so each goes through
// IHostPlatform.SimOnly(name, args) (the bridge implements them; the Windows platform answers null).
// Paths are Windows paths as the agent names them; pid is the reading process; "err" is 0 or the
// negative JET code the Python call returned:
//
//   check_pages          args {pid, files: [database paths]}
//                        -> {checked: int, bad: [{file, pgno, jet, name}]}         (ops_sets.check_pages)
//                        null (Windows): no page reader in this agent -> {checked: 0, bad: []}
//   read_records         args {pid, path: restored database}
//                        -> {err, records: int (count)}                             (engine read_records_offline;
//                        also OpsRestore's sim_only_read_records)  null: readable, count unknown
//   ledger_of            args {route, pid, instance: the agent's instance block}
//                        -> {ledger: bool}                                         (ops_sets._ledger_of(agent) is not None)
//                        null: false (no workload ledger on Windows)
//   read_generation      args {pid, path: the chain's newest log, generation: int or null for a current log, current: bool}
//                        -> {err, upto: [gen, isec, ib]}                            (engine read_generation, then
//                        Lgpos.at(read.header.gen, read.end).to_list())
//   check_store          args {route, pid, instance, source: recorded source path, restored: its restored copy, upto: [gen, isec, ib]}
//                        -> {err, lost, extra, mismatched, checked: int}            (engine check_store(records of restored,
//                        the ledger, source, upto): len(lost), len(extra), len(mismatched), durable_checked)
//   restore_check_attach args {scratch: folder, databases: [restored paths]}
//                        -> {err}                                                  (ops_sets._attach: open_store/close_store
//                        in a throw-away esentutl.exe process) null: 0
// (The same list, with OpsRestore's calls: /work/briefs/simonly-opsb.md.)
// C# 5 only.
using System;
using System.Collections.Generic;
using System.IO;

namespace EsentBackup.Agent
{
    public static class OpsSets
    {
        /// <summary>&lt;dest&gt;\&lt;host&gt;\&lt;instance&gt;.restore-check-&lt;hex&gt;: beside the instance's sets, never among them.</summary>
        public const string ScratchSuffix = ".restore-check-";
        /// <summary>A blank page: esentutl /k passes it (docs/dev/ese-facts.md section 7.1).</summary>
        public const int JET_errPageNotInitialized = -1019;

        // -- backup_sets ----------------------------------------------------------------------------

        private static string Dest(string dest)
        {
            try
            {
                return BackupSets.CheckDest(dest);
            }
            catch (DestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, exc.Message, exc.Hint);
            }
        }

        private static long SizeOf(JsonObject doc)
        {
            long size = 0;
            foreach (JsonObject f in doc.List("files"))
                size += f.Long("size_bytes");
            return size;
        }

        /// <summary>The backup_sets result for instance of this host under dest (see the file's header).</summary>
        public static JsonObject CatalogueView(IHostPlatform ahost, string instance, string dest)
        {
            dest = Dest(dest);
            string root = dest.TrimEnd('\\') + "\\" + ahost.ComputerName + "\\" + instance;
            Catalogue cat;
            try
            {
                cat = BackupSets.Scan(ahost.RealPath(dest, null), ahost.ComputerName, instance);
            }
            catch (ManifestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, "instance.name: " + exc.Message);
            }
            List<JsonObject> docs = cat.Manifests;  // oldest first by lgposMark
            Dictionary<string, string> folder = new Dictionary<string, string>();
            foreach (SetEntry e in cat.Sets)
                if (e.Manifest != null)
                    folder[e.Manifest.Str("set_id")] = e.Name;
            Func<string, string> path = delegate(string setId)
            {
                string name;
                return root + "\\" + (folder.TryGetValue(setId, out name) ? name : setId);
            };
            List<object> sets = new List<object>();
            for (int i = docs.Count - 1; i >= 0; i--)
            {
                JsonObject doc = docs[i];
                JsonObject reference = doc.Obj("parent");
                sets.Add(new JsonObject().Add("path", path(doc.Str("set_id"))).Add("set_id", doc["set_id"]).Add("status", doc["status"])
                    .Add("backup_type", doc["backup_type"]).Add("recorded_as", doc["recorded_as"]).Add("method", doc["method"]).Add("mark", doc["mark"])
                    .Add("size_bytes", SizeOf(doc)).Add("parent", reference != null ? path(reference.Str("set_id")) : null)
                    .Add("created_utc", doc["created_utc"]).Add("log_range", doc["log_range"]));
            }
            Dictionary<string, List<JsonObject>> members = new Dictionary<string, List<JsonObject>>();
            List<string> memberOrder = new List<string>();
            foreach (JsonObject doc in docs)
            {
                if (!Manifest.IsComplete(doc) || Manifest.ChainType(doc) == "copy")
                    continue;
                List<JsonObject> chain;
                try
                {
                    chain = Manifest.RestoreChain(docs, doc.Str("set_id"));
                }
                catch (ChainError)
                {
                    continue;  // a broken link: restorable by no chain, listed in sets only
                }
                if (Manifest.ChainType(chain[0]) == "full")
                {
                    string fullId = chain[0].Str("set_id");
                    if (!members.ContainsKey(fullId))
                    {
                        members[fullId] = new List<JsonObject>();
                        memberOrder.Add(fullId);
                    }
                    members[fullId].Add(doc);
                }
            }
            // sorted(..., key=order_key(first member), reverse=True): newest chain first (keys are unique by set id)
            List<string> fullIds = new List<string>(memberOrder);
            fullIds.Sort((x, y) => Manifest.CompareOrder(members[y][0], members[x][0]));
            List<object> chains = new List<object>();
            foreach (string fullId in fullIds)
            {
                List<JsonObject> docsOf = members[fullId];
                JsonObject newest = docsOf[docsOf.Count - 1];
                List<object> setPaths = new List<object>();
                long size = 0;
                foreach (JsonObject d in docsOf)
                {
                    setPaths.Add(path(d.Str("set_id")));
                    size += SizeOf(d);
                }
                chains.Add(new JsonObject().Add("full", path(fullId)).Add("sets", setPaths).Add("newest", path(newest.Str("set_id"))).Add("mark", newest["mark"])
                    .Add("size_bytes", size));
            }
            List<object> skipped = new List<object>();
            foreach (SetEntry e in cat.Skipped)
                skipped.Add(new JsonObject().Add("name", e.Name).Add("path", e.Path == cat.Root ? root : root + "\\" + e.Name).Add("reason", e.Reason));
            return new JsonObject().Add("root", root).Add("sets", sets).Add("chains", chains).Add("skipped", skipped).Add("changed", false);
        }

        /// <summary>@op("backup_sets")</summary>
        public static JsonObject OpBackupSets(AgentProcess agent, JsonObject doc)
        {
            string name = agent.InstanceCfg != null ? agent.InstanceCfg.Str("name") : null;
            if (String.IsNullOrEmpty(name))
                name = doc.Obj("instance").Str("name");
            return CatalogueView(agent.Platform, name, doc.Obj("args").Str("dest"));
        }

        /// <summary>The prune result (BackupSets.Prune) with root and every item's path as the host's Windows path.</summary>
        public static JsonObject PruneView(IHostPlatform ahost, string instance, JsonObject args)
        {
            string dest = Dest(args.Str("dest"));
            string root = dest.TrimEnd('\\') + "\\" + ahost.ComputerName + "\\" + instance;
            bool dryRun = args.Bool("dry_run");
            PruneReport report;
            try
            {
                report = BackupSets.Prune(ahost.RealPath(dest, null), ahost.ComputerName, instance, args.Long("keep_full"), dryRun);
            }
            catch (ManifestError exc)
            {
                throw new AgentFailure(Err.InvalidOption, "instance.name: " + exc.Message);
            }
            string realRoot = BackupSets.InstanceRoot(ahost.RealPath(dest, null), ahost.ComputerName, instance);
            JsonObject output = report.ToDict();
            foreach (string key in new[] { "deleted", "kept", "skipped", "errors" })
            {
                List<object> items = new List<object>();
                foreach (JsonObject item in output.List(key))
                    items.Add(new JsonObject(item).Add("path", item.Str("path") == realRoot ? root : root + "\\" + item.Str("name")));
                output[key] = items;
            }
            return new JsonObject(output).Add("root", root).Add("changed", report.Changed);
        }

        // -- verify: status, pages, a scratch restore -------------------------------------------------

        private static JsonObject ManifestOf(string real)
        {
            try
            {
                return BackupSets.ReadManifest(real);
            }
            catch (ManifestError)
            {
                return null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        /// <summary>Every data page of each database file: checksum and page number (esentutl /k); blank pages pass, and
        /// so does the trailer page that ends a streamed copy when its own checksum holds.</summary>
        /// <returns>{checked, bad: [{file, pgno, jet, name}]}; an unreadable header counts as page 0 bad.</returns>
        public static JsonObject CheckPages(IHostPlatform ahost, int pid, List<string> files)
        {
            // Windows: this agent has no page reader of its own (esentutl /k reads them); the platform answers null.
            JsonObject res = ahost.SimOnly("check_pages", new JsonObject().Add("pid", (long)pid).Add("files", J.List(files)));
            if (res == null)
                return new JsonObject().Add("checked", 0L).Add("bad", new List<object>());
            return new JsonObject().Add("checked", res.Long("checked")).Add("bad", res.List("bad") ?? new List<object>());
        }

        /// <summary>Whether the store has a workload ledger (Python _ledger_of(agent) is not None: the running workload's,
        /// the running owner service's, else the one on disk).</summary>
        private static bool LedgerOf(AgentProcess agent)
        {
            // Windows: a store has no workload ledger (the demo workload exists only in the simulation); null means none.
            JsonObject res = agent.Platform.SimOnly("ledger_of", new JsonObject().Add("route", agent.Route).Add("pid", (long)agent.Pid)
                .Add("instance", agent.InstanceCfg));
            return res != null && res.Bool("ledger");
        }

        /// <summary>The log position just after the last record of the chain's newest log: what the restored store must
        /// reflect, and nothing after ([gen, isec, ib]).</summary>
        private static List<object> ChainEnd(AgentProcess agent, string root, List<string> chain)
        {
            long bestGen = 0;
            string bestPath = null, bestBase = null;
            foreach (string setId in chain)
            {
                JsonObject doc = BackupSets.ReadManifest(agent.Platform.RealPath(root + "\\" + setId, null));
                string baseName = doc.Obj("log_range").Str("base_name");
                foreach (JsonObject f in doc.List("files"))
                {
                    if (f.Str("role") == "log" && (bestPath == null || f.Long("generation") >= bestGen))
                    {
                        bestGen = f.Long("generation");
                        bestPath = root + "\\" + setId + "\\" + f.Str("name").Replace('/', '\\');
                        bestBase = baseName;
                    }
                }
            }
            if (bestPath == null)
                return new List<object> { 0L, 0L, 0L };  // Lgpos()
            string name = OpsRestore.WinName(bestPath);
            int legacy = OpsInfo.MaxStyle(LogNames.DetectStyles(new[] { name }, bestBase));
            bool current = !LogNames.ParseLogFileName(name, bestBase, legacy).HasValue;
            // Windows: not reached (no ledger); the simulation reads the log file's records through its engine.
            JsonObject read = agent.Platform.SimOnly("read_generation", new JsonObject().Add("pid", (long)agent.Pid).Add("path", bestPath)
                .Add("generation", current ? null : (object)bestGen).Add("current", current));
            if (read == null || read.Int("err") != 0 || read.List("upto") == null)
                throw new AgentFailure(read != null ? read.Int("err") : Err.InvalidRequest,
                    String.Format("restore check: the chain's last log {0} cannot be read", bestPath));
            return read.List("upto");
        }

        /// <summary>Attach the restored databases in a throw-away process with a fresh log stream in the scratch folder;
        /// 0 when they attach and detach clean.</summary>
        private static int Attach(AgentProcess agent, string scratch, List<string> databases)
        {
            // Windows would JetInit a scratch instance (logs in scratch\attach\logs) and attach each database; the platform answers null.
            JsonObject res = agent.Platform.SimOnly("restore_check_attach", new JsonObject().Add("scratch", scratch).Add("databases", J.List(databases)));
            return res != null ? res.Int("err") : 0;
        }

        /// <summary>Restore the set's chain into a scratch folder, read it back, check pages, compare with the ledger, attach;
        /// remove the scratch.</summary>
        /// <returns>restore_check {ok, chain, attached, records, target, error}; ledgerReport (or null); pages of the restored
        /// databases (or null).</returns>
        public static JsonObject RestoreCheck(AgentProcess agent, string setWin, bool pageCheck, out JsonObject ledgerReport, out JsonObject pages)
        {
            string root = OpsRestore.WinParent(setWin);
            string scratch = root + ScratchSuffix + Session.RandomHex(4);
            string scratchReal = agent.Platform.RealPath(scratch, null);
            JsonObject rc = new JsonObject().Add("ok", false).Add("chain", new List<object>()).Add("attached", false).Add("records", null)
                .Add("target", scratch).Add("error", null);
            ledgerReport = null;
            pages = null;
            agent.Journal.Write("restore_check_started", new JsonObject().Add("backup_set", setWin).Add("target", scratch));
            try
            {
                JsonObject output = OpsRestore.OpRestore(agent, new JsonObject().Add("args", new JsonObject().Add("backup_set", setWin).Add("target", scratch)));
                rc["chain"] = new List<object>(output.List("chain"));
                JsonObject rmap = new JsonObject(output.Obj("restore_map"));
                long? records = 0;
                foreach (KeyValuePair<string, object> kv in rmap)
                {
                    string restored = (string)kv.Value;
                    JsonObject read = agent.Platform.SimOnly("read_records", new JsonObject().Add("pid", (long)agent.Pid).Add("path", restored));
                    if (read != null && read.Int("err") != 0)
                        throw new AgentFailure(read.Int("err"), String.Format("restore check: {0} does not read back", restored));
                    if (read == null || read["records"] == null)
                        records = null;  // Windows: read back by OpRestore itself; no count here
                    else if (records.HasValue)
                        records += read.Long("records");
                }
                rc["records"] = records.HasValue ? (object)records.Value : null;
                List<string> restoredPaths = new List<string>();
                foreach (KeyValuePair<string, object> kv in rmap)
                    restoredPaths.Add((string)kv.Value);
                if (pageCheck)
                    pages = CheckPages(agent.Platform, agent.Pid, restoredPaths);
                bool ledger = IsOurs(agent, root) && LedgerOf(agent);
                if (ledger)
                {
                    List<object> upto = ChainEnd(agent, root, J.Strings(rc["chain"], "chain"));
                    long lost = 0, extra = 0, mismatched = 0, checkedCount = 0;
                    foreach (KeyValuePair<string, object> kv in rmap)
                    {
                        JsonObject r = agent.Platform.SimOnly("check_store", new JsonObject().Add("route", agent.Route).Add("pid", (long)agent.Pid)
                            .Add("instance", agent.InstanceCfg).Add("source", kv.Key).Add("restored", kv.Value).Add("upto", upto)) ?? new JsonObject();
                        if (r.Int("err") != 0)  // the records read back above; the bridge reads them again for the comparison
                            throw new AgentFailure(r.Int("err"), String.Format("restore check: {0} does not read back", kv.Value));
                        lost += r.Long("lost");
                        extra += r.Long("extra");
                        mismatched += r.Long("mismatched");
                        checkedCount += r.Long("checked");
                    }
                    ledgerReport = new JsonObject().Add("lost", lost).Add("extra", extra).Add("mismatched", mismatched).Add("checked", checkedCount)
                        .Add("upto", upto);
                }
                int err = Attach(agent, scratch, restoredPaths);
                rc["attached"] = err == 0;
                if (err != 0)
                    throw new AgentFailure(err, String.Format("restore check: the restored store in {0} does not attach clean", scratch));
                rc["ok"] = true;
            }
            catch (AgentFailure exc)
            {
                rc["error"] = new JsonObject().Add("jet", (long)exc.Code).Add("name", exc.Name).Add("message", exc.Message);
                List<object> chainSoFar = rc.List("chain");
                if (chainSoFar == null || chainSoFar.Count == 0)
                {
                    List<object> fromResult = exc.Result != null ? exc.Result.List("chain") : null;
                    rc["chain"] = fromResult != null ? new List<object>(fromResult) : new List<object>();
                }
            }
            finally
            {
                OpsRestore.RemoveTree(scratchReal, true);
                agent.Journal.Write("restore_check_done", new JsonObject().Add("backup_set", setWin).Add("target", scratch).Add("ok", rc["ok"])
                    .Add("removed", !Directory.Exists(scratchReal) && !File.Exists(scratchReal)));
            }
            return rc;
        }

        /// <summary>Whether the sets under root (&lt;dest&gt;\&lt;host&gt;\&lt;instance&gt;) are this agent's host and instance:
        /// only then does its ledger apply.</summary>
        private static bool IsOurs(AgentProcess agent, string root)
        {
            List<string> parts = WinParts(root);
            string name = agent.InstanceCfg != null && agent.InstanceCfg["name"] != null ? Convert.ToString(agent.InstanceCfg["name"]) : "";
            return parts.Count >= 2 && parts[parts.Count - 1].ToLowerInvariant() == name.ToLowerInvariant()
                && parts[parts.Count - 2].ToLowerInvariant() == agent.Platform.ComputerName.ToLowerInvariant();
        }

        /// <summary>PureWindowsPath(path).parts: the drive's root ("D:\") first, then each folder.</summary>
        private static List<string> WinParts(string path)
        {
            List<string> parts = new List<string>();
            string[] pieces = path.Replace('/', '\\').Split('\\');
            for (int i = 0; i < pieces.Length; i++)
            {
                if (pieces[i].Length == 0)
                    continue;
                if (i == 0 && pieces[i].Length == 2 && pieces[i][1] == ':')
                    parts.Add(pieces[i] + "\\");
                else
                    parts.Add(pieces[i]);
            }
            return parts;
        }

        /// <summary>The verify op beyond the file checks: the set's status, page_check and restore_check.</summary>
        /// <param name="ahost">the host; pid: the reading process.</param>
        /// <param name="args">the op's arguments.</param>
        /// <param name="result">the file checks (Verify.VerifySet).</param>
        /// <param name="output">the op's result so far; returned with status, pages, restore_check and ledger.</param>
        /// <param name="agent">the agent (null in a peek run, which cannot restore).</param>
        /// <exception cref="AgentFailure">JET_errClientVerifyFailed when the files matched but a page, the scratch restore,
        /// or the ledger comparison did not (the result carries everything found); -10002 for restore_check in a peek run.</exception>
        public static JsonObject VerifyMore(IHostPlatform ahost, int pid, JsonObject args, VerifyResult result, JsonObject output, AgentProcess agent = null)
        {
            string setWin = args.Str("backup_set").TrimEnd('\\');
            JsonObject doc = ManifestOf(ahost.RealPath(setWin, null));
            output.Add("status", doc != null ? doc["status"] : null).Add("pages", null).Add("restore_check", null).Add("ledger", null);
            List<string> problems = new List<string>();
            if (args.Bool("page_check") && doc != null)
            {
                List<string> dbs = new List<string>();
                foreach (JsonObject f in doc.List("files"))
                    if (f.Str("role") == "database")
                        dbs.Add(setWin + "\\" + f.Str("name").Replace('/', '\\'));
                output["pages"] = CheckPages(ahost, pid, dbs);
            }
            if (args.Bool("restore_check"))
            {
                if (agent == null)
                {
                    throw new AgentFailure(Err.AgentNotRunning, "restore_check restores into a scratch folder, which needs the agent; a read-only run "
                        + "(check mode) never starts one", "Leave restore_check off in check mode.");
                }
                if (!result.Ok)
                {
                    // the files failed: nothing is restored from this set (the file failure is the op's error)
                }
                else if (doc == null || !Manifest.IsComplete(doc))
                {
                    string why = String.Format("set {0} is {1}: only a complete set is ever restored", OpsRestore.WinName(setWin),
                        doc != null ? doc.Str("status") : "without a manifest");
                    output["restore_check"] = new JsonObject().Add("ok", false).Add("chain", new List<object>()).Add("attached", false)
                        .Add("records", null).Add("target", null)
                        .Add("error", new JsonObject().Add("jet", (long)Err.VerifyFailed).Add("name", "JET_errClientVerifyFailed").Add("message", why));
                }
                else
                {
                    JsonObject ledgerReport, restoredPages;
                    JsonObject rc = RestoreCheck(agent, setWin, args.Bool("page_check"), out ledgerReport, out restoredPages);
                    output["restore_check"] = rc;
                    output["ledger"] = ledgerReport;
                    if (restoredPages != null)
                    {
                        JsonObject prior = output.Obj("pages") ?? new JsonObject().Add("checked", 0L).Add("bad", new List<object>());
                        List<object> bad = new List<object>(prior.List("bad"));
                        bad.AddRange(restoredPages.List("bad"));
                        output["pages"] = new JsonObject().Add("checked", prior.Long("checked") + restoredPages.Long("checked")).Add("bad", bad);
                    }
                }
            }
            JsonObject pagesOut = output.Obj("pages");
            if (pagesOut != null && pagesOut.Count > 0 && pagesOut.List("bad").Count > 0)
            {
                List<object> badPages = pagesOut.List("bad");
                JsonObject first = (JsonObject)badPages[0];
                problems.Add(String.Format("{0}: page {1} fails its checksum ({2}, {3})", first.Str("file"), first.Long("pgno"), first.Str("name"), first.Long("jet"))
                    + (badPages.Count > 1 ? String.Format(" and {0} more page(s)", badPages.Count - 1) : ""));
            }
            JsonObject rcOut = output.Obj("restore_check");
            if (rcOut != null && rcOut.Count > 0 && !rcOut.Bool("ok"))
                problems.Add("restore check: " + rcOut.Obj("error").Str("message"));
            JsonObject ledgerOut = output.Obj("ledger");
            if (ledgerOut != null && ledgerOut.Count > 0 && (ledgerOut.Long("lost") != 0 || ledgerOut.Long("extra") != 0 || ledgerOut.Long("mismatched") != 0))
            {
                problems.Add(String.Format("restore check: {0} durable transaction(s) lost, {1} extra, "
                    + "{2} key(s) no transaction explains, against the workload ledger", ledgerOut.Long("lost"), ledgerOut.Long("extra"), ledgerOut.Long("mismatched")));
            }
            if (result.Ok && problems.Count > 0)
            {
                string message = String.Join("; ", problems.ToArray());
                output["ok"] = false;
                output["error"] = new JsonObject().Add("jet", (long)Err.VerifyFailed).Add("name", "JET_errClientVerifyFailed").Add("message", message)
                    .Add("hint", "").Add("file", null);
                throw new AgentFailure(Err.VerifyFailed, message, "The set's files match its manifest but the store they hold is not "
                    + "sound: take a new full backup, and check the destination volume.", output);
            }
            return output;
        }

        // -- peek answers ---------------------------------------------------------------------------

        private static JsonObject PeekVerify(IHostPlatform ahost, JsonObject args)
        {
            // Python runs this in a "powershell.exe" process of its own; here the peek run's process is this one.
            VerifyResult result = Verify.VerifySet(ahost.RealPath(args.Str("backup_set"), null));
            JsonObject output = new JsonObject(result.ToDict()).Add("changed", false).Add("backup_set", args["backup_set"]);
            output = VerifyMore(ahost, ahost.ProcessId, args, result, output);
            if (!result.Ok)
            {
                JsonObject err = result.Error() ?? new JsonObject();
                throw new AgentFailure(Err.VerifyFailed, err.Str("message", "verification failed"), "", output);
            }
            return output;
        }

        /// <summary>The read-only answer of backup_sets, verify (no restore_check) and dry-run prune; null for any other request.</summary>
        public static byte[] PeekReply(IHostPlatform ahost, JsonObject doc, JsonObject ident)
        {
            string op = doc.Str("op");
            JsonObject args = doc.Obj("args");
            JsonObject inst = doc.Obj("instance") ?? new JsonObject();
            JsonObject result;
            try
            {
                if (op == "backup_sets" && inst.Count > 0)
                    result = CatalogueView(ahost, inst.Str("name"), args.Str("dest"));
                else if (op == "verify" && String.IsNullOrEmpty(args.Str("session_id")))
                    result = PeekVerify(ahost, args);
                else if (op == "prune" && args.Bool("dry_run") && inst.Count > 0)
                    result = PruneView(ahost, inst.Str("name"), args);
                else
                    return null;
            }
            catch (AgentFailure exc)
            {
                return Protocol.Encode(Protocol.ReplyError(exc.Code, exc.Name, exc.Message, exc.Hint, ident, exc.Result));
            }
            return Protocol.Encode(Protocol.ReplyOk(result, ident));
        }
    }
}
