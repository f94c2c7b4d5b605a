// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// Log, checkpoint and reserve-log file names, exactly as ESE builds them (docs/dev/ese-facts.md
// section 4.1), ported from esesim/engine/lognames.py. JET_paramLegacyFileNames bit 0x1 (ESE98
// names) picks .log/.chk over .jtx/.jcp; bit 0x2 (8.3 soft compatibility) writes generations with
// 5 hex digits while gen <= 0xFFFFF and 8 digits beyond; without it always 8 digits. Hex digits
// are upper case.
// C# 5 only.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text.RegularExpressions;

namespace EsentBackup.Agent
{
    public static class LogNames
    {
        public const int JET_bitESE98FileNames = 0x1;
        public const int JET_bitEightDotThreeSoftCompat = 0x2;
        public const long FiveDigitGenMax = 0xFFFFF;

        /// <summary>".log" with JET_bitESE98FileNames, else ".jtx".</summary>
        public static string LogExtension(int legacy)
        {
            return (legacy & JET_bitESE98FileNames) != 0 ? ".log" : ".jtx";
        }

        /// <summary>".chk" with JET_bitESE98FileNames, else ".jcp".</summary>
        public static string CheckpointExtension(int legacy)
        {
            return (legacy & JET_bitESE98FileNames) != 0 ? ".chk" : ".jcp";
        }

        /// <summary>How many hex digits the name of generation gen has under legacy.</summary>
        public static int GenerationDigits(long gen, int legacy)
        {
            if ((legacy & JET_bitEightDotThreeSoftCompat) != 0 && gen <= FiveDigitGenMax)
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

        /// <summary>The generation of an archived log name under this naming style, else null (only names this style would produce).</summary>
        public static long? ParseLogFileName(string name, string baseName, int legacy)
        {
            Regex pattern = new Regex("^" + Regex.Escape(baseName) + "([0-9A-F]{5}|[0-9A-F]{8})" + Regex.Escape(LogExtension(legacy)) + "\\z",
                                      RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            Match m = pattern.Match(name);
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

        /// <summary>The JET_paramLegacyFileNames values (0x0..0x3) whose log or checkpoint names appear in a folder listing;
        /// names that fit both width styles give both candidates. Ascending.</summary>
        public static List<int> DetectStyles(IEnumerable<string> names, string baseName)
        {
            List<int> found = new List<int>(); // ascending: the styles are tried in order
            List<string> all = new List<string>(names);
            foreach (int legacy in new[] { 0x0, 0x1, 0x2, 0x3 })
            {
                string cur = CurrentLogName(baseName, legacy).ToLowerInvariant();
                string chk = CheckpointName(baseName, legacy).ToLowerInvariant();
                foreach (string n in all)
                {
                    string lower = n.ToLowerInvariant();
                    if (lower == cur || lower == chk || ParseLogFileName(n, baseName, legacy).HasValue)
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
