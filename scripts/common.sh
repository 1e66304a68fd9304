# Shared by ./run and ./test: find Python >= 3.12 (Django 6 needs it) and keep .venv in step with
# the pinned requirements. Sourced, not executed.

find_python() {
  local candidates=("${CITUSADMIN_PYTHON:-}" python3.13 python3.12 python3)
  local dir
  for dir in "$HOME"/.pyenv/versions/3.13*/bin "$HOME"/.pyenv/versions/3.12*/bin /usr/local/bin; do
    [ -d "$dir" ] && candidates+=("$dir/python3")
  done
  local py
  for py in "${candidates[@]}"; do
    [ -n "$py" ] || continue
    command -v "$py" >/dev/null 2>&1 || [ -x "$py" ] || continue
    if "$py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$py"
      return 0
    fi
  done
  echo "citusadmin needs Python 3.12 or newer (Django 6); none found. Install python3.12 or set CITUSADMIN_PYTHON." >&2
  return 1
}

ensure_venv() {  # $1: requirements file
  local req="$1" py stamp want
  if [ ! -x .venv/bin/python ]; then
    py=$(find_python)
    echo "Creating .venv with $py"
    "$py" -m venv .venv
  fi
  stamp=.venv/.requirements.sha256
  want=$(cat requirements.txt "$req" | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "Installing pinned requirements ($req)"
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
  fi
}
