#!/usr/bin/env bash
# Installs the Debian packages the build needs, when any is missing: what the C++ tools
# build against, Node and npm for transformers.js, and chromium, the browser the webgpu
# backend drives. Python and npm packages are the Makefile's job; this is only apt's.
set -euo pipefail
packages=(g++ make nlohmann-json3-dev libcxxopts-dev doctest-dev libcurl4-openssl-dev libkainjow-mustache-dev
  libsqlite3-dev
  nodejs chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# NodeSource's nodejs carries its own npm, which Debian's npm package would conflict with.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq "${missing[@]}" >/dev/null
