// Copyright: (c) 2026, esent.backup developers
// GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
//
// The few engine constants (esesim/engine/constants.py) the agent needs that EsentNative.cs does
// not define: the JET_paramLegacyFileNames bits and the widest 5-digit log generation, which only
// the file-name rules (LogNames.cs) use. Every JET_param* and JET_bit* the agent passes to
// esent.dll is in EsentNative.cs (NativeHelpers); it is not repeated here.
// C# 5 only.
namespace EsentBackup.Agent
{
    public static class JetConstants
    {
        /// <summary>JET_paramLegacyFileNames bit 0x1: ESE98 names (.log/.chk rather than .jtx/.jcp).</summary>
        public const int JET_bitESE98FileNames = 0x1;

        /// <summary>JET_paramLegacyFileNames bit 0x2: 8.3 soft compatibility (5 hex digits while the generation fits).</summary>
        public const int JET_bitEightDotThreeSoftCompat = 0x2;

        /// <summary>The largest generation written with 5 hex digits under JET_bitEightDotThreeSoftCompat (constants.FIVE_DIGIT_GEN_MAX).</summary>
        public const long FiveDigitGenMax = 0xFFFFF;
    }
}
