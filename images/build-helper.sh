#!/bin/sh
# Shared by Dockerfile.agent and Dockerfile.sidecars (copied into /tmp/bottle-build with
# build-ca.crt). Keeps the extra-CA and registry handling in one place:
#   build-helper.sh apt PKG...   trust build-ca.crt (if non-empty), apt-get install PKG..., clean
#   build-helper.sh npm ARG...   npm ARG... trusting build-ca.crt, with the host's registry
set -eu

here=$(dirname "$0")
ca="$here/build-ca.crt"

# One file per certificate: update-ca-certificates links only the first cert of a file by hash.
trust_ca() {
  [ -s "$ca" ] || return 0
  command -v update-ca-certificates >/dev/null 2>&1 || return 0
  mkdir -p /usr/local/share/ca-certificates
  awk -v dir=/usr/local/share/ca-certificates '
    /-----BEGIN CERTIFICATE-----/ { n++; f = sprintf("%s/bottle-build-ca-%03d.crt", dir, n) }
    f != "" { print > f }
    /-----END CERTIFICATE-----/ { close(f); f = "" }
  ' "$ca"
  # A full host bundle repeats Debian's own roots: silence the "duplicate" chatter, not errors.
  out=$(update-ca-certificates 2>&1) || { echo "$out" >&2; exit 1; }
  echo "build-helper: trusted $(grep -c 'BEGIN CERTIFICATE' "$ca") certificate(s) from build-ca.crt"
}

case "${1:-}" in
  apt)
    shift
    # Trust first when the base already has ca-certificates; otherwise point apt's TLS at the
    # file directly (only matters for https sources behind an intercepting proxy).
    tls=""
    if command -v update-ca-certificates >/dev/null 2>&1; then
      trust_ca
    elif [ -s "$ca" ]; then
      tls="-o Acquire::https::CAInfo=$ca"
    fi
    # shellcheck disable=SC2086
    apt-get update $tls
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $tls ca-certificates "$@"
    if [ -n "$tls" ]; then trust_ca; fi
    apt-get clean
    rm -rf /var/lib/apt/lists/*
    ;;
  npm)
    shift
    # An empty build arg means "npm's default registry", not an empty URL.
    if [ -z "${NPM_CONFIG_REGISTRY:-}" ]; then unset NPM_CONFIG_REGISTRY; fi
    if [ -s "$ca" ]; then export NODE_EXTRA_CA_CERTS="$ca"; fi
    export npm_config_cache="$here/npm-cache" npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false
    npm "$@"
    rm -rf "$here/npm-cache"
    ;;
  untrust)
    # Build-time CAs (a corporate proxy's) are for fetching packages only: the agent's traffic
    # goes through the gateway, whose bundle CA is added at provisioning.
    if ls /usr/local/share/ca-certificates/bottle-build-ca-*.crt >/dev/null 2>&1; then
      rm -f /usr/local/share/ca-certificates/bottle-build-ca-*.crt
      update-ca-certificates --fresh >/dev/null 2>&1
    fi
    ;;
  *)
    echo "usage: build-helper.sh apt PKG... | npm ARG... | untrust" >&2
    exit 2
    ;;
esac
