#!/usr/bin/env bash
# Install (from Debian packages) and start PostgreSQL on loopback for the store tests, and
# print the URL the tests use (FMREVIEW_TEST_PG_URL). Safe to run twice.
set -euo pipefail
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ ! -d /usr/lib/postgresql ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >&2
fi
if ! pg_lsclusters -h | grep -q "^$ver main .* online"; then
  pg_ctlcluster "$ver" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
for i in $(seq 1 30); do
  if su postgres -c "psql -p $port -h 127.0.0.1 -Atc 'select 1'" >/dev/null 2>&1 || su postgres -c "psql -p $port -Atc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 1
done
su postgres -c "psql -p $port -Atc \"DO \\\$\\\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='fmreview') THEN CREATE ROLE fmreview LOGIN SUPERUSER PASSWORD 'fmreview'; END IF; END\\\$\\\$;\"" >&2
su postgres -c "psql -p $port -Atc \"SELECT 1 FROM pg_database WHERE datname='fmreview'\"" | grep -q 1 || su postgres -c "createdb -p $port -O fmreview fmreview" >&2
echo "postgresql://fmreview:fmreview@127.0.0.1:$port/fmreview"
