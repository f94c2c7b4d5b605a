#!/usr/bin/env bash
# Create or refresh a venv from a lock file, installing Debian packages first.
# Skips all work when the stamp (hash of the lock, the apt list and pyproject.toml) is current.
# usage: bootstrap.sh VENV LOCK "APT PACKAGES" [editable]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$1 lock=$2 apt_packages=$3 editable=${4:-}
python=${PYTHON:-python3}
stamp="$venv/.esent-stamp"
want=$( { cat "$lock" pyproject.toml; echo "$apt_packages"; "$python" --version; } | sha256sum | cut -d' ' -f1)

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x "$venv/bin/python" ]; then
    exit 0
fi

start=$(date +%s)
if [ -n "$apt_packages" ]; then
    missing=()
    for pkg in $apt_packages; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bootstrap: installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "bootstrap: creating $venv with $("$python" --version)"
    "$python" -m venv "$venv"
fi
echo "bootstrap: installing $lock into $venv"
pip_quiet() {
    # pip's noise about unreadable local index folders is filtered; its exit code is kept.
    local log; log=$(mktemp)
    if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "^WARNING: Location" "$log" >&2; rm -f "$log"; return 1
    fi
    rm -f "$log"
}
pip_quiet -r "$lock"
if [ "$editable" = editable ]; then
    pip_quiet --no-deps -e .
fi
"$venv/bin/python" -m pip check >/dev/null
echo "$want" > "$stamp"
echo "bootstrap: $venv ready in $(( $(date +%s) - start ))s"
