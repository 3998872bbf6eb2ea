#!/bin/sh
# setup.sh - the entry point on a fresh Debian machine: installs make and a C
# compiler when they are missing, then runs "make TARGET" (default: demo),
# which installs every other Debian package it needs itself.
#
#   sh setup.sh demo     the main job (the built-in default)
#   sh setup.sh check    every test, ending with "N passed, N failed"
set -e
cd "$(dirname "$0")"
if ! command -v make >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends make gcc libc6-dev
fi
[ $# -gt 0 ] || set -- demo
exec make "$@"
