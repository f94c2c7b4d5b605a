"""C declarations of the native face: esent.dll's types, structures and exports with Windows widths.

Windows is LLP64, Linux is LP64, so nothing here says ``long``: JET_ERR and ``long`` are int32_t,
JET_GRBIT and ``unsigned long`` uint32_t, JET_API_PTR and every handle uintptr_t, WCHAR char16_t
(``wchar_t`` is 4 bytes on Linux). Spec: docs/dev/windows-facts.md section 3, docs/dev/ese-facts.md
sections 1.3 and 8. The same text is compiled by the C compiler (``C_SOURCE``, with jethdr.w's
packing) and parsed by cffi (``CDEF_*``); cffi refuses to load if the two layouts disagree.
"""

from __future__ import annotations

# Scalar types and the structures that sit in jethdr.w's pshpack8 region (naturally aligned).
CDEF_TYPES = """
typedef int32_t JET_ERR;
typedef uint32_t JET_GRBIT;
typedef uintptr_t JET_API_PTR;
typedef uintptr_t JET_INSTANCE;
typedef uintptr_t JET_SESID;
typedef uintptr_t JET_OSSNAPID;
typedef uintptr_t JET_HANDLE;
typedef uint32_t JET_SNP;
typedef uint32_t JET_SNT;
typedef uint32_t JET_DBID;

typedef struct {
    JET_INSTANCE hInstanceId;
    char16_t *szInstanceName;
    JET_API_PTR cDatabases;
    char16_t **szDatabaseFileName;
    char16_t **szDatabaseDisplayName;
    char16_t **szDatabaseSLVFileName_Obsolete;
} JET_INSTANCE_INFO_W;

typedef struct {
    char16_t *szDatabaseName;
    char16_t *szNewDatabaseName;
} JET_RSTMAP_W;

typedef struct {
    uint32_t cbSize;
    uint32_t ulGenLow;
    uint32_t ulGenHigh;
    char16_t szBaseName[4];
} JET_LOGINFO_W;

typedef struct {
    uint32_t cbStruct;
    uint32_t cunitDone;
    uint32_t cunitTotal;
} JET_SNPROG;
"""

# jethdr.w's pshpack1 region: LOGTIME, BKLOGTIME, LGPOS, SIGNATURE, BKINFO, CHECKPOINTINFO are byte packed.
CDEF_PACKED = """
typedef struct {
    uint8_t bSeconds;
    uint8_t bMinutes;
    uint8_t bHours;
    uint8_t bDay;
    uint8_t bMonth;
    uint8_t bYear;
    uint8_t bFiller1;
    uint8_t bFiller2;
} JET_LOGTIME;

typedef struct {
    uint16_t ib;
    uint16_t isec;
    int32_t lGeneration;
} JET_LGPOS;

typedef struct {
    uint32_t ulRandom;
    JET_LOGTIME logtimeCreate;
    char szComputerName[16];
} JET_SIGNATURE;

typedef struct {
    JET_LGPOS lgposMark;
    JET_LOGTIME logtimeMark;
    uint32_t genLow;
    uint32_t genHigh;
} JET_BKINFO;

typedef struct {
    uint32_t genMin;
    uint32_t genMax;
    JET_LOGTIME logtimeGenMaxCreate;
} JET_CHECKPOINTINFO;
"""

# Structures built from the packed ones (back in the pshpack8 region).
CDEF_OUTER = """
typedef JET_ERR (*JET_PFNSTATUS)(JET_SESID sesid, JET_SNP snp, JET_SNT snt, void *pv);

typedef struct {
    uint32_t cbStruct;
    JET_RSTMAP_W *rgrstmap;
    int32_t crstmap;
    JET_LGPOS lgposStop;
    JET_LOGTIME logtimeStop;
    JET_PFNSTATUS pfnStatus;
} JET_RSTINFO_W;

typedef struct {
    uint32_t ulVersion;
    uint32_t ulUpdate;
    JET_SIGNATURE signDb;
    uint32_t dbstate;
    JET_LGPOS lgposConsistent;
    JET_LOGTIME logtimeConsistent;
    JET_LOGTIME logtimeAttach;
    JET_LGPOS lgposAttach;
    JET_LOGTIME logtimeDetach;
    JET_LGPOS lgposDetach;
    JET_SIGNATURE signLog;
    JET_BKINFO bkinfoFullPrev;
    JET_BKINFO bkinfoIncPrev;
    JET_BKINFO bkinfoFullCur;
    uint32_t fShadowingDisabled;
    uint32_t fUpgradeDb;
    uint32_t dwMajorVersion;
    uint32_t dwMinorVersion;
    uint32_t dwBuildNumber;
    int32_t lSPNumber;
    uint32_t cbPageSize;
    uint32_t genMinRequired;
    uint32_t genMaxRequired;
    JET_LOGTIME logtimeGenMaxCreate;
    uint32_t ulRepairCount;
    JET_LOGTIME logtimeRepair;
    uint32_t ulRepairCountOld;
    uint32_t ulECCFixSuccess;
    JET_LOGTIME logtimeECCFixSuccess;
    uint32_t ulECCFixSuccessOld;
    uint32_t ulECCFixFail;
    JET_LOGTIME logtimeECCFixFail;
    uint32_t ulECCFixFailOld;
    uint32_t ulBadChecksum;
    JET_LOGTIME logtimeBadChecksum;
    uint32_t ulBadChecksumOld;
    uint32_t genCommitted;
    JET_BKINFO bkinfoCopyPrev;
    JET_BKINFO bkinfoDiffPrev;
} JET_DBINFOMISC4;
"""

# esent.dll's exports (docs/dev/ese-facts.md section 8, docs/dev/windows-facts.md sections 3.3 and
# 3.6), W variants for everything with a string.
# `unsigned long` (cbMax, pcbActual, file sizes) is uint32_t, `long` crstfilemap int32_t; the one
# backup file handle is a JET_HANDLE (pointer-sized) whose valid value is 0.
CDEF_ESENT_EXPORTS = """
JET_ERR JetCreateInstance2W(JET_INSTANCE *pinstance, const char16_t *szInstanceName, const char16_t *szDisplayName, JET_GRBIT grbit);
JET_ERR JetSetSystemParameterW(JET_INSTANCE *pinstance, JET_SESID sesid, uint32_t paramid, JET_API_PTR lParam, const char16_t *szParam);
JET_ERR JetInit3W(JET_INSTANCE *pinstance, JET_RSTINFO_W *prstInfo, JET_GRBIT grbit);
JET_ERR JetTerm2(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JetGetSystemParameterW(JET_INSTANCE instance, JET_SESID sesid, uint32_t paramid, JET_API_PTR *plParam, char16_t *szParam, uint32_t cbMax);
JET_ERR JetGetInstanceInfoW(uint32_t *pcInstanceInfo, JET_INSTANCE_INFO_W **paInstanceInfo);
JET_ERR JetGetInstanceMiscInfo(JET_INSTANCE instance, void *pvResult, uint32_t cbMax, uint32_t InfoLevel);
JET_ERR JetBeginSessionW(JET_INSTANCE instance, JET_SESID *psesid, const char16_t *szUserName, const char16_t *szPassword);
JET_ERR JetEndSession(JET_SESID sesid, JET_GRBIT grbit);
JET_ERR JetAttachDatabase2W(JET_SESID sesid, const char16_t *szFilename, const uint32_t cpgDatabaseSizeMax, JET_GRBIT grbit);
JET_ERR JetDetachDatabase2W(JET_SESID sesid, const char16_t *szFilename, JET_GRBIT grbit);
JET_ERR JetOpenDatabaseW(JET_SESID sesid, const char16_t *szFilename, const char16_t *szConnect, JET_DBID *pdbid, JET_GRBIT grbit);
JET_ERR JetGetDatabaseInfoW(JET_SESID sesid, JET_DBID dbid, void *pvResult, uint32_t cbMax, uint32_t InfoLevel);
JET_ERR JetGetDatabaseFileInfoW(const char16_t *szDatabaseName, void *pvResult, uint32_t cbMax, uint32_t InfoLevel);
JET_ERR JetFreeBuffer(char *pbBuf);
JET_ERR JetOSSnapshotPrepare(JET_OSSNAPID *psnapId, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotPrepareInstance(JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotFreezeW(const JET_OSSNAPID snapId, uint32_t *pcInstanceInfo, JET_INSTANCE_INFO_W **paInstanceInfo, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotThaw(const JET_OSSNAPID snapId, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotTruncateLog(const JET_OSSNAPID snapId, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotTruncateLogInstance(const JET_OSSNAPID snapId, JET_INSTANCE instance, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotGetFreezeInfoW(const JET_OSSNAPID snapId, uint32_t *pcInstanceInfo, JET_INSTANCE_INFO_W **paInstanceInfo, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotEnd(const JET_OSSNAPID snapId, const JET_GRBIT grbit);
JET_ERR JetOSSnapshotAbort(const JET_OSSNAPID snapId, const JET_GRBIT grbit);
JET_ERR JetBeginExternalBackupInstance(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JetGetAttachInfoInstanceW(JET_INSTANCE instance, char16_t *szzDatabases, uint32_t cbMax, uint32_t *pcbActual);
JET_ERR JetOpenFileInstanceW(JET_INSTANCE instance, const char16_t *szFileName, JET_HANDLE *phfFile, uint32_t *pulFileSizeLow, uint32_t *pulFileSizeHigh);
JET_ERR JetReadFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile, void *pv, uint32_t cb, uint32_t *pcbActual);
JET_ERR JetCloseFileInstance(JET_INSTANCE instance, JET_HANDLE hfFile);
JET_ERR JetGetLogInfoInstance2W(JET_INSTANCE instance, char16_t *wszzLogs, uint32_t cbMax, uint32_t *pcbActual, JET_LOGINFO_W *pLogInfo);
JET_ERR JetGetTruncateLogInfoInstanceW(JET_INSTANCE instance, char16_t *wszzLogs, uint32_t cbMax, uint32_t *pcbActual);
JET_ERR JetTruncateLogInstance(JET_INSTANCE instance);
JET_ERR JetEndExternalBackupInstance(JET_INSTANCE instance);
JET_ERR JetEndExternalBackupInstance2(JET_INSTANCE instance, JET_GRBIT grbit);
JET_ERR JetStopBackupInstance(JET_INSTANCE instance);
JET_ERR JetExternalRestore2W(char16_t *szCheckpointFilePath, char16_t *szLogPath, JET_RSTMAP_W *rgrstmap, int32_t crstfilemap,
                             char16_t *szBackupLogPath, JET_LOGINFO_W *pLogInfo, char16_t *szTargetInstanceName,
                             char16_t *szTargetInstanceLogPath, char16_t *szTargetInstanceCheckpointPath, JET_PFNSTATUS pfn);
"""

# Not an esent.dll export: TEST-ONLY introspection of the face (struct sizes, live blocks, the
# simulated clock). Request and response are UTF-16 JSON; esent.dll's exports keep their shapes.
CDEF_TEST_EXPORTS = """
JET_ERR EsesimFaceQueryW(const char16_t *szRequest, char16_t *szResponse, uint32_t cchMax, uint32_t *pcchActual);
"""

# Not an esent.dll export: SIMULATION-ONLY, the simulated host behind a remote face (face.py's
# remote mode): one IHostPlatform call as UTF-16 JSON, and shadow-copy reads straight into the
# caller's buffer (a Win32 error is returned, as ReadFile's GetLastError would give).
CDEF_SIM_EXPORTS = """
JET_ERR EsesimPlatformW(const char16_t *szRequest, char16_t *szResponse, uint32_t cchMax, uint32_t *pcchActual);
int32_t EsesimReadShadowW(const char16_t *szShadowId, const char16_t *szPath, int64_t ibOffset, void *pv, int32_t cb, int32_t *pcbRead);
"""

# One name per declaration (a declaration may span lines).
ESENT_EXPORTS: tuple[str, ...] = tuple(decl.split("(", 1)[0].split()[-1] for decl in CDEF_ESENT_EXPORTS.split(";") if decl.strip())

# The real compiler's view, with jethdr.w's packing: cffi checks its parse of the CDEF_* text
# against these definitions when the library loads.
C_SOURCE = r"""
#include <stdint.h>
#include <uchar.h>

#pragma pack(push, 8)
""" + CDEF_TYPES + r"""
#pragma pack(push, 1)
""" + CDEF_PACKED + r"""
#pragma pack(pop)
""" + CDEF_OUTER + r"""
#pragma pack(pop)
"""
