# Sourced by scripts/demo and scripts/test: makes .venv (or $PRETIX_DESK_VENV) with the
# pinned pretix and this plugin installed editable, and compiles the translations.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${PRETIX_DESK_VENV:-$ROOT/.venv}"
PRETIX_VERSION="2026.8.0"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV"
  "$PY" -m pip install -q -U pip wheel setuptools
fi
stamp="$VENV/.pretix-desk-installed"
want="$PRETIX_VERSION $(cat "$ROOT/pyproject.toml" | sha1sum | cut -c1-12) ${1:-base}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  extra=""
  [ "${1:-base}" = "test" ] && extra="[test]"
  "$PY" -m pip install -q "pretix==$PRETIX_VERSION" -e "$ROOT$extra"
  echo "$want" > "$stamp"
fi
"$PY" "$ROOT/scripts/compile_messages.py"
