#!/usr/bin/env bash
# Build (once) a venv with another ansible-core for the compatibility smoke runs.
# usage: compat_venv.sh 2.18|2.21   -> prints the venv's bin directory on stdout
# The venv lives in build/venv-<ver>; a stamp (hash of the lock and the interpreter version)
# makes a second run instant. 2.21 needs Python >= 3.12 (pyenv's 3.12.x); 2.18 uses 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
ver=${1:?usage: compat_venv.sh 2.18|2.21}
lock="requirements/compat-$ver.lock"
[ -f "$lock" ] || { echo "compat_venv: no $lock" >&2; exit 2; }
pyroot=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
case "$ver" in
    2.18) want_py=3.11 ;;
    *) want_py=3.12 ;;
esac
python=${COMPAT_PYTHON:-}
if [ -z "$python" ]; then
    for cand in "$pyroot"/versions/"$want_py".*/bin/python "$(command -v "python$want_py" || true)"; do
        if [ -n "$cand" ] && [ -x "$cand" ]; then python=$cand; break; fi
    done
fi
[ -n "$python" ] || { echo "compat_venv: no Python $want_py found (pyenv root $pyroot)" >&2; exit 3; }
venv="build/venv-$ver"
stamp="$venv/.esent-stamp"
want=$( { cat "$lock"; "$python" --version; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/ansible" ]; then
    echo "$PWD/$venv/bin"
    exit 0
fi
start=$(date +%s)
rm -rf "$venv"
"$python" -m venv "$venv" >&2
log=$(mktemp)
if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$lock" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2; rm -f "$log"; exit 1
fi
rm -f "$log"
echo "$want" > "$stamp"
echo "compat_venv: $venv ready in $(( $(date +%s) - start ))s" >&2
echo "$PWD/$venv/bin"
