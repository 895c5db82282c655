#!/usr/bin/env bash
# Install django-migration-gate in a virtualenv and lint the bundled demo shop project
# offline (no database server needed). Exit code 1 from the linter means "errors found",
# which is what the demo is for; anything else (2, 3) is a real failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-$(scripts/find-python.sh 3.13 3.12 3.11 3.10)}
VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV" || exit 2
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[postgres]" 2>&1 | grep -v "^WARNING: Location"
(cd fixtures/demo && ../../"$VENV"/bin/python manage.py lintmigrations "$@")
code=$?
case $code in
  0) echo "lintmigrations: no errors (exit 0)";;
  1) echo "lintmigrations: exit 1 = errors found, as the demo intends"; code=0;;
  *) echo "lintmigrations failed (exit $code)";;
esac
exit $code
