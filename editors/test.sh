#!/usr/bin/env bash
# Runs every editor-support test: the VS Code extension (grammar tests,
# scope coverage, snapshots of examples/*.enc, tsc, unit tests, vsce package
# and a check of the .vsix contents), the Vim syntax/indent/ftplugin tests in
# headless Neovim and Vim, and the Neovim LSP client test (against a fake
# server always, and against the real `encc lsp` when there is one).
#
#   editors/test.sh            # from anywhere in the repository
#
# Needs: node >= 20 and npm, neovim (>= 0.7), vim; go to build encc for the
# live LSP test. Environment:
#   CI=true             a missing tool is a failure, not a skip
#   ENCC_BIN=path       the encc binary for the live LSP test (default: built
#                       from ./cmd/encc when go is available)
#   ENCC_REQUIRE_LSP=1  the live LSP test must run and pass (no skip)
#   ENCC_SKIP_NPM_CI=1  reuse editors/vscode/node_modules as it is
set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
cd "$root"

ci=false
case "${CI:-}" in true | 1 | yes) ci=true ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

results=()
failed=0
record() { # status name [detail]
  results+=("$(printf '%-5s %s%s' "$1" "$2" "${3:+ — $3}")")
  [ "$1" = FAIL ] && failed=1
  return 0
}
step() { # name command...
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  if "$@"; then record PASS "$name"; else record FAIL "$name" "exit $?"; fi
}
missing() { # name tool install-hint
  local msg="$2 not found; install: $3"
  printf '\n=== %s\n%s\n' "$1" "$msg"
  if $ci; then record FAIL "$1" "$msg"; else record SKIP "$1" "$msg"; fi
}
have() { command -v "$1" >/dev/null 2>&1; }

# ---- VS Code extension ---------------------------------------------------------
vscode="$here/vscode"
node_ok=false
if have node && have npm; then
  if node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
    node_ok=true
  else
    missing "vscode: node version" "node >= 20 (found $(node --version))" "Node.js 20 or newer"
  fi
else
  missing "vscode: extension tests" "node/npm" "Node.js 20+ with npm (e.g. apt-get install nodejs npm, or the NodeSource packages)"
fi

if $node_ok; then
  npm_ready=true
  if [ "${ENCC_SKIP_NPM_CI:-}" = 1 ] && [ -d "$vscode/node_modules" ]; then
    record SKIP "vscode: npm ci" "ENCC_SKIP_NPM_CI=1, using the existing node_modules"
  else
    # --ignore-scripts: no dependency needs an install script, and the one in
    # @vscode/vsce-sign (only for signing when publishing) downloads a binary
    step "vscode: npm ci" npm --prefix "$vscode" ci --ignore-scripts --no-audit --no-fund || true
    [ -d "$vscode/node_modules/.bin" ] || npm_ready=false
  fi
  if $npm_ready; then
    run() { (cd "$vscode" && "$@"); }
    step "vscode: tsc --noEmit" run npx --no-install tsc -p ./ --noEmit
    step "vscode: grammar tests (vscode-tmgrammar-test test/*.enc)" run npx --no-install vscode-tmgrammar-test -g syntaxes/enc.tmLanguage.json 'test/*.enc'
    step "vscode: every grammar scope asserted" run node test/scope-coverage.js
    step "vscode: snapshots of examples/*.enc (vscode-tmgrammar-snap)" run node test/snap.js
    step "vscode: compile + client unit tests" run sh -c 'npx --no-install tsc -p ./ && node test/unit.js'
    rm -f "$vscode/encc.vsix"
    step "vscode: vsce package" run npx --no-install vsce package --out encc.vsix
    step "vscode: .vsix contents" run node test/check-vsix.js encc.vsix
  else
    record FAIL "vscode: tests" "npm ci failed; nothing to run"
  fi
fi

# ---- Vim / Neovim syntax, indent, ftplugin -----------------------------------
vim_test="editors/vim/test/syntax_test.vim"
vimtest() { # name log command...
  local log=$1
  shift
  ENC_TEST_LOG="$log" timeout 120 "$@"
  local rc=$?
  [ -f "$log" ] && cat "$log"
  [ -f "$log" ] || echo "no report written (rc=$rc)"
  return $rc
}
if have nvim; then
  step "vim: highlight groups/indent/ftplugin in nvim --headless" \
    vimtest "$tmp/nvim.log" nvim --headless -u NONE -i NONE -S "$vim_test"
else
  missing "vim: nvim --headless syntax test" "nvim" "apt-get install neovim"
fi
if have vim; then
  step "vim: highlight groups/indent/ftplugin in vim -es" \
    vimtest "$tmp/vim.log" vim -Nu NONE -i NONE -es -S "$vim_test"
else
  missing "vim: vim -es syntax test" "vim" "apt-get install vim"
fi

# ---- Neovim LSP client -----------------------------------------------------------
lsp_test() { # ENCC_BIN value -> exit status of lsp_test.lua
  ENCC_BIN="$1" timeout 180 nvim --headless -u NONE -i NONE -c 'luafile editors/vim/test/lsp_test.lua'
}
if have nvim && $node_ok; then
  fake="node editors/vim/test/fake_encc.js"
  step "nvim lsp: client test against a fake encc lsp" lsp_test "$fake"
  printf '\n=== nvim lsp: the test notices wrong answers\n'
  ENCC_FAKE_WRONG=1 lsp_test "$fake" >"$tmp/wrong.log" 2>&1
  rc=$?
  if [ $rc = 1 ] && [ "$(grep -c '^FAIL' "$tmp/wrong.log")" = 4 ]; then
    echo "4 failures reported, as expected"
    record PASS "nvim lsp: the test notices wrong answers"
  else
    cat "$tmp/wrong.log"
    record FAIL "nvim lsp: the test notices wrong answers" "want exit 1 with 4 failures, got exit $rc"
  fi
elif ! have nvim; then
  missing "nvim lsp: client test" "nvim" "apt-get install neovim"
fi

live_skip() {
  if [ "${ENCC_REQUIRE_LSP:-}" = 1 ]; then record FAIL "nvim lsp: live encc lsp" "$1 (ENCC_REQUIRE_LSP=1)"; else record SKIP "nvim lsp: live encc lsp" "$1"; fi
}
if have nvim; then
  bin="${ENCC_BIN:-}"
  printf '\n=== nvim lsp: live encc lsp\n'
  if [ -z "$bin" ]; then
    if ! have go; then
      live_skip "ENCC_BIN is unset and go is not installed to build ./cmd/encc"
    elif ! ls cmd/encc/*.go >/dev/null 2>&1; then
      live_skip "ENCC_BIN is unset and ./cmd/encc has no Go files yet"
    elif ! go build -o "$tmp/encc" ./cmd/encc 2>"$tmp/build.log"; then
      tail -20 "$tmp/build.log"
      live_skip "ENCC_BIN is unset and go build ./cmd/encc failed"
    else
      bin="$tmp/encc"
    fi
  fi
  if [ -n "$bin" ]; then
    lsp_test "$bin"
    rc=$?
    case $rc in
      0) record PASS "nvim lsp: live encc lsp ($bin)" ;;
      3) live_skip "\`$bin lsp\` is not available (it did not answer initialize)" ;;
      *) record FAIL "nvim lsp: live encc lsp ($bin)" "exit $rc" ;;
    esac
  fi
fi

# ---- summary -----------------------------------------------------------------------
printf '\n=== editors/test.sh summary\n'
printf '%s\n' "${results[@]}"
if [ $failed = 0 ]; then
  echo "editors: all run tests passed"
else
  echo "editors: FAILED"
fi
exit $failed
