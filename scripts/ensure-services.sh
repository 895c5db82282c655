#!/usr/bin/env bash
# Make sure the PostgreSQL (and MariaDB) servers the tests talk to are up on 127.0.0.1.
set -u
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
  start-stop-daemon --start --oknodo --quiet --background --exec /usr/sbin/mariadbd >/dev/null 2>&1 || true
  # The MariaDB tests skip when no server answers: give a server just started time to listen.
  for _ in $(seq 1 20); do
    (exec 3<>/dev/tcp/127.0.0.1/3306) 2>/dev/null && break
    sleep 1
  done
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && exit 0
  sleep 1
done
echo "PostgreSQL is not reachable on 127.0.0.1:5432" >&2
exit 3
