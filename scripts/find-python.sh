#!/usr/bin/env bash
# Print the first working Python interpreter among the versions given (e.g. 3.13 3.12).
# pyenv installs shims for every version it knows, which fail unless that version is
# selected: each candidate is run once before it is chosen.
works() { "$1" -c "import sys" >/dev/null 2>&1; }
for version in "$@"; do
  for candidate in "$HOME/.pyenv/versions/$version"*/bin/python "python$version"; do
    if command -v "$candidate" >/dev/null 2>&1 && works "$candidate"; then
      command -v "$candidate"
      exit 0
    fi
  done
done
command -v python3
