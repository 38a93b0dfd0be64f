#!/usr/bin/env bash
# Sets up braid's Python side for the python3 on PATH (the pyenv CPython 3.11 here; Debian's
# /usr/bin/python3 is another interpreter and is not touched): PyPI packages at pinned versions
# (torch first — the pinned CPU build; an unpinned torch would pull a CUDA build of several GB),
# then the extension built with Bazel (-c opt) against that interpreter's headers and the shared
# libLLVM-19, then `pip install` of python/ (the package `braid`). Idempotent: installs only
# what is missing or differs; reinstalls braid when its files changed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$repo/tools/setup.sh"

python="$(command -v python3)"
pins=(
  torch==2.13.0          # the CPU build on these machines' disk
  numpy==2.4.6
  setuptools==84.2.1     # builds the braid package (no build isolation: offline-safe)
  pybind11==3.1.0        # headers for the extension
  transformers==5.24.0   # tests: HF models from configs, random weights
  pytest==9.2.0
)
for pin in "${pins[@]}"; do
  name="${pin%%==*}" version="${pin##*==}"
  installed="$("$python" -c "import importlib.metadata as m; print(m.version('$name'))" \
               2>/dev/null || true)"
  if [[ "${installed%%+*}" != "$version" ]]; then
    echo "setup_python: installing $pin for $python" >&2
    "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "$pin" >&2
  fi
done

cd "$repo"
bazel build -c opt --noshow_progress //python:all >&2
bin="$(bazel info -c opt bazel-bin 2>/dev/null)/python"
cp -f "$bin"/_braid*.so python/braid/
chmod u+w python/braid/_braid*.so

# Reinstall only when the package's files changed (their checksum is kept in the install).
files=(python/pyproject.toml python/braid/_braid*.so python/braid/torch/*.py)
for f in python/braid/*.py; do [[ "$f" == */_stamp.py ]] || files+=("$f"); done
stamp="$(cat "${files[@]}" | sha256sum | cut -c1-16)"
installed_stamp="$("$python" -c "import braid._stamp as s; print(s.STAMP)" 2>/dev/null || true)"
if [[ "$stamp" != "$installed_stamp" ]]; then
  echo "STAMP = \"$stamp\"" > python/braid/_stamp.py
  echo "setup_python: installing the braid package ($stamp) for $python" >&2
  "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-build-isolation --no-deps \
    --force-reinstall "$repo/python" >&2
  rm -rf python/build python/braid.egg-info
fi
