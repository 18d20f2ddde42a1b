#!/usr/bin/env bash
# Installs the Debian packages the C++ tools build against, when any is missing.
# Python packages are the Makefile's job (the venv); this is only what apt provides.
set -euo pipefail
packages=(g++ make nlohmann-json3-dev libcxxopts-dev doctest-dev libcurl4-openssl-dev libkainjow-mustache-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
