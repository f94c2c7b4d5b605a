"""WS-Management SOAP for the simulated host: parse requests, build replies and faults.

Test-only code: do not use directly. It emits exactly what pywinrm 0.5.0 and Ansible's
``winrm`` plugin parse (``RelatesTo`` = MessageID, the ShellId selector, ``CommandId``,
base64 streams, one ``CommandState/Done`` with an ``ExitCode``, fault 2150858793 for an
idle Receive). The envelope and the fault each have exactly one builder.
"""

from __future__ import annotations

import base64
import re
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "p": "http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
    "wmi": "http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/MSFT_WmiError",
}

SHELL_CMD_URI = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd"
_T = "http://schemas.xmlsoap.org/ws/2004/09/transfer/"
_SH = "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/"
ACTIONS = {
    _T + "Create": "Create",
    _T + "Delete": "Delete",
    _SH + "Command": "Command",
    _SH + "Send": "Send",
    _SH + "Receive": "Receive",
    _SH + "Signal": "Signal",
}
RESPONSE_ACTIONS = {
    "Create": _T + "CreateResponse",
    "Delete": _T + "DeleteResponse",
    "Command": _SH + "CommandResponse",
    "Send": _SH + "SendResponse",
    "Receive": _SH + "ReceiveResponse",
    "Signal": _SH + "SignalResponse",
}
FAULT_ACTION = "http://schemas.dmtf.org/wbem/wsman/1/wsman/fault"
STATE_DONE = _SH + "CommandState/Done"
STATE_RUNNING = _SH + "CommandState/Running"

# WSMan fault codes as a Windows host sends them (decimal, as in the Code attribute).
OPERATION_TIMEOUT = 2150858793  # 0x80338029: the idle-Receive fault; clients simply Receive again
SHELL_NOT_FOUND = 2150858843  # 0x8033805B: unknown ShellId (after Delete or a service restart)
INVALID_RESOURCE_URI = 2150858778  # 0x8033801A: resource URI not served (e.g. PowerShell remoting)
ACTION_NOT_SUPPORTED = 2150858754  # 0x80338002: WS-Man action this endpoint does not implement
QUOTA_MAX_OPERATIONS = 2150859174  # 0x803381A6: Ansible re-creates the shell on this WMI error code
ERROR_BUSY = 170  # Win32 ERROR_BUSY, sent as the WSManFault Code on Send


class SoapError(Exception):
    """A request that cannot be parsed as a WS-Man envelope."""


@dataclass
class Request:
    """The parts of a WS-Man request the server acts on."""

    action: str  # short name (Create, Command, ...) or the raw URI when unknown
    action_uri: str
    resource_uri: str
    message_id: str
    shell_id: str | None
    operation_timeout: float
    options: dict[str, str] = field(default_factory=dict)
    body: ET.Element | None = None


def _text(root: ET.Element, path: str) -> str:
    node = root.find(path, NS)
    return (node.text or "").strip() if node is not None else ""


def parse_duration(value: str, default: float = 20.0) -> float:
    """Read an xs:duration such as ``PT20S`` or ``PT1.5S`` (seconds and minutes only)."""
    m = re.fullmatch(r"PT(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?", value.strip())
    if not value or not m or not any(m.groups()):
        return default
    return float(m.group(1) or 0) * 60 + float(m.group(2) or 0)


def parse_request(data: bytes) -> Request:
    """Parse one SOAP 1.2 envelope into a Request.

    Raises:
        SoapError: the body is not XML or not a SOAP envelope.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise SoapError(f"not XML: {exc}") from exc
    if root.tag != f"{{{NS['s']}}}Envelope":
        raise SoapError("not a SOAP 1.2 envelope")
    header = root.find("s:Header", NS)
    if header is None:
        raise SoapError("no SOAP header")
    action_uri = _text(header, "a:Action")
    selector = header.find("w:SelectorSet/w:Selector[@Name='ShellId']", NS)
    options = {o.get("Name", ""): (o.text or "").strip() for o in header.findall("w:OptionSet/w:Option", NS)}
    body = root.find("s:Body", NS)
    return Request(
        action=ACTIONS.get(action_uri, action_uri),
        action_uri=action_uri,
        resource_uri=_text(header, "w:ResourceURI"),
        message_id=_text(header, "a:MessageID"),
        shell_id=(selector.text or "").strip() if selector is not None else None,
        operation_timeout=parse_duration(_text(header, "w:OperationTimeout")),
        options=options,
        body=body,
    )


def command_line(req: Request) -> tuple[str, list[str]]:
    """Return (command, arguments) of a Command request; WinRS joins them with spaces."""
    assert req.body is not None
    cmd = req.body.find("rsp:CommandLine/rsp:Command", NS)
    args = [a.text or "" for a in req.body.findall("rsp:CommandLine/rsp:Arguments", NS)]
    return ((cmd.text or "") if cmd is not None else ""), args


def send_stream(req: Request) -> tuple[str, bytes, bool]:
    """Return (command id, stdin bytes, end flag) of a Send request."""
    assert req.body is not None
    stream = req.body.find("rsp:Send/rsp:Stream", NS)
    if stream is None:
        raise SoapError("Send without rsp:Stream")
    data = base64.b64decode(stream.text or "")
    return stream.get("CommandId", ""), data, stream.get("End", "false").lower() == "true"


def body_attr(req: Request, path: str, attr: str) -> str:
    """Read one attribute of a body element (CommandId of Receive/Signal)."""
    node = req.body.find(path, NS) if req.body is not None else None
    return node.get(attr, "") if node is not None else ""


def body_text(req: Request, path: str) -> str:
    node = req.body.find(path, NS) if req.body is not None else None
    return (node.text or "").strip() if node is not None else ""


def envelope(action_uri: str, relates_to: str, body: str, header_extra: str = "") -> bytes:
    """Build the one reply envelope every response and fault goes through."""
    xmlns = " ".join(f'xmlns:{k}="{v}"' for k, v in NS.items() if k not in ("f", "wmi"))
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<s:Envelope xml:lang="en-US" {xmlns}>'
        "<s:Header>"
        f"<a:Action>{escape(action_uri)}</a:Action>"
        f"<a:MessageID>uuid:{str(uuid.uuid4()).upper()}</a:MessageID>"
        "<a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>"
        f"<a:RelatesTo>{escape(relates_to)}</a:RelatesTo>"
        f"{header_extra}</s:Header>"
        f"<s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def fault(
    relates_to: str,
    wsman_code: int,
    message: str,
    *,
    subcode: str = "w:InternalError",
    wmi_error_code: int | None = None,
    machine: str = "127.0.0.1",
) -> bytes:
    """Build the one SOAP fault shape (served with HTTP 500, as WinRM does)."""
    wmi = ""
    if wmi_error_code is not None:
        wmi = (
            f'<p:MSFT_WmiError xmlns:p="{NS["wmi"]}">'
            f"<p:Message>{escape(message)}</p:Message>"
            f"<p:error_Code>{wmi_error_code}</p:error_Code>"
            "<p:error_Type>HRESULT</p:error_Type><p:error_WindowsErrorMessage>"
            f"{escape(message)}</p:error_WindowsErrorMessage></p:MSFT_WmiError>"
        )
    body = (
        "<s:Fault><s:Code><s:Value>s:Receiver</s:Value>"
        f"<s:Subcode><s:Value>{escape(subcode)}</s:Value></s:Subcode></s:Code>"
        f'<s:Reason><s:Text xml:lang="en-US">{escape(message)}</s:Text></s:Reason>'
        f'<s:Detail><f:WSManFault xmlns:f="{NS["f"]}" Code="{wsman_code}" Machine={quoteattr(machine)}>'
        f"<f:Message>{escape(message)}</f:Message></f:WSManFault>{wmi}</s:Detail></s:Fault>"
    )
    return envelope(FAULT_ACTION, relates_to, body)


def create_response(relates_to: str, shell_id: str, endpoint: str) -> bytes:
    """ResourceCreated with the ShellId selector, plus rsp:Shell as a real host sends."""
    body = (
        f"<x:ResourceCreated><a:Address>{escape(endpoint)}</a:Address><a:ReferenceParameters>"
        f"<w:ResourceURI>{SHELL_CMD_URI}</w:ResourceURI>"
        f'<w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet>'
        "</a:ReferenceParameters></x:ResourceCreated>"
        f"<rsp:Shell><rsp:ShellId>{shell_id}</rsp:ShellId><rsp:ResourceUri>{SHELL_CMD_URI}</rsp:ResourceUri>"
        "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell>"
    )
    return envelope(RESPONSE_ACTIONS["Create"], relates_to, body)


def command_response(relates_to: str, command_id: str) -> bytes:
    body = f"<rsp:CommandResponse><rsp:CommandId>{command_id}</rsp:CommandId></rsp:CommandResponse>"
    return envelope(RESPONSE_ACTIONS["Command"], relates_to, body)


def empty_response(action: str, relates_to: str) -> bytes:
    """Send, Signal and Delete replies: the client needs only HTTP 200 and RelatesTo."""
    body = {"Send": "<rsp:SendResponse/>", "Signal": "<rsp:SignalResponse/>"}.get(action, "")
    return envelope(RESPONSE_ACTIONS[action], relates_to, body)


def receive_response(
    relates_to: str, command_id: str, stdout: bytes, stderr: bytes, done: bool, exit_code: int | None
) -> bytes:
    """One Receive reply: base64 streams, then the command state (Done carries the ExitCode)."""
    parts = []
    for name, data in (("stdout", stdout), ("stderr", stderr)):
        if data:
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}">{base64.b64encode(data).decode()}</rsp:Stream>')
    if done:
        for name in ("stdout", "stderr"):
            parts.append(f'<rsp:Stream Name="{name}" CommandId="{command_id}" End="true"></rsp:Stream>')
        state = f'<rsp:CommandState CommandId="{command_id}" State="{STATE_DONE}"><rsp:ExitCode>{exit_code}</rsp:ExitCode></rsp:CommandState>'
    else:
        state = f'<rsp:CommandState CommandId="{command_id}" State="{STATE_RUNNING}"/>'
    body = f'<rsp:ReceiveResponse>{"".join(parts)}{state}</rsp:ReceiveResponse>'
    return envelope(RESPONSE_ACTIONS["Receive"], relates_to, body)
