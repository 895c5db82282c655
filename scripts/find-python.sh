#!/usr/bin/env bash
# Print the first Python interpreter found among the versions given (e.g. 3.13 3.12).
for version in "$@"; do
  for candidate in "python$version" "$HOME/.pyenv/versions/$version"*/bin/python; do
    if command -v "$candidate" >/dev/null 2>&1; then
      command -v "$candidate"
      exit 0
    fi
  done
done
command -v python3
