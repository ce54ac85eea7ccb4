# Installs the tools the tests and the demo need when they are missing (Debian, as root),
# or says what to install otherwise.

deps_apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "missing Debian packages: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    return 1
  fi
}

deps_install_test_tools() {
  deps_apt_install postgresql nginx-light chromium chromium-driver gdb
  python3 -m pip install -q --disable-pip-version-check -r Tests/requirements.txt
}
