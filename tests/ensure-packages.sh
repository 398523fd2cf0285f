#!/bin/sh
# Install the Debian packages given as arguments when any is missing.
# apt-get update runs once, only when something must be installed.
set -e
missing=""
for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "leakhunt: installing Debian packages:$missing"
if [ "$(id -u)" != 0 ]; then
    echo "leakhunt: need root to install packages (or install them yourself):$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
