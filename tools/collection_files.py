"""List or copy the collection's files: what git knows, minus galaxy.yml's build_ignore.

Used by the sanity stage (ansible-test refuses symlinked collection paths, so it runs on a copy
under build/ansible_collections/esent/backup) so that the tree it checks is what ships.
"""

from __future__ import annotations

import argparse
import fnmatch
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def build_ignore() -> list[str]:
    """Return galaxy.yml's build_ignore patterns."""
    return list(yaml.safe_load((REPO / "galaxy.yml").read_text())["build_ignore"])


def is_ignored(path: str, patterns: list[str]) -> bool:
    """Match like ansible-galaxy: a pattern matches the path or any of its parent folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(fnmatch.fnmatch(p, pat) or fnmatch.fnmatch(Path(p).name, pat) for pat in patterns for p in prefixes)


def git_files() -> list[str]:
    """Tracked files plus untracked files git does not ignore, that still exist."""
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO, check=True, capture_output=True
    ).stdout.decode()
    return sorted({f for f in out.split("\0") if f and (REPO / f).is_file()})


def collection_files() -> list[str]:
    patterns = build_ignore()
    return [f for f in git_files() if not is_ignored(f, patterns)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--copy-to", type=Path, help="replace this folder with a copy of the collection files")
    args = parser.parse_args()
    files = collection_files()
    if args.copy_to is None:
        print("\n".join(files))
        return 0
    dest: Path = args.copy_to.resolve()
    if dest.exists():
        shutil.rmtree(dest)
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, target, follow_symlinks=False)
    print(f"copied {len(files)} collection files to {dest.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
