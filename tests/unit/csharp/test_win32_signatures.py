"""The Windows platform's Win32 and WMI calls, each checked against its documented signature.

Issue 22 item 5. plugins/module_utils/agent/WindowsNative.cs holds every P/Invoke and WMI call the
Windows platform makes, each under a comment giving the documented C prototype (or MOF signature).
No Windows host is available, so this test checks the declarations statically:

* every ``[DllImport]``: its prototype comment names the same entry point with as many parameters;
  each parameter and the return type is one of the marshalling forms that C type allows (``TYPE_RULES``:
  DWORD is ``uint``/``int``, HANDLE ``IntPtr`` or a SafeHandle, never ``int``, which is 4 bytes on x64,
  LPCWSTR ``string`` with CharSet.Unicode, LPDWORD ``out``/``ref uint``, BOOL ``bool`` with SetLastError
  or ``int``, ...); a string API binds its W export with CharSet.Unicode and ExactSpelling; a buffer the
  function fills is ``[Out]``;
* the entry point is a real export of that DLL, and the declaration's stdcall argument bytes on x86
  (the "@N" of the export's decorated name) match: ``EXPORTS`` lists each export used, after
  mingw-w64's import definitions (mingw-w64-crt/lib32/*.def) and Microsoft's function pages;
* the WMI calls: every class, method, parameter and property the file names is in ``WMI``, after
  Microsoft's MOF pages (Win32_ShadowCopy, Win32_Process), and each MOF comment matches it;
* "isolated in one file": no other C# file of the collection imports a function, except
  EsentNative.cs (esent.dll); the simulation's and the tests' C# import esent.dll (the native face) only.

Each check is shown to catch a deliberately broken copy of a declaration.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
NATIVE = REPO / "plugins" / "module_utils" / "agent" / "WindowsNative.cs"
ESENT_NATIVE = REPO / "plugins" / "module_utils" / "EsentNative.cs"

# Exports of each DLL the platform binds, with the bytes of arguments their stdcall name carries on
# x86 (mingw-w64-crt/lib32/<dll>.def: "CopyFileW@12"). An A export is listed where one exists, so a
# string API can be told to use its W export. Add a function here (checked against Microsoft's page
# for it) before WindowsNative.cs imports it.
EXPORTS: dict[str, dict[str, int]] = {
    "kernel32.dll": {
        "CancelIoEx": 8,
        "CloseHandle": 4,
        "CopyFileA": 12,
        "CopyFileW": 12,
        "CreateFileA": 28,
        "CreateFileW": 28,
        "FlushFileBuffers": 4,
        "GetDiskFreeSpaceExA": 16,
        "GetDiskFreeSpaceExW": 16,
        "GetFileSizeEx": 8,
        "GetLogicalDrives": 0,
        "MoveFileExA": 12,
        "MoveFileExW": 12,
        "OpenProcess": 12,
        "QueryFullProcessImageNameA": 16,
        "QueryFullProcessImageNameW": 16,
        "ReadFile": 20,
        "VirtualAlloc": 16,
        "VirtualFree": 12,
    },
    "advapi32.dll": {
        "CloseServiceHandle": 4,
        "EnumServicesStatusExA": 40,
        "EnumServicesStatusExW": 40,
        "OpenSCManagerA": 12,
        "OpenSCManagerW": 12,
        "OpenServiceA": 12,
        "OpenServiceW": 12,
        "QueryServiceStatusEx": 20,
    },
    # The Restart Manager is Unicode only: RmStartSession and RmRegisterResources take WCHAR strings
    # under their plain names (no A or W export).
    "rstrtmgr.dll": {
        "RmEndSession": 4,
        "RmGetList": 20,
        "RmRegisterResources": 28,
        "RmStartSession": 12,
    },
}

# Array parameters a function fills (documented [out] or [in, out] on Microsoft's page): the C#
# array must be [Out], or the marshaller never copies a non-blittable array back.
FILLED_ARRAYS = {("ReadFile", "lpBuffer"), ("RmGetList", "rgAffectedApps")}

# .NET enums backed by a 32-bit int, accepted for a DWORD flags or mode argument.
INT32_ENUMS = {"FileShare", "FileMode", "FileAccess", "FileAttributes", "FileOptions"}

WIDE_STRINGS = {"LPCWSTR", "PCWSTR", "LPWSTR", "PWSTR", "WCHAR[]", "LPCWSTR[]"}


@dataclass
class Param:
    """One parameter, as C# declares it."""

    name: str
    type: str
    mod: str = ""  # "", "ref", "out"
    attrs: list[str] = field(default_factory=list)  # "In", "Out", "MarshalAs(UnmanagedType.Bool)"

    @property
    def marshal_as(self) -> str:
        return next((a.split("UnmanagedType.", 1)[1].rstrip(")").split(",")[0].strip() for a in self.attrs if a.startswith("MarshalAs(")), "")


@dataclass
class CParam:
    """One parameter of the C prototype: its type (``DWORD``, ``LPDWORD``, ``DWORD*``, ``WCHAR[]``) and name."""

    type: str
    name: str


@dataclass
class Import:
    """One ``[DllImport]`` declaration and the prototype in the comment above it."""

    file: str
    line: int
    dll: str
    entry: str
    method: str
    charset: str
    set_last_error: bool
    exact_spelling: bool
    returns: str
    return_marshal: str
    params: list[Param]
    c_returns: str | None
    c_name: str | None
    c_params: list[CParam]


def _split_top(text: str) -> list[str]:
    """Split on commas outside brackets and parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]


_PARAM = re.compile(r"^(?P<attrs>(?:\[[^\]]*\]\s*)*)(?:(?P<mod>ref|out|params)\s+)?(?P<type>[\w.]+(?:\[\])?)\s+(?P<name>\w+)$", re.S)
_EXTERN = re.compile(r"static\s+extern\s+(?P<ret>[\w.]+(?:\[\])?)\s+(?P<name>\w+)\s*\((?P<params>.*?)\)\s*;", re.S)
_PROTOTYPE = re.compile(r"(?P<ret>\b[A-Z_][A-Z0-9_]*|\bvoid)\s+(?P<name>\w+)\s*\((?P<params>[^()]*)\)\s*;")


def _csharp_params(text: str) -> list[Param]:
    params = []
    for part in _split_top(text):
        m = _PARAM.match(" ".join(part.split()))
        assert m, f"cannot read the C# parameter {part!r}"
        attrs = [a.strip() for group in re.findall(r"\[([^\]]*)\]", m.group("attrs")) for a in _split_top(group)]
        params.append(Param(m.group("name"), m.group("type"), m.group("mod") or "", attrs))
    return params


def _c_params(text: str) -> list[CParam] | None:
    """The parameters of a C prototype's parameter list; None when it is not one (prose in a comment)."""
    text = " ".join(text.split())
    if text in ("", "void"):
        return []
    params = []
    for part in text.split(","):
        part = re.sub(r"\bconst\b", "", part).strip()
        array = part.endswith("[]")
        part = part.removesuffix("[]").strip()
        m = re.match(r"^(?P<type>[A-Za-z_]\w*(?:\s*\[\])?)\s*(?P<ptr>\**)\s*(?P<name>\w+)$", part)
        if not m:
            return None
        ctype = m.group("type").replace(" ", "") + m.group("ptr") + ("[]" if array else "")
        params.append(CParam(ctype, m.group("name")))
    return params


def parse_imports(source: str, file: str = "WindowsNative.cs") -> list[Import]:
    """Every ``[DllImport]`` of a C# source, with the C prototype of the comment block above it."""
    lines = source.splitlines()
    consts = dict(re.findall(r'const\s+string\s+(\w+)\s*=\s*"([^"]*)"', source))
    imports = []
    for i, line in enumerate(lines):
        if not line.strip().startswith("[DllImport("):
            continue
        j = i - 1
        comment: list[str] = []
        while j >= 0 and lines[j].strip().startswith("//"):
            comment.insert(0, lines[j].strip()[2:].strip())
            j -= 1
        k, decl = i, ""
        while ";" not in decl:
            decl += lines[k] + "\n"
            k += 1
        attr = re.match(r"\s*\[DllImport\((?P<args>.*?)\)\]", decl, re.S)
        assert attr, decl
        args = _split_top(attr.group("args"))
        dll = args[0].strip('"') if args[0].startswith('"') else consts.get(args[0], args[0])
        named = dict((k.strip(), v.strip()) for k, v in (a.split("=", 1) for a in args[1:]))
        ext = _EXTERN.search(decl)
        assert ext, f"{file}:{i + 1}: no extern declaration after [DllImport]"
        ret_attr = re.search(r"\[return:\s*MarshalAs\(UnmanagedType\.(\w+)", decl)
        proto = next((m for m in _PROTOTYPE.finditer(" ".join(comment)) if _c_params(m.group("params")) is not None), None)
        imports.append(
            Import(
                file=file,
                line=i + 1,
                dll=dll.lower(),
                entry=named.get("EntryPoint", ext.group("name")).strip('"'),
                method=ext.group("name"),
                charset=named.get("CharSet", "").replace("CharSet.", ""),
                set_last_error=named.get("SetLastError") == "true",
                exact_spelling=named.get("ExactSpelling") == "true",
                returns=ext.group("ret"),
                return_marshal=ret_attr.group(1) if ret_attr else "",
                params=_csharp_params(ext.group("params")),
                c_returns=proto.group("ret") if proto else None,
                c_name=proto.group("name") if proto else None,
                c_params=(_c_params(proto.group("params")) or []) if proto else [],
            )
        )
    return imports


# -- the Win32 type map -----------------------------------------------------------------------

def _safe_handle(t: str) -> bool:
    return t == "SafeHandle" or (t.startswith("Safe") and t.endswith("Handle"))


def _struct(t: str) -> bool:
    """A C# struct or class of the platform's own (an upper-case Win32 name or a BCL interop struct)."""
    return t == "NativeOverlapped" or bool(re.fullmatch(r"[A-Z][A-Z0-9_]+", t))


_U32 = {"DWORD", "UINT", "ULONG"}
_S32 = {"LONG", "INT", "HRESULT"}
_ENUMS = {"SC_STATUS_TYPE", "SC_ENUM_TYPE", "RM_APP_TYPE"}
_HANDLES = {"HANDLE", "SC_HANDLE", "HMODULE", "HKEY", "HLOCAL", "HGLOBAL"}
_PTR_INTS = {"ULONG_PTR", "SIZE_T", "DWORD_PTR", "UINT_PTR", "LONG_PTR", "INT_PTR"}
_P32 = {"LPDWORD", "PDWORD", "DWORD*", "PUINT", "LPUINT", "UINT*", "PULONG", "ULONG*"}


def param_problem(c: CParam, p: Param, imp: Import) -> str | None:
    """Why ``p`` cannot carry the C parameter ``c`` (None when it can)."""
    t, mod, byval = p.type, p.mod, p.mod == ""
    ptr = byval and t == "IntPtr"  # a raw pointer (NULL allowed) for any pointer type
    ctype = c.type
    if ctype == "BOOL":
        if not (byval and t in ("bool", "int")):
            return "BOOL is a 4-byte int: bool (marshalled as UnmanagedType.Bool) or int"
        if t == "bool" and p.marshal_as not in ("", "Bool"):
            return f"BOOL is 4 bytes: MarshalAs(UnmanagedType.{p.marshal_as}) marshals a different width"
    elif ctype in _U32 or ctype in _ENUMS:
        if not (byval and (t in ("uint", "int") or t in INT32_ENUMS)):
            return f"{ctype} is 32 bits by value: uint or int"
    elif ctype in _S32:
        if not (byval and t == "int"):
            return f"{ctype} is a signed 32-bit value: int"
    elif ctype in _HANDLES:
        if not (byval and (t == "IntPtr" or _safe_handle(t))):
            return f"{ctype} is pointer-sized (8 bytes on x64): IntPtr or a SafeHandle, never {mod + ' ' if mod else ''}{t}"
    elif ctype in ("PHANDLE", "LPHANDLE"):
        if not (ptr or (mod in ("out", "ref") and (t == "IntPtr" or _safe_handle(t)))):
            return f"{ctype} points to a handle: out IntPtr or out SafeHandle"
    elif ctype in _PTR_INTS:
        if not (byval and t in ("IntPtr", "UIntPtr")):
            return f"{ctype} is pointer-sized: UIntPtr or IntPtr"
    elif ctype in ("ULONGLONG", "DWORD64", "UINT64"):
        if not (byval and t == "ulong"):
            return f"{ctype} is 64 bits: ulong"
    elif ctype in ("LONGLONG", "INT64"):
        if not (byval and t == "long"):
            return f"{ctype} is 64 bits: long"
    elif ctype in _P32:
        if not (ptr or (mod in ("out", "ref") and t in ("uint", "int")) or (byval and t in ("uint[]", "int[]"))):
            return f"{ctype} points to a 32-bit value: out or ref uint (or IntPtr)"
    elif ctype == "PULARGE_INTEGER":
        if not (ptr or (mod in ("out", "ref") and t == "ulong")):
            return "PULARGE_INTEGER points to 64 bits: out or ref ulong"
    elif ctype == "PLARGE_INTEGER":
        if not (ptr or (mod in ("out", "ref") and t == "long")):
            return "PLARGE_INTEGER points to 64 bits: out or ref long"
    elif ctype in ("LPCWSTR", "PCWSTR"):
        if not (ptr or (byval and t == "string")):
            return f"{ctype} is a wide string: string with CharSet.Unicode"
    elif ctype in ("LPWSTR", "PWSTR", "WCHAR[]"):
        if not (ptr or (byval and t in ("StringBuilder", "char[]"))):
            return f"{ctype} is a wide-character buffer the function fills: StringBuilder (or char[]) with CharSet.Unicode"
    elif ctype == "LPCWSTR[]":
        if not (ptr or (byval and t == "string[]")):
            return "an array of wide strings: string[] with CharSet.Unicode"
    elif ctype in ("LPVOID", "PVOID", "LPBYTE", "PBYTE"):
        if not (ptr or (byval and t == "byte[]") or (mod in ("out", "ref") and _struct(t))):
            return f"{ctype} is a buffer: byte[], IntPtr, or out/ref of the structure it holds"
    elif ctype == "LPCVOID":
        if not (ptr or (byval and t == "byte[]")):
            return "LPCVOID is an input buffer: byte[] or IntPtr"
    elif ctype == "LPOVERLAPPED":
        if not (ptr or (mod == "ref" and t in ("NativeOverlapped", "OVERLAPPED"))):
            return "LPOVERLAPPED: ref NativeOverlapped or IntPtr"
    elif ctype == "LPSECURITY_ATTRIBUTES":
        if not (ptr or (mod == "ref" and t == "SECURITY_ATTRIBUTES")):
            return "LPSECURITY_ATTRIBUTES: IntPtr (NULL) or ref SECURITY_ATTRIBUTES"
    elif ctype.endswith("[]"):  # STRUCT name[]
        if not (ptr or (byval and t == ctype)):
            return f"{ctype} is an array of {ctype[:-2]}: {ctype} by value"
    elif ctype.endswith("*") or (ctype.startswith(("P", "LP")) and _struct(ctype)):
        target = ctype.rstrip("*") if ctype.endswith("*") else ctype.removeprefix("LP").removeprefix("P")
        if not (ptr or (mod in ("out", "ref") and t == target)):
            return f"{ctype} points to a {target}: ref or out {target} (or IntPtr)"
    else:
        return f"{ctype} is not in this test's Win32 type map: add its rule (TYPE_RULES in param_problem) from its documented definition"
    if ctype in WIDE_STRINGS and t != "IntPtr" and imp.charset != "Unicode" and p.marshal_as not in ("LPWStr",):
        return f"{ctype} is UTF-16: the import needs CharSet = CharSet.Unicode (the default marshals ANSI)"
    if (imp.entry, c.name) in FILLED_ARRAYS and t.endswith("[]") and "Out" not in p.attrs:
        return f"{c.name} is filled by the function: the array needs [Out]"
    return None


def return_problem(imp: Import) -> str | None:
    c, t = imp.c_returns, imp.returns
    if c == "BOOL":
        if t == "bool":
            if not imp.set_last_error:
                return "BOOL result as bool: the import needs SetLastError = true (the error comes from GetLastError)"
            if imp.return_marshal not in ("", "Bool"):
                return f"BOOL is 4 bytes: [return: MarshalAs(UnmanagedType.{imp.return_marshal})] marshals a different width"
        elif t != "int":
            return "BOOL result: bool (with SetLastError) or int"
    elif c in _U32:
        if t not in ("uint", "int"):
            return f"{c} result: uint or int"
    elif c in _S32:
        if t != "int":
            return f"{c} result: int"
    elif c in _HANDLES:
        if not (t == "IntPtr" or _safe_handle(t)):
            return f"{c} result is pointer-sized: IntPtr or a SafeHandle, never {t}"
        if not imp.set_last_error:
            return f"{c} result: NULL on failure, the error from GetLastError: SetLastError = true"
    elif c in ("LPVOID", "PVOID"):
        if t != "IntPtr":
            return f"{c} result is a pointer: IntPtr"
        if not imp.set_last_error:
            return f"{c} result: NULL on failure, the error from GetLastError: SetLastError = true"
    elif c == "void":
        if t != "void":
            return "void result: void"
    else:
        return f"result type {c} is not in this test's Win32 type map"
    return None


def _x86_bytes(p: Param) -> int:
    return 8 if p.mod == "" and p.type in ("long", "ulong", "double", "Int64", "UInt64") else 4


def _c_x86_bytes(c: CParam) -> int:
    return 8 if c.type in ("ULONGLONG", "LONGLONG", "DWORD64", "UINT64", "INT64", "LARGE_INTEGER", "ULARGE_INTEGER", "double") else 4


def import_problems(imp: Import) -> list[str]:
    """Everything wrong with one declaration, each naming the file, line and entry point."""
    where = f"{imp.file}:{imp.line} {imp.dll}!{imp.entry}"
    out: list[str] = []
    exports = EXPORTS.get(imp.dll)
    if exports is None:
        return [f"{where}: {imp.dll} is not in EXPORTS (add its documented exports first)"]
    if imp.entry not in exports:
        hint = f"; did you mean {imp.entry}W?" if imp.entry + "W" in exports else ""
        out.append(f"{where}: not an export of {imp.dll}{hint}")
    if imp.entry.endswith("A") and imp.entry[:-1] + "W" in exports:
        out.append(f"{where}: the ANSI export; bind {imp.entry[:-1]}W with CharSet.Unicode")
    if imp.entry.endswith("W") and imp.entry in exports and imp.charset != "Unicode":
        out.append(f"{where}: a W export needs CharSet = CharSet.Unicode")
    if not imp.exact_spelling:
        out.append(f"{where}: ExactSpelling = true (bind the export named, no A/W probing)")
    if imp.c_name is None:
        known = NATIVE_PROTOTYPES.get(imp.entry) or DOCUMENTED.get(imp.entry)
        hint = f"; Microsoft documents: {known}" if known else ""
        return [*out, f"{where}: no C prototype in the comment above the import{hint}"]
    if imp.c_name != imp.entry:
        out.append(f"{where}: the prototype comment is for {imp.c_name}")
    if len(imp.c_params) != len(imp.params):
        out.append(f"{where}: {len(imp.params)} parameters, the prototype has {len(imp.c_params)}")
    elif imp.entry in exports:
        declared = sum(_x86_bytes(p) for p in imp.params)
        if declared != exports[imp.entry]:
            out.append(f"{where}: {declared} bytes of arguments on x86, the export takes {exports[imp.entry]} ({imp.entry}@{exports[imp.entry]})")
    if imp.entry in exports and sum(_c_x86_bytes(c) for c in imp.c_params) != exports[imp.entry]:
        out.append(f"{where}: the prototype comment's parameters do not add up to {imp.entry}@{exports[imp.entry]}")
    for c, p in zip(imp.c_params, imp.params, strict=False):
        why = param_problem(c, p, imp)
        if why:
            out.append(f"{where}: parameter {p.name} ({p.mod + ' ' if p.mod else ''}{p.type}) for {c.type} {c.name}: {why}")
    why = return_problem(imp)
    if why:
        out.append(f"{where}: returns {imp.returns} for {imp.c_returns}: {why}")
    return out


NATIVE_TEXT = NATIVE.read_text()
IMPORTS = parse_imports(NATIVE_TEXT)
# The prototypes WindowsNative.cs already carries, and Microsoft's for the imports still elsewhere: the
# comment a declaration without one needs.
NATIVE_PROTOTYPES = {
    i.entry: f"{i.c_returns} {i.c_name}({', '.join(f'{c.type} {c.name}' for c in i.c_params) or 'void'});" for i in IMPORTS if i.c_name
}
DOCUMENTED = {
    "VirtualAlloc": "LPVOID VirtualAlloc(LPVOID lpAddress, SIZE_T dwSize, DWORD flAllocationType, DWORD flProtect);",
    "VirtualFree": "BOOL VirtualFree(LPVOID lpAddress, SIZE_T dwSize, DWORD dwFreeType);",
    "FlushFileBuffers": "BOOL FlushFileBuffers(HANDLE hFile);",
    "MoveFileExW": "BOOL MoveFileExW(LPCWSTR lpExistingFileName, LPCWSTR lpNewFileName, DWORD dwFlags);",
}
# Win32 imports anywhere else in plugins/ are checked the same way (and refused by the isolation test below).
ELSEWHERE = [
    imp
    for path in sorted((REPO / "plugins").rglob("*.cs"))
    if path != NATIVE
    for imp in parse_imports(path.read_text(), path.relative_to(REPO).as_posix())
    if imp.dll not in ("esent.dll", "esentdll")
]


def test_windows_native_declares_the_platforms_imports() -> None:
    assert len(IMPORTS) >= 15, [i.entry for i in IMPORTS]
    assert {i.dll for i in IMPORTS} <= set(EXPORTS)


@pytest.mark.parametrize("imp", IMPORTS + ELSEWHERE, ids=[i.entry for i in IMPORTS] + [f"{i.file.rsplit('/', 1)[-1]}-{i.entry}" for i in ELSEWHERE])
def test_import_matches_its_documented_prototype(imp: Import) -> None:
    problems = import_problems(imp)
    assert not problems, "\n".join(problems)


# -- isolated in one file ---------------------------------------------------------------------

def _dllimports(text: str) -> list[tuple[int, str, str]]:
    """(line, dll, entry point) of each [DllImport] in a C# text (NativeMethods.EsentDll resolved too)."""
    consts = {"EsentDll": "esent.dll", **dict(re.findall(r'const\s+string\s+(\w+)\s*=\s*"([^"]*)"', text))}
    found = []
    for m in re.finditer(r"\[DllImport\(\s*([^,)]+)(?P<rest>[^\]]*)\]", text):
        arg = m.group(1).strip()
        dll = arg.strip('"') if arg.startswith('"') else consts.get(arg.split(".")[-1], arg)
        named = re.search(r'EntryPoint\s*=\s*"(\w+)"', m.group("rest"))
        ext = re.compile(r"static\s+extern\s+[\w.\[\]]+\s+(\w+)").search(text, m.end())
        entry = named.group(1) if named else ext.group(1) if ext else "?"
        found.append((text.count("\n", 0, m.start()) + 1, dll.lower(), entry))
    return found


# Imports the lead lets live outside WindowsNative.cs, by (file name, entry point), with the reason.
# Their declarations are still checked against their prototypes (test_import_matches_its_documented_prototype).
ALLOWED_ELSEWHERE: dict[tuple[str, str], str] = {
    ("EsentNative.cs", "VirtualAlloc"): "house rule 7: the esent.dll layer's own kernel32 class, for JetReadFileInstance's page-aligned "
    "buffer (EsentApi.VirtualAllocBuffer); plugins/module_utils/*.cs compile without agent/, where WindowsNative.cs lives",
    ("EsentNative.cs", "VirtualFree"): "the same class: frees that buffer",
}


def isolation_problems(files: dict[str, str]) -> list[str]:
    """Imports outside WindowsNative.cs, for files given as {repository path: text}.

    In plugins/ (what ships to a host) only WindowsNative.cs imports Win32 and only EsentNative.cs
    esent.dll (and ALLOWED_ELSEWHERE); the simulation's and the tests' C# may import esent.dll (the
    native face) only.
    """
    out = []
    for rel, text in sorted(files.items()):
        name = rel.rsplit("/", 1)[-1]
        shipped = rel.startswith("plugins/")
        for line, dll, entry in _dllimports(text):
            if shipped and name == NATIVE.name:
                continue
            if dll == "esent.dll" and (name == ESENT_NATIVE.name or not shipped):
                continue
            if shipped and (name, entry) in ALLOWED_ELSEWHERE:
                continue
            out.append(f"{rel}:{line}: [DllImport({dll!r})] {entry} outside WindowsNative.cs: move it into WindowsNative.cs's Win32 "
                       "class, under its documented C prototype (and add it to EXPORTS here), and call Win32.<Name> from here")
    return out


CS_FILES = {p.relative_to(REPO).as_posix(): p.read_text() for top in ("plugins", "esesim", "tests") for p in sorted((REPO / top).rglob("*.cs"))}


def test_win32_imports_are_isolated_in_windows_native() -> None:
    problems = isolation_problems(CS_FILES)
    assert not problems, "\n".join(problems)


# -- WMI ----------------------------------------------------------------------------------------

# Microsoft's MOF pages: each method's [in] and [out] parameters and its result, and the class's properties.
WMI = {
    "Win32_ShadowCopy": {
        "methods": {"Create": (("Volume", "Context"), ("ShadowID",), "uint32")},
        "properties": {
            "Caption", "Description", "ID", "InstallDate", "Name", "SetID", "ProviderID", "Status", "Count", "DeviceObject",
            "VolumeName", "OriginatingMachine", "ServiceMachine", "ExposedName", "ExposedPath", "State", "Persistent",
            "ClientAccessible", "NoAutoRelease", "NoWriters", "Transportable", "NotSurfaced", "HardwareAssisted",
            "Differential", "Plex", "Imported", "ExposedRemotely", "ExposedLocally",
        },
        "deletable": True,  # the VSS provider deletes an instance (SWbemObject.Delete_ / IWbemServices::DeleteInstance)
    },
    "Win32_Process": {
        "methods": {
            "Create": (("CommandLine", "CurrentDirectory", "ProcessStartupInformation"), ("ProcessId",), "uint32"),
            "Terminate": (("Reason",), (), "uint32"),
        },
        "properties": {"ProcessId", "ParentProcessId", "Name", "ExecutablePath", "CommandLine", "CreationDate", "Handle", "SessionId"},
        "deletable": False,
    },
    "Win32_ProcessStartup": {
        "methods": {},
        "properties": {"CreateFlags", "ShowWindow", "EnvironmentVariables", "PriorityClass", "Title", "WinstationDesktop"},
        "deletable": False,
    },
}


def wmi_problems(source: str) -> list[str]:
    """Every WMI class, method, parameter and property ``source`` names that Microsoft's MOF does not document."""
    consts = dict(re.findall(r'const\s+string\s+(\w+)\s*=\s*"([^"]*)"', source))

    def value(expr: str) -> str:
        expr = expr.strip()
        return expr.strip('"') if expr.startswith('"') else consts.get(expr, expr)

    def line_of(pos: int) -> int:
        return source.count("\n", 0, pos) + 1

    out: list[str] = []
    classes: set[str] = set()
    for m in re.finditer(r"new\s+ManagementClass\(\s*([^,]+),\s*([^,)]+)", source):
        classes.add(value(m.group(2)))
    for m in re.finditer(r'FROM\s*"\s*\+\s*(\w+)|FROM\s+(\w+)', source):
        classes.add(value(m.group(1) or m.group(2)))
    for m in re.finditer(r'new\s+ManagementClass\(\s*"([^"]+)"\s*\)', source):  # a path form "root\cimv2:Win32_Process"
        classes.add(m.group(1).split(":")[-1])
    for name in sorted(classes):
        if name not in WMI:
            out.append(f"WMI class {name} is not in this test's table (add it from Microsoft's MOF page)")
    known = {c: WMI[c] for c in classes if c in WMI}
    methods = {n: sig for c in known.values() for n, sig in c["methods"].items()}
    used: set[str] = set()
    for m in re.finditer(r'(?:GetMethodParameters|InvokeMethod)\(\s*"(\w+)"', source):
        if m.group(1) not in methods:
            out.append(f"line {line_of(m.start())}: method {m.group(1)} is not a method of {', '.join(sorted(known)) or 'any class used'}")
        used.add(m.group(1))
    ins = {p for n in used if n in methods for p in methods[n][0]}
    outs = {p for n in used if n in methods for p in methods[n][1]} | {"ReturnValue"}
    props = {p for c in known.values() for p in c["properties"]}
    for m in re.finditer(r'(\w+)\["(\w+)"\]', source):
        var, name = m.group(1), m.group(2)
        allowed = ins if var.lower().startswith("in") else outs if var.lower().startswith("out") else props
        if name not in allowed:
            kind = "in parameter" if allowed is ins else "out parameter" if allowed is outs else "property"
            out.append(f"line {line_of(m.start())}: {var}[\"{name}\"] is not a documented {kind}")
    for m in re.finditer(r"WHERE\s+(\w+)\s*=", source):
        if m.group(1) not in props:
            out.append(f"line {line_of(m.start())}: WQL property {m.group(1)} is not documented")
    if re.search(r"\.Delete\(\)", source) and not any(c["deletable"] for c in known.values()):
        out.append("Delete() on an instance of a class whose provider does not delete instances")
    # the MOF comments say the same as the table
    for m in re.finditer(r"//\s*(uint32|void|string|boolean)\s+(\w+)\(([^)]*)\);", source):
        name, params = m.group(2), m.group(3)
        if name in ("Delete_",):
            continue
        if name not in methods:
            out.append(f"line {line_of(m.start())}: MOF comment for {name}, which no class used documents")
            continue
        ins_c = tuple(re.findall(r"\[in\]\s*\w+\s+(\w+)", params))
        outs_c = tuple(re.findall(r"\[out\]\s*\w+\s+(\w+)", params))
        want_in, want_out, want_ret = methods[name]
        if ins_c != tuple(want_in[: len(ins_c)]) or outs_c != want_out or m.group(1) != want_ret:
            out.append(f"line {line_of(m.start())}: MOF comment {m.group(0)[2:].strip()!r} differs from the documented {want_ret} {name}{want_in}{want_out}")
    return out


def test_wmi_calls_match_the_documented_classes() -> None:
    problems = wmi_problems(NATIVE_TEXT)
    assert not problems, "\n".join(problems)


# -- broken copies: each check catches one ---------------------------------------------------

def _broken(old: str, new: str) -> list[Import]:
    assert NATIVE_TEXT.count(old) == 1, old
    return parse_imports(NATIVE_TEXT.replace(old, new))


def _problems_of(imports: list[Import], entry: str) -> list[str]:
    return import_problems(next(i for i in imports if i.entry == entry))


def test_catches_a_dropped_parameter() -> None:
    imports = _broken("public static extern bool GetFileSizeEx(SafeFileHandle hFile, out long lpFileSize);",
                      "public static extern bool GetFileSizeEx(SafeFileHandle hFile);")
    problems = _problems_of(imports, "GetFileSizeEx")
    assert any("1 parameters, the prototype has 2" in p for p in problems), problems


def test_catches_int_for_a_handle() -> None:
    imports = _broken("public static extern bool CloseHandle(IntPtr hObject);", "public static extern bool CloseHandle(int hObject);")
    problems = _problems_of(imports, "CloseHandle")
    assert any("HANDLE is pointer-sized (8 bytes on x64)" in p and "never int" in p for p in problems), problems


def test_catches_int_for_a_returned_handle() -> None:
    imports = _broken("public static extern SafeKernelHandle OpenProcess(", "public static extern int OpenProcess(")
    problems = _problems_of(imports, "OpenProcess")
    assert any("pointer-sized" in p and "never int" in p for p in problems), problems


def test_catches_the_ansi_export() -> None:
    text = NATIVE_TEXT.replace("// BOOL CopyFileW(", "// BOOL CopyFileA(")
    text = text.replace("public static extern bool CopyFileW(", "public static extern bool CopyFileA(")
    problems = import_problems(next(i for i in parse_imports(text) if i.entry == "CopyFileA"))
    assert any("the ANSI export; bind CopyFileW" in p for p in problems), problems


def test_catches_a_string_api_without_its_w_suffix() -> None:
    text = NATIVE_TEXT.replace("// BOOL CopyFileW(", "// BOOL CopyFile(")
    text = text.replace("public static extern bool CopyFileW(", "public static extern bool CopyFile(")
    problems = import_problems(next(i for i in parse_imports(text) if i.entry == "CopyFile"))
    assert any("not an export of kernel32.dll; did you mean CopyFileW?" in p for p in problems), problems


def test_catches_a_w_export_without_charset_unicode() -> None:
    imports = _broken(
        '[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]\n'
        "        [return: MarshalAs(UnmanagedType.Bool)]\n        public static extern bool CopyFileW(",
        '[DllImport("kernel32.dll", SetLastError = true, ExactSpelling = true)]\n'
        "        [return: MarshalAs(UnmanagedType.Bool)]\n        public static extern bool CopyFileW(",
    )
    problems = _problems_of(imports, "CopyFileW")
    assert any("CharSet = CharSet.Unicode" in p for p in problems), problems


def test_catches_a_one_byte_bool() -> None:
    imports = _broken("[MarshalAs(UnmanagedType.Bool)] bool bFailIfExists", "[MarshalAs(UnmanagedType.U1)] bool bFailIfExists")
    problems = _problems_of(imports, "CopyFileW")
    assert any("MarshalAs(UnmanagedType.U1)" in p for p in problems), problems


def test_catches_a_bool_result_without_set_last_error() -> None:
    imports = _broken(
        '[DllImport("kernel32.dll", CharSet = CharSet.Unicode, SetLastError = true, ExactSpelling = true)]\n'
        "        [return: MarshalAs(UnmanagedType.Bool)]\n        public static extern bool GetFileSizeEx(",
        '[DllImport("kernel32.dll", CharSet = CharSet.Unicode, ExactSpelling = true)]\n'
        "        [return: MarshalAs(UnmanagedType.Bool)]\n        public static extern bool GetFileSizeEx(",
    )
    problems = _problems_of(imports, "GetFileSizeEx")
    assert any("SetLastError = true" in p for p in problems), problems


def test_catches_a_filled_array_without_out() -> None:
    imports = _broken("[In, Out] RM_PROCESS_INFO[] rgAffectedApps", "RM_PROCESS_INFO[] rgAffectedApps")
    problems = _problems_of(imports, "RmGetList")
    assert any("needs [Out]" in p for p in problems), problems


def test_catches_a_by_value_pointer_argument() -> None:
    imports = _broken("out uint lpNumberOfBytesRead", "uint lpNumberOfBytesRead")
    problems = _problems_of(imports, "ReadFile")
    assert any("points to a 32-bit value" in p for p in problems), problems


def test_catches_a_function_the_dll_does_not_export() -> None:
    text = NATIVE_TEXT.replace("// DWORD RmEndSession(DWORD dwSessionHandle);", "// DWORD RmEndSessionW(DWORD dwSessionHandle);").replace(
        "public static extern int RmEndSession(", "public static extern int RmEndSessionW(")
    problems = import_problems(next(i for i in parse_imports(text) if i.entry == "RmEndSessionW"))
    assert any("not an export of rstrtmgr.dll" in p for p in problems), problems


def test_catches_a_missing_prototype_comment() -> None:
    imports = _broken("        // DWORD GetLogicalDrives(void);\n", "")
    problems = _problems_of(imports, "GetLogicalDrives")
    assert any("no C prototype" in p for p in problems), problems


def test_catches_an_import_outside_windows_native() -> None:
    stray = 'class X { [DllImport("kernel32.dll")] static extern uint GetTickCount(); }\n'
    problems = isolation_problems({"plugins/module_utils/agent/StrayImport.cs": stray, "esesim/native/csharp/Sim.cs": stray})
    assert any(p.startswith("plugins/module_utils/agent/StrayImport.cs:1: [DllImport('kernel32.dll')] GetTickCount outside") for p in problems)
    assert any(p.startswith("esesim/native/csharp/Sim.cs:1:") for p in problems), problems
    # esent.dll: EsentNative.cs and the simulation's native face only
    face = 'class Y { [DllImport("esent.dll")] static extern int EsesimPlatformW(); }\n'
    assert isolation_problems({"esesim/native/csharp/Face.cs": face, "plugins/module_utils/EsentNative.cs": face}) == []
    assert isolation_problems({"plugins/module_utils/agent/Copies.cs": face}) != []
    # the allowed kernel32 pair of EsentNative.cs, and nothing else there
    pair = 'class Z { [DllImport("kernel32.dll")] static extern IntPtr VirtualAlloc(); [DllImport("kernel32.dll")] static extern uint GetTickCount(); }'
    assert [p.split(" outside")[0] for p in isolation_problems({"plugins/module_utils/EsentNative.cs": pair})] == [
        "plugins/module_utils/EsentNative.cs:1: [DllImport('kernel32.dll')] GetTickCount"
    ]


def test_catches_an_undocumented_wmi_property() -> None:
    problems = wmi_problems(NATIVE_TEXT.replace('(string)shadow["DeviceObject"]', '(string)shadow["DevicePath"]'))
    assert any('shadow["DevicePath"] is not a documented property' in p for p in problems), problems


def test_catches_a_wrong_wmi_method_parameter() -> None:
    problems = wmi_problems(NATIVE_TEXT.replace('inParams["Volume"] = volume;', 'inParams["VolumeName"] = volume;'))
    assert any('inParams["VolumeName"] is not a documented in parameter' in p for p in problems), problems


# -- the .NET Framework 4.5 reference build runs in `make test` ---------------------------------

def test_reference_build_cannot_skip_where_make_test_installs_mono_devel() -> None:
    # test_reference_build.py skips when mono-devel's 4.5-api is missing; `make test` installs the
    # packages of requirements/apt.txt first, so there the skip must be impossible.
    apt = {line.strip() for line in (REPO / "requirements" / "apt.txt").read_text().splitlines() if line.strip() and not line.startswith("#")}
    assert {"mono-devel", "mono-mcs"} <= apt, apt
    assert "pytest" in (REPO / "tools" / "stages.sh").read_text() and (REPO / "tests" / "unit" / "csharp" / "test_reference_build.py").is_file()
    installed = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "mono-devel"], capture_output=True, text=True, check=False).stdout
    if "install ok installed" in installed:
        assert (Path("/usr/lib/mono/4.5-api") / "mscorlib.dll").is_file(), "mono-devel is installed but its 4.5-api is not where the build looks"
