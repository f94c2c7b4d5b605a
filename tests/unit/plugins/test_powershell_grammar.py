"""Every PowerShell text the collection sends or installs, parsed with a real PowerShell grammar.

Issue 22 item 5. No Windows host is available, so the texts (tests/unit/plugins/powershell_texts.py finds them:
every ``*_SCRIPT`` constant of plugins/plugin_utils and the launcher ``_step.LAUNCHER_TEXT``) are
checked statically:

* **grammar**: each is parsed with tree-sitter-powershell in every form a host receives (a command
  as written, which ansible-core 2.21 sends, and with its lines stripped, which 2.18-2.20 send; a
  file as it is copied). Any ERROR or MISSING node fails, with its line and column.
* **ConstrainedLanguage**: under AppLocker/WDAC PowerShell runs in ConstrainedLanguage mode, and the
  bootstrap must still answer (-10014) there (_bootstrap.py's docstring). The code that runs before
  and in the language-mode check, and every function it calls (the error writer ``E``), is walked
  and refused any construct that mode forbids, after Microsoft's about_Language_Modes (Windows
  PowerShell 5.1 reference): a type outside the allowed list (cast, ``[T]::`` static member, ``-as``),
  a method call on an object this check cannot show to be of an allowed type, a property setter,
  ``Add-Type``, ``New-Object`` of a type or COM class outside the lists, dot-sourcing, ``&`` of
  anything but a command name or a literal script block, and ``Invoke-Expression``.

Each check is shown to catch a deliberately broken copy of the bootstrap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
import tree_sitter_powershell
from powershell_texts import POWERSHELL_HINT, PowerShellText, powershell_texts, stray_powershell
from tree_sitter import Language, Node, Parser

from ansible_collections.esent.backup.plugins.plugin_utils import _bootstrap

PARSER = Parser(Language(tree_sitter_powershell.language()))
TEXTS = powershell_texts()
BOOTSTRAP = next(t for t in TEXTS if t.short == "BOOTSTRAP_SCRIPT")


def forms(text: PowerShellText) -> dict[str, str]:
    """What a host receives: both ansible-core encodings for a command, the bytes for a file."""
    if not text.command:
        return {"as installed": text.text}
    return {"as written (ansible-core 2.21)": text.text, "lines stripped (ansible-core 2.18-2.20)": _bootstrap.normalise_script(text.text)}


CASES = [pytest.param(t, form, id=f"{t.short}-{form.split(' (')[0].replace(' ', '_')}") for t in TEXTS for form in forms(t)]


def parse(source: str) -> Node:
    return PARSER.parse(source.encode("utf-8")).root_node


def _where(source: str, node: Node) -> str:
    """``line L, column C`` (1-based, columns in characters) and the line with a caret under the spot."""
    row, col = node.start_point.row, node.start_point.column
    line = source.encode("utf-8").split(b"\n")[row] if row < source.count("\n") + 1 else b""
    col_chars = len(line[:col].decode("utf-8", "replace"))
    text = line.decode("utf-8", "replace").rstrip("\r")
    return f"line {row + 1}, column {col_chars + 1}:\n    {text}\n    {' ' * col_chars}^"


def _bare_word_list(node: Node) -> bool:
    """A MISSING argument separator tree-sitter-powershell puts in a bare-word list argument.

    PowerShell reads ``Add-Type -ReferencedAssemblies System.Core,System.Management`` as one argument,
    an array of two strings (command mode: about_Parsing); the grammar (0.26) has no rule for it and
    reads ``a`` then ``,b`` with a MISSING separator between. Only that exact shape is let through:
    the separator sits between two bare words and the second starts with the comma.
    """
    sep = node.parent
    if not (node.type == " " and sep is not None and sep.type == "command_argument_sep"):
        return False
    before, after = sep.prev_sibling, sep.next_sibling
    return (
        before is not None
        and after is not None
        and before.type == "generic_token"
        and after.type == "generic_token"
        and _text(after).startswith(",")
        and len(_text(after)) > 1
    )


def syntax_errors(source: str) -> list[str]:
    """Every ERROR node (the outermost of nested ones) and every MISSING node of ``source``, located."""
    found: list[str] = []

    def walk(node: Node, in_error: bool) -> None:
        if node.is_missing and _bare_word_list(node):
            pass
        elif node.is_missing:
            found.append(f"MISSING {node.type!r} at {_where(source, node)}")
        elif node.is_error and not in_error:
            # tree-sitter wraps what it could not place, with the statements before it, in one ERROR
            # node: the first bare token inside is where the parse went wrong.
            token = next((c for c in node.children if c.child_count == 0), node)
            start = f" (the unparsable part starts on line {node.start_point.row + 1})" if token.start_point.row != node.start_point.row else ""
            found.append(f"ERROR: unexpected {_text(token).strip()[:40]!r}{start} at {_where(source, token)}")
        for child in node.children:
            walk(child, in_error or node.is_error)

    walk(parse(source), False)
    return found


@pytest.mark.parametrize(("text", "form"), CASES)
def test_powershell_text_parses(text: PowerShellText, form: str) -> None:
    errors = syntax_errors(forms(text)[form])
    where = f"{text.name} ({text.source.relative_to(text.source.parents[2])}:{text.line}), {form}"
    assert not errors, f"{where} does not parse as PowerShell:\n" + "\n".join(errors)


def test_every_powershell_text_is_found(report_figure: Callable[[str], None]) -> None:
    report_figure("powershell: texts checked: " + ", ".join(f"{t.short} ({'command' if t.command else 'file'})" for t in TEXTS))
    assert BOOTSTRAP.command, "the bootstrap is sent as a command"
    assert any(not t.command for t in TEXTS), "the launcher (agent.ps1) is installed as a file"
    # the sweep below would see each known text if it were not known
    assert all(POWERSHELL_HINT.search(t.text) for t in TEXTS)
    stray = stray_powershell()
    assert not stray, (
        "module-level strings in plugins/ that read like PowerShell but are neither a *_SCRIPT constant of plugins/plugin_utils nor "
        "listed in tests/unit/plugins/powershell_texts.py INSTALLED_FILES (so no parse or ConstrainedLanguage check sees them):\n" + "\n".join(stray)
    )


# -- ConstrainedLanguage ------------------------------------------------------------------------

# about_Language_Modes (Windows PowerShell 5.1 reference): "The following .NET types are permitted
# in ConstrainedLanguage mode": the accelerator as the page lists it, and the type it stands for
# (a script may name either; PowerShell also resolves a full name without its leading "System.").
ALLOWED_TYPES = {
    "adsi": "System.DirectoryServices.DirectoryEntry",
    "adsisearcher": "System.DirectoryServices.DirectorySearcher",
    "Alias": "System.Management.Automation.AliasAttribute",
    "AllowEmptyCollection": "System.Management.Automation.AllowEmptyCollectionAttribute",
    "AllowEmptyString": "System.Management.Automation.AllowEmptyStringAttribute",
    "AllowNull": "System.Management.Automation.AllowNullAttribute",
    "ArgumentCompleter": "System.Management.Automation.ArgumentCompleterAttribute",
    "ArgumentCompletions": "System.Management.Automation.ArgumentCompletionsAttribute",
    "array": "System.Array",
    "bigint": "System.Numerics.BigInteger",
    "bool": "System.Boolean",
    "byte": "System.Byte",
    "char": "System.Char",
    "cimclass": "Microsoft.Management.Infrastructure.CimClass",
    "cimconverter": "Microsoft.Management.Infrastructure.CimConverter",
    "ciminstance": "Microsoft.Management.Infrastructure.CimInstance",
    "CimSession": "Microsoft.Management.Infrastructure.CimSession",
    "cimtype": "Microsoft.Management.Infrastructure.CimType",
    "CmdletBinding": "System.Management.Automation.CmdletBindingAttribute",
    "cultureinfo": "System.Globalization.CultureInfo",
    "datetime": "System.DateTime",
    "decimal": "System.Decimal",
    "double": "System.Double",
    "DscLocalConfigurationManager": "System.Management.Automation.DscLocalConfigurationManagerAttribute",
    "DscProperty": "System.Management.Automation.DscPropertyAttribute",
    "DscResource": "System.Management.Automation.DscResourceAttribute",
    "ExperimentAction": "System.Management.Automation.ExperimentAction",
    "Experimental": "System.Management.Automation.ExperimentalAttribute",
    "ExperimentalFeature": "System.Management.Automation.ExperimentalFeature",
    "float": "System.Single",
    "guid": "System.Guid",
    "hashtable": "System.Collections.Hashtable",
    "int": "System.Int32",
    "int16": "System.Int16",
    "int32": "System.Int32",
    "int64": "System.Int64",
    "ipaddress": "System.Net.IPAddress",
    "IPEndpoint": "System.Net.IPEndPoint",
    "long": "System.Int64",
    "mailaddress": "System.Net.Mail.MailAddress",
    "Microsoft.PowerShell.Commands.ModuleSpecification": "Microsoft.PowerShell.Commands.ModuleSpecification",
    "NullString": "System.Management.Automation.Language.NullString",
    "Object[]": "System.Object[]",
    "ObjectSecurity": "System.Security.AccessControl.ObjectSecurity",
    "ordered": "System.Collections.Specialized.OrderedDictionary",
    "OutputType": "System.Management.Automation.OutputTypeAttribute",
    "Parameter": "System.Management.Automation.ParameterAttribute",
    "PhysicalAddress": "System.Net.NetworkInformation.PhysicalAddress",
    "pscredential": "System.Management.Automation.PSCredential",
    "pscustomobject": "System.Management.Automation.PSObject",
    "PSDefaultValue": "System.Management.Automation.PSDefaultValueAttribute",
    "pslistmodifier": "System.Management.Automation.PSListModifier",
    "psobject": "System.Management.Automation.PSObject",
    "psprimitivedictionary": "System.Management.Automation.PSPrimitiveDictionary",
    "PSTypeNameAttribute": "System.Management.Automation.PSTypeNameAttribute",
    "ref": "System.Management.Automation.PSReference",
    "regex": "System.Text.RegularExpressions.Regex",
    "sbyte": "System.SByte",
    "securestring": "System.Security.SecureString",
    "semver": "System.Management.Automation.SemanticVersion",
    "short": "System.Int16",
    "single": "System.Single",
    "string": "System.String",
    "SupportsWildcards": "System.Management.Automation.SupportsWildcardsAttribute",
    "switch": "System.Management.Automation.SwitchParameter",
    "timespan": "System.TimeSpan",
    "uint": "System.UInt32",
    "uint16": "System.UInt16",
    "uint32": "System.UInt32",
    "uint64": "System.UInt64",
    "ulong": "System.UInt64",
    "uri": "System.Uri",
    "ushort": "System.UInt16",
    "ValidateCount": "System.Management.Automation.ValidateCountAttribute",
    "ValidateDrive": "System.Management.Automation.ValidateDriveAttribute",
    "ValidateLength": "System.Management.Automation.ValidateLengthAttribute",
    "ValidateNotNull": "System.Management.Automation.ValidateNotNullAttribute",
    "ValidateNotNullOrEmpty": "System.Management.Automation.ValidateNotNullOrEmptyAttribute",
    "ValidatePattern": "System.Management.Automation.ValidatePatternAttribute",
    "ValidateRange": "System.Management.Automation.ValidateRangeAttribute",
    "ValidateScript": "System.Management.Automation.ValidateScriptAttribute",
    "ValidateSet": "System.Management.Automation.ValidateSetAttribute",
    "ValidateTrustedData": "System.Management.Automation.ValidateTrustedDataAttribute",
    "ValidateUserDrive": "System.Management.Automation.ValidateUserDriveAttribute",
    "version": "System.Version",
    "void": "System.Void",
    "WildcardPattern": "System.Management.Automation.WildcardPattern",
    "wmi": "System.Management.ManagementObject",
    "wmiclass": "System.Management.ManagementClass",
    "wmisearcher": "System.Management.ManagementObjectSearcher",
    "X500DistinguishedName": "System.Security.Cryptography.X509Certificates.X500DistinguishedName",
    "X509Certificate": "System.Security.Cryptography.X509Certificates.X509Certificate",
    "xml": "System.Xml.XmlDocument",
}
# "Only the following COM object types are permitted".
ALLOWED_COM = {"scripting.dictionary", "scripting.filesystemobject", "vbscript.regexp"}


def _type_key(name: str) -> str:
    key = re.sub(r"\s+", "", name).lower()
    return key[len("system."):] if key.startswith("system.") else key


_ALLOWED_KEYS = {_type_key(k) for k in ALLOWED_TYPES} | {_type_key(v) for v in ALLOWED_TYPES.values()}


def type_allowed(name: str) -> bool:
    """Whether ConstrainedLanguage lets a script use the type ``name`` (an array of an allowed type counts as allowed)."""
    key = _type_key(name)
    while key not in _ALLOWED_KEYS and key.endswith("[]"):
        key = key[:-2]  # T[]: PowerShell checks the element type of an array
    return key in _ALLOWED_KEYS


def _unwrap(node: Node) -> Node:
    """The expression under PowerShell's chain of one-child precedence nodes."""
    while node.named_child_count == 1 and node.type.endswith(("_expression", "pipeline", "pipeline_chain")) and node.type not in (
        "parenthesized_expression",
        "member_access",
        "invokation_expression",
        "cast_expression",
        "script_block_expression",
    ):
        node = node.named_children[0]
    return node


def _walk(node: Node) -> Iterator[Node]:
    yield node
    for child in node.children:
        yield from _walk(child)


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text else ""


def _top_statements(root: Node) -> list[Node]:
    statements: list[Node] = []
    for child in root.named_children:
        statements.extend(child.named_children if child.type == "statement_list" else [child])
    return statements


def _functions(root: Node) -> dict[str, Node]:
    """The script's function definitions by name (lower case)."""
    found = {}
    for node in _walk(root):
        if node.type == "function_statement":
            name = next(c for c in node.named_children if c.type == "function_name")
            found[_text(name).lower()] = node
    return found


def _command_name(command: Node) -> str:
    name = command.child_by_field_name("command_name")
    return _text(name).lower() if name is not None else ""


def _checks_language_mode(node: Node) -> bool:
    return any(
        n.type == "member_access" and any(c.type == "member_name" and _text(c).lower() == "languagemode" for c in n.children) for n in _walk(node)
    )


def clm_path(root: Node) -> tuple[list[Node], list[str]]:
    """What runs in ConstrainedLanguage mode: the top-level statements up to and including the
    first that reads ``...LanguageMode``, and the bodies of the functions they call (transitively).

    Returns:
        The nodes to check, and the names of the functions included. No language-mode check: nothing.
    """
    statements = _top_statements(root)
    end = next((i for i, s in enumerate(statements) if _checks_language_mode(s)), None)
    if end is None:
        return [], []
    functions = _functions(root)
    path = [s for s in statements[: end + 1] if s.type != "function_statement"]  # a definition runs nothing
    included: list[str] = []
    todo = list(path)
    while todo:
        for node in _walk(todo.pop()):
            name = _command_name(node) if node.type == "command" else ""
            if name in functions and functions[name] not in path:
                body = functions[name]
                included.append(_text(next(c for c in body.named_children if c.type == "function_name")))
                path.append(body)
                todo.append(body)
    return path, included


def _type_names(type_spec: Node) -> list[str]:
    """The type a ``type_spec`` names (``T[]`` for arrays), plus any generic type arguments."""
    inner = type_spec.named_children[0] if type_spec.named_children else type_spec
    if inner.type == "generic_type_name":
        args = [n for c in type_spec.named_children if c.type == "generic_type_arguments" for n in c.named_children if n.type == "type_spec"]
        return [_text(type_spec)] + [name for a in args for name in _type_names(a)]
    return [_text(type_spec)]


def _string_receiver(node: Node) -> bool:
    """A receiver this check knows to be of an allowed type: a string literal or a cast to an allowed type."""
    node = _unwrap(node)
    if node.type == "parenthesized_expression":
        inner = list(node.named_children)
        return len(inner) == 1 and _string_receiver(inner[0])
    if node.type in ("string_literal", "expandable_string_literal"):
        return True
    if node.type == "expression_with_unary_operator":
        node = node.named_children[0] if node.named_children else node
    if node.type == "cast_expression":
        spec = next((c for c in node.named_children if c.type == "type_literal"), None)
        return spec is not None and all(type_allowed(n) for s in spec.named_children if s.type == "type_spec" for n in _type_names(s))
    return False


def _arguments(command: Node) -> list[tuple[str, str]]:
    """A command's elements as (kind, text): kind "param" for -Name, "value" for anything else."""
    elements = command.child_by_field_name("command_elements")
    out: list[tuple[str, str]] = []
    for child in elements.named_children if elements is not None else []:
        if child.type == "command_argument_sep":
            continue
        out.append(("param" if child.type == "command_parameter" else "value", _text(child).strip("'\"")))
    return out


def _new_object_target(command: Node) -> tuple[str, str]:
    """``("com", ProgID)`` or ``("type", name)`` for a New-Object command ("" when it names none)."""
    args = _arguments(command)
    for i, (kind, text) in enumerate(args):
        if kind == "param":
            value = args[i + 1][1] if i + 1 < len(args) and args[i + 1][0] == "value" else ""
            lowered = text.lower().rstrip(":")
            if "-comobject".startswith(lowered) and len(lowered) >= 4:
                return "com", value
            if "-typename".startswith(lowered) and len(lowered) >= 2:
                return "type", value
    positional = [text for i, (kind, text) in enumerate(args) if kind == "value" and (i == 0 or args[i - 1][0] != "param")]
    return "type", positional[0] if positional else ""


def clm_violations(source: str) -> tuple[list[str], list[str]]:
    """The constructs ConstrainedLanguage forbids on ``source``'s ConstrainedLanguage path, located.

    Returns:
        The violations, and the functions the path includes.
    """
    root = parse(source)
    path, functions = clm_path(root)
    found: list[str] = []

    def refuse(node: Node, why: str) -> None:
        found.append(f"{why} at {_where(source, node)}")

    for top in path:
        for node in _walk(top):
            if node.type in ("type_literal", "attribute_name"):
                for spec in (c for c in node.named_children if c.type == "type_spec"):
                    for name in _type_names(spec):
                        if not type_allowed(name):
                            refuse(node, f"type [{name}] is not one of ConstrainedLanguage's allowed types")
            elif node.type == "invokation_expression":
                operator = next((c for c in node.children if c.type in (".", "::")), None)
                method = next((c for c in node.children if c.type == "member_name"), None)
                receiver = node.children[0]
                if operator is not None and operator.type == "." and not (
                    (method is not None and _text(method).lower() == "tostring") or _string_receiver(receiver)
                ):
                    refuse(node, f"method call {_text(node)[:60]!r}: ConstrainedLanguage invokes methods of allowed types only, "
                                 f"and {_text(receiver)[:30]!r} is not shown to be one")
            elif node.type == "assignment_expression":
                left = next((c for c in node.children if c.type == "left_assignment_expression"), None)
                if left is not None and any(n.type == "member_access" for n in _walk(left)):
                    refuse(node, f"property setter {_text(left)!r}: ConstrainedLanguage sets properties of allowed types only")
            elif node.type == "command":
                name = _command_name(node)
                operator = next((c for c in node.children if c.type == "command_invokation_operator"), None)
                target = node.child_by_field_name("command_name")
                if operator is not None and _text(operator) == ".":
                    refuse(node, f"dot-sourcing {_text(target)!r}: refused under an application control policy")
                elif operator is not None and target is not None and not (
                    target.type == "command_name_expr"
                    and target.named_children
                    and target.named_children[0].type in ("command_name", "script_block_expression")
                ):
                    refuse(node, f"'&' invokes {_text(target)!r}, which this check cannot see")
                elif name == "add-type":
                    refuse(node, "Add-Type: ConstrainedLanguage loads no C# code or Win32 API")
                elif name in ("invoke-expression", "iex"):
                    refuse(node, "Invoke-Expression: text this check cannot see")
                elif name == "new-object":
                    kind, what = _new_object_target(node)
                    if kind == "com" and what.lower() not in ALLOWED_COM:
                        refuse(node, f"New-Object -ComObject {what}: not one of ConstrainedLanguage's COM classes")
                    elif kind == "type" and not type_allowed(what):
                        refuse(node, f"New-Object {what}: not one of ConstrainedLanguage's allowed types")
    return found, functions


CLM_CASES = [c for c in CASES if c.values[0].command]


@pytest.mark.parametrize(("text", "form"), CLM_CASES)
def test_constrained_language_path_uses_only_what_that_mode_allows(text: PowerShellText, form: str, report_figure: Callable[[str], None]) -> None:
    source = forms(text)[form]
    violations, functions = clm_violations(source)
    path, _ = clm_path(parse(source))
    lines = sorted({r for node in path for r in range(node.start_point.row + 1, node.end_point.row + 2)})
    if form.startswith("as written"):
        if path:
            report_figure(f"powershell: {text.short}: ConstrainedLanguage path checked ({len(lines)} lines: the language-mode check and "
                          f"function {', '.join(functions) or 'none'}), parses in {len(forms(text))} forms")
        else:
            report_figure(f"powershell: {text.short}: no language-mode check, so nothing in it is checked for ConstrainedLanguage (it parses)")
    assert not violations, f"{text.name}, {form}: on the path that must work in ConstrainedLanguage mode:\n" + "\n".join(violations)


def test_bootstrap_constrained_language_path_is_the_check_and_e() -> None:
    path, functions = clm_path(parse(BOOTSTRAP.text))
    assert functions == ["E"], functions
    check = next(i for i, line in enumerate(BOOTSTRAP.text.splitlines()) if "LanguageMode" in line)
    assert max(n.end_point.row for n in path) == check, "the path ends with the language-mode check"
    assert any(n.type == "function_statement" and "Write-Output" in _text(n) for n in path), "E's body is on the path"


# -- broken copies: each check catches one ---------------------------------------------------

def _before_the_check(line: str, source: str = BOOTSTRAP.text) -> str:
    lines = source.splitlines()
    at = next(i for i, x in enumerate(lines) if "LanguageMode" in x)
    return "\n".join(lines[:at] + [line] + lines[at:]) + "\n"


def _in_function_e(line: str, source: str = BOOTSTRAP.text) -> str:
    return source.replace("\nexit 1\n}\n", f"\n{line}\nexit 1\n}}\n", 1)


def test_parse_check_catches_an_unclosed_brace() -> None:
    broken = BOOTSTRAP.text.replace("\nexit 1\n}\n", "\nexit 1\n\n", 1)  # function E's closing brace dropped
    assert broken != BOOTSTRAP.text
    for form in (broken, _bootstrap.normalise_script(broken)):
        errors = syntax_errors(form)
        assert errors and any("MISSING '}'" in e for e in errors), errors


def test_parse_check_catches_a_stray_token_with_its_line() -> None:
    broken = BOOTSTRAP.text.replace("$n=0\n", "$n=0)\n", 1)
    errors = syntax_errors(broken)
    line = next(i for i, x in enumerate(broken.splitlines(), 1) if x == "$n=0)")
    assert errors and any(f"line {line}," in e for e in errors), errors


def test_a_bare_word_list_argument_parses_and_a_broken_one_does_not() -> None:
    # valid PowerShell the grammar lacks a rule for (see _bare_word_list), and what must still fail
    assert syntax_errors("Add-Type -ReferencedAssemblies System.Core,System.Management -OutputType Library\n") == []
    assert syntax_errors("Write-Output 'a','b'\n") == []
    assert syntax_errors("Write-Output a, (\n") != []
    assert syntax_errors("if ($x) { Write-Output a,b\n") != []


@pytest.mark.parametrize("place", [_before_the_check, _in_function_e], ids=["before_the_check", "in_function_E"])
def test_clm_check_catches_a_dotnet_static_call(place: Callable[[str], str]) -> None:
    broken = place("$x=[System.IO.File]::ReadAllText($f)")
    violations, _ = clm_violations(broken)
    line = next(i for i, x in enumerate(broken.splitlines(), 1) if "ReadAllText" in x)
    assert any("[System.IO.File]" in v and f"line {line}," in v for v in violations), violations


# One line each ConstrainedLanguage refuses, and what the refusal must name.
FORBIDDEN = {
    "console_out": ("[Console]::Out.Write($e)", "[Console]"),
    "add_type": ("Add-Type -TypeDefinition 'public class X {}'", "Add-Type"),
    "new_object_dotnet": ("$s=New-Object IO.MemoryStream", "New-Object IO.MemoryStream"),
    "new_object_typename": ("$s=New-Object -TypeName System.Net.WebClient", "New-Object System.Net.WebClient"),
    "new_object_com": ("$s=New-Object -ComObject WScript.Shell", "-ComObject WScript.Shell"),
    "dot_source": (". $d\\helper.ps1", "dot-sourcing"),
    "invoke_variable": ("& $sb", "'&' invokes"),
    "instance_method": ("$x=$ExecutionContext.InvokeCommand.NewScriptBlock('1')", "method call"),
    "property_setter": ("$ExecutionContext.SessionState.LanguageMode='FullLanguage'", "property setter"),
    "cast": ("$x=[IO.File]$f", "[IO.File]"),
    "as_operator": ("$x=$f -as [Diagnostics.Process]", "[Diagnostics.Process]"),
    "generic": ("$x=[Collections.Generic.List[string]]::new()", "[Collections.Generic.List[string]]"),
    "scriptblock_create": ("$x=[scriptblock]::Create('1')", "[scriptblock]"),
    "invoke_expression": ("iex $m", "Invoke-Expression"),
}


@pytest.mark.parametrize("case", sorted(FORBIDDEN))
def test_clm_check_catches_each_forbidden_construct(case: str) -> None:
    line, named = FORBIDDEN[case]
    broken = _before_the_check(line)
    assert not syntax_errors(broken), syntax_errors(broken)
    violations, _ = clm_violations(broken)
    assert any(named in v for v in violations), (line, violations)


ALLOWED = [
    "$x=[string]::Join(',',@('a','b'))",
    "$x='a b'.Split(' ')",
    "$x=\"$PID\".Length",
    "$x=$m.ToString()",
    "$x=[int]$c",
    "$x=[string[]]@('a')",
    "$x=New-Object psobject",
    "$x=New-Object -ComObject Scripting.Dictionary",
    "$x=[datetime]::UtcNow.ToString('o')",
    "$x=@{a=1}; $x['b']=2",
    "& { Write-Output 1 }",
    "$x=$ExecutionContext.SessionState.LanguageMode",
]


@pytest.mark.parametrize("line", ALLOWED)
def test_clm_check_lets_what_that_mode_allows_through(line: str) -> None:
    broken = _before_the_check(line)
    assert not syntax_errors(broken), syntax_errors(broken)
    assert clm_violations(broken)[0] == []


def test_clm_check_leaves_the_full_language_part_alone() -> None:
    # after the check the bootstrap runs in FullLanguage only: .NET there is its business
    fine = BOOTSTRAP.text.replace("$n=0\n", "$n=0\n$x=[System.IO.File]::ReadAllText($f)\n", 1)
    assert fine != BOOTSTRAP.text and clm_violations(fine)[0] == []
