# Sourced by the scripts that need a Python virtualenv (parity.sh,
# setup-python.sh): one way to make it and keep its pinned packages.

# ensure_venv DIR PYTHON REQUIREMENTS: creates the virtualenv DIR with
# PYTHON if it does not exist, and installs REQUIREMENTS (one pin per line)
# unless DIR already holds exactly those (a stamp file remembers), so that a
# second run costs nothing.
ensure_venv() {
  local venv=$1 python=$2 requirements=$3
  if [ ! -x "$venv/bin/python" ]; then
    echo "== creating virtualenv $venv with $python"
    "$python" -m venv "$venv"
  fi
  local stamp="$venv/.pinned-requirements"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$requirements" ]; then
    echo "== installing into $venv: $(echo "$requirements" | tr '\n' ' ')"
    echo "$requirements" > "$venv/requirements.txt"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$venv/requirements.txt"
    echo "$requirements" > "$stamp"
  else
    echo "== $venv already has the pinned packages"
  fi
}
