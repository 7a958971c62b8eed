#!/usr/bin/env bash
# pg-local.sh: a throwaway PostgreSQL 15 on loopback for Agora's tests and
# benchmarks, installed from apt if missing, run by root.
#
#   scripts/pg-local.sh start   -> installs if needed, starts, prints the URL
#   scripts/pg-local.sh stop | reset | url
#
# Origin: the Agora team's shared recipe `postgres/pg-local.sh` (written for
# this project's engineers; no separate licence stated), copied here so the
# repository needs nothing beside it. Changes: installs the package itself, its own directory and
# port (55441) so it does not clash with other servers on the machine, and
# durable settings (fsync and synchronous_commit on) so that benchmark
# figures are honest.
#
# initdb/postgres refuse to run as root, so both run as the `postgres`
# system user via setpriv (setpriv execs, so the recorded PID is the
# postmaster itself; stop sends it SIGINT = fast shutdown).
PG_DIR=${PG_DIR:-/tmp/agora-pg}
PG_PORT=${PG_PORT:-55441}
PG_USER=${PG_USER:-postgres}
PG_DB=${PG_DB:-agora}
set -euo pipefail
url() { echo "postgres://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"; }
running() { [ -f "$PG_DIR/pid" ] && kill -0 "$(cat "$PG_DIR/pid")" 2>/dev/null; }
bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
case "${1:-}" in
start)
  running && { url; exit 0; }
  if [ -z "$(bindir)" ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >&2
  fi
  BIN=$(bindir)
  install -d -o "$PG_USER" -g "$PG_USER" -m 0700 "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups "$BIN/initdb" -D "$PG_DIR/data" \
      -A trust -U "$PG_USER" -E UTF8 --no-locale --no-sync >"$PG_DIR/initdb.log" 2>&1
  fi
  setsid setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups "$BIN/postgres" -D "$PG_DIR/data" \
    -p "$PG_PORT" -k "$PG_DIR" -c listen_addresses=127.0.0.1 -c max_connections=200 \
    >"$PG_DIR/postgres.log" 2>&1 </dev/null &
  echo $! > "$PG_DIR/pid"
  for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p "$PG_PORT" && break; sleep 0.1; done
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" || { cat "$PG_DIR/postgres.log" >&2; exit 1; }
  psql -qAt -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -c "select 1 from pg_database where datname='$PG_DB'" | grep -q 1 \
    || psql -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -c "create database \"$PG_DB\""
  url ;;
url) url ;;
stop)
  if running; then p=$(cat "$PG_DIR/pid"); kill -INT "$p"
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p"; fi
  rm -f "$PG_DIR/pid" ;;
reset) "$0" stop; rm -rf "$PG_DIR" ;;
*) sed -n '2,7p' "$0"; exit 2 ;;
esac
