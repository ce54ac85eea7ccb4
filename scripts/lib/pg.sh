# Helpers to run a throwaway local PostgreSQL 15 cluster for development, demos and tests.
# Sourced by scripts/run, scripts/test and .ci/run. Works as root (runs Postgres as the
# `postgres` user, which Postgres insists on) and as an ordinary user.

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

pg_require_binaries() {
  if [ -x "$PG_BIN/initdb" ] && command -v psql >/dev/null 2>&1; then return 0; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing PostgreSQL 15 (Debian package postgresql)..." >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || return 1
    # Debian's package starts its own cluster on 5432; we use our own clusters only.
    service postgresql stop >/dev/null 2>&1 || true
  fi
  if [ ! -x "$PG_BIN/initdb" ]; then
    echo "PostgreSQL 15 server binaries not found in $PG_BIN: install them with 'sudo apt-get install postgresql' (or set PG_BIN)." >&2
    return 1
  fi
}

# Run a command as the cluster owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# pg_start_cluster DIR PORT: creates (if needed) and starts a cluster in DIR listening on 127.0.0.1:PORT.
pg_start_cluster() {
  local dir="$1" port="$2"
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then
    chown -R postgres "$dir"
    # Postgres must be able to reach its data directory: every parent needs o+x.
    if ! runuser -u postgres -- test -x "$dir"; then
      echo "the postgres user cannot reach $dir (a parent folder is not traversable); set PGDATA_DIR to a path under /tmp" >&2
      return 1
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_as_owner "$PG_BIN/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
    cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
max_connections = 600
shared_buffers = 256MB
unix_socket_directories = '$dir'
fsync = on
synchronous_commit = on
# After a crash, sync the data folder with one syncfs() instead of an fsync per file: with the many
# databases tests create, the per-file way took over a minute before recovery even began.
recovery_init_sync_method = syncfs
CONF
  fi
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -o "-p $port" -l "$dir/postgres.log" -w -t 60 start >/dev/null \
    || { tail -20 "$dir/postgres.log" >&2; return 1; }
}

pg_stop_cluster() {
  local dir="$1"
  [ -f "$dir/data/postmaster.pid" ] || return 0
  pg_as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# pg_create_db PORT NAME
pg_create_db() {
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -qAtc "SELECT 1 FROM pg_database WHERE datname = '$2'" | grep -q 1 \
    || psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -qc "CREATE DATABASE \"$2\"" >/dev/null
}
