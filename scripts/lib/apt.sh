# shellcheck shell=bash
# apt_install PACKAGE...: installs Debian packages quietly, with sudo unless
# already root. The setup scripts call it only for what is missing.
apt_install() {
  local sudo=
  if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
