// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Ports esesim/engine/lognames.py call for call: log, checkpoint and reserve-log file names,
// exactly as ESE builds them (docs/dev/ese-facts.md section 4.1). JET_paramLegacyFileNames bit
// 0x1 (ESE98 names) picks .log/.chk over .jtx/.jcp; bit 0x2 (8.3 soft compatibility) writes
// generations with 5 hex digits while gen <= 0xFFFFF and 8 digits beyond; without it always 8
// digits. Hex digits are upper case. Generations are long (8 hex digits pass int's range).
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace EsentBackup.Agent
{
    public static class Lognames
    {
        /// <summary>.log with JET_bitESE98FileNames, else .jtx.</summary>
        public static string LogExtension(int legacy)
        {
            return (legacy & JetConstants.JET_bitESE98FileNames) != 0 ? ".log" : ".jtx";
        }

        /// <summary>.chk with JET_bitESE98FileNames, else .jcp.</summary>
        public static string CheckpointExtension(int legacy)
        {
            return (legacy & JetConstants.JET_bitESE98FileNames) != 0 ? ".chk" : ".jcp";
        }

        /// <summary>How many hex digits the name of generation gen has under legacy.</summary>
        public static int GenerationDigits(long gen, int legacy)
        {
            if ((legacy & JetConstants.JET_bitEightDotThreeSoftCompat) != 0 && gen <= JetConstants.FiveDigitGenMax)
                return 5;
            return 8;
        }

        /// <summary>Archived log name, e.g. edb0000A.log (0x3) or edb0000000A.jtx (0x0).</summary>
        public static string LogFileName(string baseName, long gen, int legacy)
        {
            return baseName + gen.ToString("X" + GenerationDigits(gen, legacy), CultureInfo.InvariantCulture) + LogExtension(legacy);
        }

        /// <summary>The current log: edb.log / edb.jtx.</summary>
        public static string CurrentLogName(string baseName, int legacy)
        {
            return baseName + LogExtension(legacy);
        }

        /// <summary>The log being prepared: edbtmp.log / edbtmp.jtx.</summary>
        public static string TmpLogName(string baseName, int legacy)
        {
            return baseName + "tmp" + LogExtension(legacy);
        }

        /// <summary>Reserve log n (1-based): always .jrs and 5 digits (edbres00001.jrs).</summary>
        public static string ReserveLogName(string baseName, int n)
        {
            return baseName + "res" + n.ToString("X5", CultureInfo.InvariantCulture) + ".jrs";
        }

        /// <summary>The checkpoint file: edb.chk / edb.jcp.</summary>
        public static string CheckpointName(string baseName, int legacy)
        {
            return baseName + CheckpointExtension(legacy);
        }

        /// <summary>The generation of an archived log name under this naming style, else null.
        /// Only names this style would produce are accepted (so edb00000001.log is not a 0x3 name:
        /// generation 1 has 5 digits there).</summary>
        public static long? ParseLogFileName(string name, string baseName, int legacy)
        {
            if (name == null)
                return null;
            Match m = Regex.Match(name, "^" + Regex.Escape(baseName) + "([0-9A-F]{5}|[0-9A-F]{8})" + Regex.Escape(LogExtension(legacy)) + @"\z",
                RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            if (!m.Success)
                return null;
            string digits = m.Groups[1].Value;
            if (digits != digits.ToUpperInvariant())
                return null;
            long gen = Int64.Parse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
            if (gen == 0 || digits.Length != GenerationDigits(gen, legacy))
                return null;
            return gen;
        }

        /// <summary>The JET_paramLegacyFileNames values whose log or checkpoint names appear in a folder listing
        /// (names: file names in the log folder and system folder; base: the 3-character base name). When names fit
        /// both width styles (generation beyond 0xFFFFF, or only edb.log), both candidates are returned.
        /// Python returns a set; this is the same values ascending (no HashSet: it lives in System.Core).</summary>
        public static List<int> DetectStyles(IEnumerable<string> names, string baseName)
        {
            List<int> found = new List<int>();
            List<string> all = new List<string>(names);
            foreach (int legacy in new int[] { 0x0, 0x1, 0x2, 0x3 })
            {
                string cur = CurrentLogName(baseName, legacy).ToLowerInvariant();
                string chk = CheckpointName(baseName, legacy).ToLowerInvariant();
                foreach (string n in all)
                {
                    string lower = n.ToLowerInvariant();
                    if (lower == cur || lower == chk || ParseLogFileName(n, baseName, legacy) != null)
                    {
                        found.Add(legacy);
                        break;
                    }
                }
            }
            return found;
        }
    }
}
