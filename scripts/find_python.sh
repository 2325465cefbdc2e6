#!/usr/bin/env sh
# Print the path of a Python >= 3.12 interpreter: PATH first, then pyenv's versions folder.
# Exit 1 with a clear message when there is none.
for cand in python3.12 python3.13 python3.14 python3 python; do
  p=$(command -v "$cand" 2>/dev/null) || continue
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
root=${PYENV_ROOT:-}
[ -z "$root" ] && command -v pyenv >/dev/null 2>&1 && root=$(pyenv root 2>/dev/null)
[ -z "$root" ] && root="$HOME/.pyenv"
for p in $(ls -d "$root"/versions/3.1[2-9]*/bin/python "$root"/versions/3.[2-9][0-9]*/bin/python 2>/dev/null | sort -V); do
  if "$p" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
    echo "$p"; exit 0
  fi
done
echo "tnmodel needs Python >= 3.12, and none was found on PATH or under $root/versions." >&2
echo "Install one (e.g. 'pyenv install 3.12', or your system's python3.12 package), or run: make PYTHON=/path/to/python3.12 ..." >&2
exit 1
