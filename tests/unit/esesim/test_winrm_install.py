"""The install script (``_install.INSTALL_SCRIPT``) on the simulated host: recognised like the
bootstrap and performed on the simulated file system (issue 22 item 2)."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from winrm_helpers import IO

from ansible_collections.esent.backup.plugins.plugin_utils import _install
from ansible_collections.esent.backup.plugins.plugin_utils._bootstrap import AGENT_DIR
from esesim.winrm import SimHost
from esesim.winrm.commands import run

PS = "PowerShell -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -EncodedCommand "
VERSION = "0.1.0"
DLL = f"{AGENT_DIR}\\{VERSION}\\esent.backup.agent-{VERSION}.dll"


@pytest.fixture
def host(tmp_path: Path) -> SimHost:
    return SimHost("insthost", tmp_path)  # not started: commands run in-process


def _install_run(host: SimHost, verb: str, version: str = VERSION) -> tuple[int, dict]:
    io = IO()
    line = PS + base64.b64encode(_install.INSTALL_SCRIPT.encode("utf-16-le")).decode()
    rc = run(host, line, [], _install.install_stdin(verb, version).encode(), io)
    return rc, json.loads(io.stdout)


def test_a_bad_stdin_line_is_refused_like_the_script(host: SimHost) -> None:
    io = IO()
    line = PS + base64.b64encode(_install.INSTALL_SCRIPT.encode("utf-16-le")).decode()
    assert run(host, line, [], b"ESENTBACKUP-INSTALL build 0.1.0\n", io) == 1
    reply = json.loads(io.stdout)
    assert reply["error"]["jet"] == -10010 and reply["agent"]["version"] == "install"


@pytest.mark.skipif(shutil.which("mcs") is None, reason="the simulated host compiles with mono's mcs")
def test_check_stage_install_tamper_and_remove(host: SimHost) -> None:
    assert _install_run(host, "check")[1]["result"]["state"] == "missing"
    assert _install_run(host, "stage")[1]["result"]["state"] == "staged"
    assert host.fs.is_dir(f"{AGENT_DIR}\\{VERSION}\\src")
    rc, reply = _install_run(host, "install")
    assert rc == 1 and reply["error"]["jet"] == -10019 and "no agent sources" in reply["error"]["message"]
    for local, name in _install.shipped_sources():
        host.fs.write_bytes(f"{AGENT_DIR}\\{VERSION}\\src\\{name}", Path(local).read_bytes())
    host.fs.makedirs(f"{AGENT_DIR}\\0.0.9")  # an older version's folder goes with the install
    rc, reply = _install_run(host, "install")
    assert rc == 0 and reply["result"]["state"] == "current" and reply["result"]["compiled"] is True, reply
    sha = reply["result"]["sha256"]
    assert host.fs.resolve(f"{AGENT_DIR}\\{VERSION}\\agent.sha256").read_bytes() == sha.encode() + b"\r\n"
    assert not host.fs.exists(f"{AGENT_DIR}\\0.0.9")
    assert _install_run(host, "check")[1]["result"] == {"state": "current", "sha256": sha}
    real = host.fs.resolve(DLL)
    data = bytearray(real.read_bytes())
    data[100] ^= 0xFF
    real.write_bytes(bytes(data))
    assert _install_run(host, "check")[1]["result"]["state"] == "tampered"
    assert _install_run(host, "remove")[1]["result"] == {"state": "absent"}
    assert not host.fs.exists(f"{AGENT_DIR}\\{VERSION}")
    assert "install" in host.kinds()


@pytest.mark.skipif(shutil.which("mcs") is None, reason="the simulated host compiles with mono's mcs")
def test_a_source_that_does_not_compile_is_10019_with_the_compilers_words(host: SimHost) -> None:
    _install_run(host, "stage")
    host.fs.write_bytes(f"{AGENT_DIR}\\{VERSION}\\src\\Broken.cs", b"namespace X { class Y { int Z() { return \"no\"; } } }\n")
    rc, reply = _install_run(host, "install")
    assert rc == 1 and reply["error"]["jet"] == -10019 and "error CS0029" in reply["error"]["message"], reply
    assert not host.fs.exists(DLL)
