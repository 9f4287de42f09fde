#!/usr/bin/env bash
# What `make run-ha` needs from Debian: etcd (Patroni's store), a system Python 3
# that an unprivileged user can run (Patroni runs PostgreSQL as `nobody` under
# root), and setpriv (util-linux). Installed only when missing; needs root.
set -euo pipefail
missing=()
command -v etcd >/dev/null 2>&1 || test -x /usr/bin/etcd || missing+=(etcd-server)
test -x /usr/bin/python3 || missing+=(python3)
command -v setpriv >/dev/null 2>&1 || missing+=(util-linux)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "make run-ha needs these Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
