#!/usr/bin/env bash
# ansible-test sanity, offline, on a copy of the collection (it refuses symlinked paths).
# Its HOME (per-test venvs, the get-pip cache) stays inside the ignored build/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
venv=${VENV:-.venv}
tree=build/ansible_collections/esent/backup
"$venv/bin/python" tools/collection_files.py --copy-to "$tree"

export HOME="$repo/build/ansible-test-home"
pip_version=$("$venv/bin/python" - <<'PY'
import re, ansible_test._internal.python_requirements as m, inspect
print(re.search(r"pip='([0-9.]+)'", inspect.getsource(m.get_venv_packages)).group(1))
PY
)
cache="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
mkdir -p "$(dirname "$cache")"
cp tools/get_pip_standin.py "$cache"

python_version=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cd "$tree"
# build/ is ignored by the checkout's git, and ansible-test lists files with git: give the copy a
# repository of its own so that every copied file counts as untracked-but-not-ignored.
git init -q .
echo "/tests/output/" > .git/info/exclude
export PATH="$repo/$venv/bin:$PATH"
exec ansible-test sanity --venv --python "$python_version" --color no "$@"
