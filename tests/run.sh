#!/usr/bin/env bash
# Runs every test (unit and integration). Needs root: the integration tests build network namespaces.
# Usage (as root): bash tests/run.sh   — prints "N passed, N failed" last; exits non-zero on failure or when no test ran.
set -uo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: bash tests/run.sh" >&2; exit 1; }
bash experiments/install-deps.sh || exit 1
results=$(mktemp -d)
trap 'rm -rf "$results"' EXIT
dotnet test LatencySmtp.sln -nologo --logger "trx" --results-directory "$results" "$@"
status=$?
python3 - "$results" <<'PY'
import glob, sys, xml.etree.ElementTree as ET
ns = {"t": "http://microsoft.com/schemas/VisualStudio/TeamTest/2010"}
passed = failed = skipped = 0
for f in glob.glob(sys.argv[1] + "/*.trx"):
    c = ET.parse(f).getroot().find("t:ResultSummary/t:Counters", ns)
    if c is None: continue
    passed += int(c.get("passed", 0)); failed += int(c.get("failed", 0)) + int(c.get("error", 0)) + int(c.get("timeout", 0))
    skipped += int(c.get("notExecuted", 0))
if skipped: print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if passed + failed == 0 else 0)
PY
counted=$?
[ $counted -ne 0 ] && { echo "no test ran" >&2; exit 1; }
exit $status
