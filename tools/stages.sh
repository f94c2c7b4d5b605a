#!/usr/bin/env bash
# Run the test stages in order, timing each; every stage runs even after a failure so one run
# shows everything that is wrong. The last line printed is pytest's summary line.
# usage: stages.sh [stage ...]   (default: venv ruff yamllint ansible-lint sanity pytest molecule)
set -uo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-.venv}
export PATH="$PWD/$venv/bin:$PATH"
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(venv ruff yamllint ansible-lint sanity pytest molecule)
mkdir -p build/logs

# The checkout as collection esent.backup for tools that do not install it (offline): the link
# the tests use (tests/conftest.py).
collection_link() {
    local link=build/collections/ansible_collections/esent/backup
    mkdir -p "$(dirname "$link")"
    [ -L "$link" ] || ln -s "$PWD" "$link"
}

run_stage() {
    case "$1" in
        # apt packages and the venv from the lock; skipped when the stamp matches
        venv) bash tools/bootstrap.sh "$venv" requirements/dev.lock "$(grep -v '^#' requirements/apt.txt | xargs)" editable ;;
        ruff) ruff check . ;;
        yamllint) yamllint --strict . ;;
        # Offline, ansible-lint does not install this collection, so the playbooks' esent.backup.*
        # tasks would not resolve: it finds the checkout through collection_link.
        ansible-lint)
            collection_link
            ANSIBLE_COLLECTIONS_PATH="$PWD/build/collections" ansible-lint --nocolor -q ;;
        # Molecule scenarios (extensions/molecule/README.md) against a fleet of simulated hosts the
        # default scenario starts and stops; offline (no prerun, no dependency step). Its output is
        # long: kept in a file, the recap shown, the whole log on failure.
        molecule)
            collection_link
            local log=build/logs/molecule.log rc
            {
                export MOLECULE_GLOB='extensions/molecule/*/molecule.yml' ANSIBLE_COLLECTIONS_PATH="$PWD/build/collections" NO_COLOR=1
                molecule reset && timeout --kill-after=30 "${MOLECULE_TIMEOUT:-600}" molecule test --all
            } >"$log" 2>&1
            rc=$?
            if [ "$rc" -eq 0 ]; then
                sed -n '/SCENARIO RECAP/,$p' "$log" | sed 's/^/  /'
            else
                cat "$log"; [ "$rc" -eq 124 ] && echo "molecule: timed out after ${MOLECULE_TIMEOUT:-600} s"
            fi
            return "$rc" ;;
        sanity)
            # Its output is long (pip logs of the per-test venvs): keep it in a file, show
            # the tests it ran and, on failure, the whole log.
            local log=build/logs/sanity.log
            if bash tools/sanity.sh >"$log" 2>&1; then
                grep -E '^Running sanity test' "$log" | sed 's/^/  /'
                echo "  ansible-test sanity: $(grep -c '^Running sanity test' "$log") tests passed"
            else
                cat "$log"; return 1
            fi ;;
        pytest) pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile -p no:cacheprovider --durations=15 2>&1 | tee build/logs/pytest.log; return "${PIPESTATUS[0]}" ;;
        *) echo "unknown stage $1"; return 2 ;;
    esac
}

timings=()
failed=()
for stage in "${stages[@]}"; do
    echo "=== stage: $stage"
    start=${EPOCHREALTIME/./}
    if run_stage "$stage"; then status=ok; else status=FAILED; failed+=("$stage"); fi
    ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
    secs=$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))
    timings+=("$(printf '%-13s %-7s %7ss' "$stage" "$status" "$secs")")
done

echo "=== stage timings"
printf '  %s\n' "${timings[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "=== FAILED stages: ${failed[*]}"
fi
# pytest's summary line goes last: CI reads the closing line.
if [ -f build/logs/pytest.log ] && [[ " ${stages[*]} " == *" pytest "* ]]; then
    grep -E '^=+ .*(passed|failed|error|no tests ran).* =+$' build/logs/pytest.log | tail -1
fi
[ ${#failed[@]} -eq 0 ]
