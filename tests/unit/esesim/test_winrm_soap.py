"""WS-Man XML shapes of the simulated host, checked with real pywinrm and semantic XML comparison.

Like pywinrm's own TransportStub: the Protocol's transport is swapped for an in-process
stub that hands each request to ``SimHost.handle_wsman`` and raises what the HTTP
transport would raise for a fault (HTTP 500), so pywinrm's real parsing runs without sockets.
"""

from __future__ import annotations

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmltodict
from winrm.exceptions import WinRMOperationTimeoutError, WinRMTransportError, WSManFaultError
from winrm.protocol import Protocol

from esesim.winrm import SimHost, soap


def _canonical(xml: bytes | str) -> object:
    """Parse XML into nested dicts with sorted keys (namespace prefixes expanded)."""
    def sort(o: object) -> object:
        if isinstance(o, dict):
            return {k: sort(o[k]) for k in sorted(o)}
        if isinstance(o, list):
            return [sort(x) for x in o]
        return o

    return sort(xmltodict.parse(xml, process_namespaces=True))


class TransportStub:
    """Routes pywinrm's messages into the host and records them."""

    def __init__(self, host: SimHost) -> None:
        self.host = host
        self.sent: list[str] = []

    def send_message(self, message: str | bytes) -> bytes:
        data = message.encode() if isinstance(message, str) else message
        self.sent.append(data.decode())
        body = self.host.handle_wsman(data, self.host.user)
        if b"<s:Fault>" in body:
            raise WinRMTransportError("http", 500, body.decode())
        return body

    def close_session(self) -> None:
        pass


@pytest.fixture
def stub_host(tmp_path: Path):
    host = SimHost("stub", tmp_path, max_receive_wait=0.2)
    host.start()
    yield host
    host.stop()


@pytest.fixture
def protocol(stub_host: SimHost) -> Protocol:
    p = Protocol(stub_host.endpoint, transport="plaintext", username=stub_host.user, password=stub_host.password,
                 operation_timeout_sec=1, read_timeout_sec=2)
    p.transport = TransportStub(stub_host)
    return p


def test_create_reply_has_shellid_selector_and_relates_to(stub_host: SimHost) -> None:
    body = soap.create_response("uuid:11111111-2222-3333-4444-555555555555", "ABC", "http://127.0.0.1:1/wsman")
    got = _canonical(body)
    env = got["http://www.w3.org/2003/05/soap-envelope:Envelope"]
    header = env["http://www.w3.org/2003/05/soap-envelope:Header"]
    assert header["http://schemas.xmlsoap.org/ws/2004/08/addressing:RelatesTo"] == "uuid:11111111-2222-3333-4444-555555555555"
    assert header["http://schemas.xmlsoap.org/ws/2004/08/addressing:Action"].endswith("/transfer/CreateResponse")
    root = ET.fromstring(body)
    assert next(n for n in root.findall(".//*") if n.get("Name") == "ShellId").text == "ABC"


def test_receive_reply_matches_expected_shape_semantically() -> None:
    body = soap.receive_response("uuid:R", "CID", b"hi\r\n", b"", True, 3)
    expected = f"""<s:Envelope xmlns:s="{soap.NS['s']}" xmlns:a="{soap.NS['a']}" xmlns:rsp="{soap.NS['rsp']}">
      <s:Body><rsp:ReceiveResponse>
        <rsp:Stream Name="stdout" CommandId="CID">{base64.b64encode(b"hi" + bytes([13, 10])).decode()}</rsp:Stream>
        <rsp:Stream Name="stdout" CommandId="CID" End="true"></rsp:Stream>
        <rsp:Stream Name="stderr" CommandId="CID" End="true"></rsp:Stream>
        <rsp:CommandState CommandId="CID" State="{soap.STATE_DONE}"><rsp:ExitCode>3</rsp:ExitCode></rsp:CommandState>
      </rsp:ReceiveResponse></s:Body></s:Envelope>"""
    got_body = _canonical(body)["http://www.w3.org/2003/05/soap-envelope:Envelope"]["http://www.w3.org/2003/05/soap-envelope:Body"]
    want_body = _canonical(expected)["http://www.w3.org/2003/05/soap-envelope:Envelope"]["http://www.w3.org/2003/05/soap-envelope:Body"]
    assert got_body == want_body


def test_running_reply_has_no_exit_code() -> None:
    root = ET.fromstring(soap.receive_response("uuid:R", "CID", b"x", b"", False, None))
    assert not [n for n in root.iter() if n.tag.endswith("ExitCode")]
    assert [n.get("State") for n in root.iter() if n.tag.endswith("CommandState")] == [soap.STATE_RUNNING]


def test_fault_shape_is_what_pywinrm_parses() -> None:
    body = soap.fault("uuid:F", soap.QUOTA_MAX_OPERATIONS, "quota", subcode="w:QuotaLimit", wmi_error_code=soap.QUOTA_MAX_OPERATIONS)
    root = ET.fromstring(body)
    ns = {"soapenv": soap.NS["s"], "wsmanfault": soap.NS["f"], "wmierror": soap.NS["wmi"]}
    fault = root.find("soapenv:Body/soapenv:Fault", ns)
    assert fault is not None
    assert fault.find("soapenv:Detail/wsmanfault:WSManFault[@Code]", ns).get("Code") == str(soap.QUOTA_MAX_OPERATIONS)
    assert fault.find("soapenv:Detail/wmierror:MSFT_WmiError/wmierror:error_Code", ns).text == "2150859174"
    assert fault.find("soapenv:Code/soapenv:Subcode/soapenv:Value", ns).text == "w:QuotaLimit"


def test_parse_request_reads_pywinrm_headers(protocol: Protocol) -> None:
    shell = protocol.open_shell(codepage=65001)
    req = soap.parse_request(protocol.transport.sent[-1].encode())
    assert (req.action, req.resource_uri, req.options["WINRS_CODEPAGE"]) == ("Create", soap.SHELL_CMD_URI, "65001")
    assert req.operation_timeout == 1.0 and req.message_id.startswith("uuid:")
    protocol.close_shell(shell, close_session=False)


def test_full_command_cycle_through_real_pywinrm_parsing(protocol: Protocol, stub_host: SimHost) -> None:
    shell = protocol.open_shell(codepage=65001)
    cmd = protocol.run_command(shell, "echo", ["one", "two"])
    out, err, rc = protocol.get_command_output(shell, cmd)
    assert (out, err, rc) == (b"one two\r\n", b"", 0)
    protocol.cleanup_command(shell, cmd)  # RelatesTo must equal MessageID or pywinrm asserts
    protocol.cleanup_command(shell, cmd)  # idempotent, as Ansible signals after every command
    protocol.close_shell(shell, close_session=False)
    with pytest.raises(WSManFaultError) as exc:
        protocol.close_shell(shell, close_session=False)
    assert exc.value.wsman_fault_code == soap.SHELL_NOT_FOUND


def test_idle_receive_answers_operation_timeout_fault(protocol: Protocol, stub_host: SimHost) -> None:
    shell = protocol.open_shell()
    cmd = protocol.run_command(shell, "powershell", ["-EncodedCommand", base64.b64encode("Start-Sleep 5".encode("utf-16-le")).decode()])
    with pytest.raises(WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, cmd)
    protocol.cleanup_command(shell, cmd)
    protocol.close_shell(shell, close_session=False)


def test_unknown_resource_uri_faults_at_once(stub_host: SimHost) -> None:
    msg = f"""<s:Envelope xmlns:s="{soap.NS['s']}" xmlns:a="{soap.NS['a']}" xmlns:w="{soap.NS['w']}"><s:Header>
      <a:Action>http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action><a:MessageID>uuid:X</a:MessageID>
      <w:ResourceURI>http://schemas.microsoft.com/powershell/Microsoft.PowerShell</w:ResourceURI></s:Header><s:Body/></s:Envelope>"""
    body = stub_host.handle_wsman(msg.encode(), stub_host.user)
    assert b'Code="2150858778"' in body and b"<a:RelatesTo>uuid:X</a:RelatesTo>" in body


def test_not_xml_is_a_fault_not_a_crash(stub_host: SimHost) -> None:
    assert b"<s:Fault>" in stub_host.handle_wsman(b"hello", stub_host.user)


@pytest.mark.parametrize(("value", "seconds"), [("PT20S", 20.0), ("PT1.5S", 1.5), ("PT1M", 60.0), ("", 20.0), ("junk", 20.0)])
def test_parse_duration(value: str, seconds: float) -> None:
    assert soap.parse_duration(value) == seconds
