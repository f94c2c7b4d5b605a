#!/usr/bin/env bash
# Compile the C# agent against the .NET Framework 4.5 reference assemblies (mono-devel's 4.5-api),
# with mcs -langversion:5 and warnings as errors, so an API that .NET Framework 4.5 lacks (a .NET Core
# or later-Framework member) fails the build here rather than in Add-Type on a host.
# usage: check_reference_build.sh [SOURCE_ROOT] [EXTRA.cs ...]
#   SOURCE_ROOT: a tree holding plugins/module_utils/*.cs and plugins/module_utils/agent/*.cs
#                (default: this repository); EXTRA.cs: more sources compiled with them.
# Prints mcs's output; exits non-zero when the build fails, 2 when the reference assemblies are missing.
# REFERENCE_DIR overrides /usr/lib/mono/4.5-api.
set -uo pipefail
root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
[ $# -gt 0 ] && shift
ref=${REFERENCE_DIR:-/usr/lib/mono/4.5-api}
assemblies=(mscorlib.dll System.dll System.Core.dll System.Management.dll System.ServiceProcess.dll)

for a in "${assemblies[@]}"; do
    if [ ! -f "$ref/$a" ]; then
        echo "check_reference_build: $ref/$a is missing (apt-get install mono-devel)" >&2
        exit 2
    fi
done
mcs=$(command -v mcs) || { echo "check_reference_build: mcs not found (apt-get install mono-mcs)" >&2; exit 2; }

shopt -s nullglob
sources=("$root"/plugins/module_utils/*.cs "$root"/plugins/module_utils/agent/*.cs "$@")
if [ ${#sources[@]} -eq 0 ]; then
    echo "check_reference_build: no C# sources under $root/plugins/module_utils" >&2
    exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
refs=()
for a in "${assemblies[@]}"; do
    refs+=("-r:$ref/$a")
done
"$mcs" -langversion:5 -warnaserror+ -target:library -nostdlib -noconfig "${refs[@]}" \
    -out:"$out/reference.dll" "${sources[@]}" 2>&1 && echo "check_reference_build: ${#sources[@]} sources build against $ref"
