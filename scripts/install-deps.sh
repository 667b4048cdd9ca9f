#!/bin/sh
# Installs the Debian packages selfsup needs that are not installed yet (build tools, libraries,
# the Fashion-MNIST and fortunes data sets). Uses sudo when not run as root.
set -eu
PKGS="build-essential cmake pkg-config clang libclang-rt-14-dev libopenblas-openmp-dev
libcjson-dev libyaml-dev zlib1g-dev libpng-dev libjpeg62-turbo-dev libdnnl-dev dataset-fashion-mnist fortunes
libopenmpi-dev openmpi-bin python3"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO="sudo"
	echo "installing:$missing" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
