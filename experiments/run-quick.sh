#!/usr/bin/env bash
# The main job: install what is missing, build, run the quick experiment (results/quick/).
# Usage (as root): bash experiments/run-quick.sh [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "run as root: bash experiments/run-quick.sh" >&2; exit 1; }
bash experiments/install-deps.sh
dotnet build src/LatencySmtp.Cli -c Release -nologo -v q
exec dotnet src/LatencySmtp.Cli/bin/Release/net10.0/latency-smtp.dll run experiments/quick.toml "$@"
