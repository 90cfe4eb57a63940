#!/usr/bin/env bash
# Installs the Debian packages LatencySmtp needs, only those missing. Needs root.
set -euo pipefail
need=()
have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in libpcap0.8 nftables iproute2 iputils-ping tshark tcpdump ethtool swaks postfix python3; do
  have "$p" || need+=("$p")
done
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix only for its smtp-sink/smtp-source test peers: no mail system configuration.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q
  apt-get install -y -q "${need[@]}"
fi
command -v dotnet >/dev/null || { echo "the .NET 10 SDK (dotnet) is required" >&2; exit 1; }
