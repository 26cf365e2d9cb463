#!/usr/bin/env bash
# Installs the Debian packages that some tests and benchmarks use, when they are missing.
# The project's tests must pass on a fresh machine, so everything beyond Node.js and npm
# that a test needs is installed here (and only here).
#   openssl        - certificates for the TLS tests
#   postgresql-15  - initdb/pg_ctl/pgbench for tests that own a server, and the server limit
#   pgbouncer      - transaction-pooling tests of the unnamed-statement mode
#   util-linux     - runuser, to start a test-owned server as an unprivileged user when root
set -euo pipefail

need=()
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
command -v pgbench >/dev/null 2>&1 || need+=(postgresql-client-15)
command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || need+=(pgbouncer)
command -v runuser >/dev/null 2>&1 || need+=(util-linux)

if [ ${#need[@]} -eq 0 ]; then
  echo "[system-deps] all present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "[system-deps] missing ${need[*]}; not root, so not installing (tests that need them will say so)" >&2
  exit 0
fi
echo "[system-deps] installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Debian pgbouncer package starts a service we do not want; tests start their own.
if command -v service >/dev/null 2>&1; then service pgbouncer stop >/dev/null 2>&1 || true; fi
echo "[system-deps] installed ${need[*]}"
