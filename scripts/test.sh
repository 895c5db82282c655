#!/usr/bin/env bash
# Install the package with its test extras in a virtualenv, start the database servers if
# they are down, then run ruff, mypy and the whole pytest suite against the real PostgreSQL.
#   scripts/test.sh                 newest Django (6.x, Python >= 3.12) in .venv
#   scripts/test.sh --oldest        Django 4.2 on Python 3.10 in .venv-oldest
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--oldest" ]; then
  shift
  PYTHON=${PYTHON:-$(scripts/find-python.sh 3.10)}
  VENV=${VENV:-.venv-oldest}
  DJANGO_SPEC="django>=4.2,<4.3"
else
  PYTHON=${PYTHON:-$(scripts/find-python.sh 3.13 3.12)}
  VENV=${VENV:-.venv}
  DJANGO_SPEC="django>=4.2"
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade --disable-pip-version-check -e ".[test]" "$DJANGO_SPEC" 2>&1 | grep -v "^WARNING: Location" || true
"$VENV/bin/python" -c "import django, sys; print(f'Python {sys.version.split()[0]}, Django {django.get_version()}')"
scripts/ensure-services.sh
"$VENV/bin/ruff" check safe_migrations tests
"$VENV/bin/ruff" format --check safe_migrations tests
"$VENV/bin/mypy" safe_migrations
"$VENV/bin/python" -m pytest "$@"
