# Copyright: (c) 2026, esent.backup developers
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Argument specs shared by every esent.backup step (internal to esent.backup; may change).

``instance_argument_spec()`` is the code side of ``plugins/doc_fragments/instance.py``; a unit
test keeps the two equal. Each step extends it with ``.update()`` (community.postgresql style).
"""

from __future__ import annotations

PAGE_SIZES = [4096, 8192, 16384, 32768]
BASE_NAME_LENGTH = 3


def instance_argument_spec() -> dict:
    """Return a fresh argument spec of the shared options.

    Returns:
        A dict in Ansible's argument_spec format: ``instance`` (with its suboptions),
        ``agent_auto_install``, ``wait_timeout`` and ``poll_interval``.
    """
    return {
        "instance": {
            "type": "dict",
            "required": True,
            "options": {
                "name": {"type": "str", "required": True},
                "log_path": {"type": "str", "required": True},
                "system_path": {"type": "str"},
                "base_name": {"type": "str", "default": "edb"},
                "databases": {"type": "list", "elements": "str"},
                "page_size": {"type": "int", "choices": list(PAGE_SIZES)},
                "log_file_size": {"type": "int"},
                "circular_logging": {"type": "bool"},
                "owner_service": {"type": "str"},
            },
        },
        "agent_auto_install": {"type": "bool", "default": False},
        "wait_timeout": {"type": "int", "default": 3600},
        "poll_interval": {"type": "int", "default": 5},
    }
