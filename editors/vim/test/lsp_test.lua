-- Neovim built-in LSP client against the real `encc lsp`, through the
-- plugin's lua/encc/lsp.lua. Run from the repository root:
--
--   ENCC_BIN=/path/to/encc nvim --headless -u NONE -i NONE -c 'luafile editors/vim/test/lsp_test.lua'
--
-- ENCC_BIN is the encc binary (or a command such as `go run ./cmd/encc`);
-- `lsp` is appended. Exit status: 0 pass, 1 fail, 3 skipped (ENCC_BIN unset,
-- or the server never answered `initialize`, i.e. `encc lsp` does not exist
-- yet). Checks:
--   1. opening testdata/errors/shape_mismatch.enc publishes exactly one
--      diagnostic at 11:16 (0-based 10:15) with the text of `encc check`:
--      "expects f32[B, 32], got f32[B, 64]";
--   2. hover on `h` in examples/digits_mlp.enc (where it is bound,
--      `h = drop(...)`, and where it is used, `fc2(h)`) shows f32[B, 128].

local TIMEOUT_MS = tonumber(os.getenv('ENCC_LSP_TIMEOUT_MS') or '') or 20000

local out = {}
local failures = 0
local function say(msg)
  io.stdout:write(msg .. '\n')
  table.insert(out, msg)
end
local function fail(msg)
  failures = failures + 1
  say('FAIL ' .. msg)
end
local function pass(msg)
  say('ok   ' .. msg)
end
local function finish(code)
  io.stdout:flush()
  vim.cmd('cquit ' .. code)
end

local bin = os.getenv('ENCC_BIN')
if bin == nil or bin == '' then
  say('SKIP lsp_test: ENCC_BIN is not set (set it to the encc binary, e.g. ENCC_BIN=$PWD/encc, to test `encc lsp`)')
  finish(3)
  return
end

local root = vim.fn.getcwd()
local plugin = root .. '/editors/vim'
if vim.fn.isdirectory(plugin) == 0 then
  say('FAIL lsp_test: run it from the repository root (no ' .. plugin .. ')')
  finish(1)
  return
end
vim.opt.runtimepath:prepend(plugin)
vim.cmd('filetype plugin indent on')
vim.cmd('syntax on')

local cmd = vim.split(vim.trim(bin), '%s+')
if cmd[1]:find('/') and cmd[1]:sub(1, 1) ~= '/' then
  cmd[1] = root .. '/' .. cmd[1]
end
table.insert(cmd, 'lsp')

-- Record every publishDiagnostics, then let Neovim handle it as usual.
local published = {} -- uri -> diagnostics (latest)
local default_diag = vim.lsp.handlers['textDocument/publishDiagnostics']
vim.lsp.handlers['textDocument/publishDiagnostics'] = function(err, result, ctx, config)
  if result and result.uri then
    published[result.uri] = result.diagnostics or {}
  end
  return default_diag(err, result, ctx, config)
end

local initialized = false
local exited = nil
local stderr_log = vim.lsp.get_log_path()
local lsp = require('encc.lsp')
lsp.setup({
  cmd = cmd,
  on_init = function()
    initialized = true
  end,
  on_exit = function(code, signal)
    exited = { code = code, signal = signal }
  end,
})

-- 1. diagnostics
local bad = root .. '/testdata/errors/shape_mismatch.enc'
vim.cmd('edit ' .. vim.fn.fnameescape(bad))
if vim.bo.filetype ~= 'enc' then
  fail('filetype of shape_mismatch.enc is "' .. vim.bo.filetype .. '", want "enc" (ftdetect not loaded?)')
end
local bad_buf = vim.api.nvim_get_current_buf()

vim.wait(TIMEOUT_MS, function()
  return initialized or exited ~= nil
end, 20)
if not initialized then
  local why = exited and string.format('exited with code %s', tostring(exited.code)) or ('no answer in ' .. TIMEOUT_MS .. ' ms')
  say(string.format('SKIP lsp_test: `%s` did not answer initialize (%s); `encc lsp` is not available yet (see %s)',
    table.concat(cmd, ' '), why, stderr_log))
  finish(3)
  return
end
pass('initialize: `' .. table.concat(cmd, ' ') .. '` started over stdio')

if #vim.lsp.buf_get_clients(bad_buf) == 0 then
  fail('the encc client is not attached to shape_mismatch.enc (FileType autocmd of encc.lsp)')
end

local bad_uri = vim.uri_from_fname(bad)
vim.wait(TIMEOUT_MS, function()
  return published[bad_uri] ~= nil and #published[bad_uri] > 0
end, 20)
local diags = published[bad_uri]
local want_msg = 'expects f32[B, 32], got f32[B, 64]'
if diags == nil then
  fail('no textDocument/publishDiagnostics for ' .. bad_uri .. ' within ' .. TIMEOUT_MS .. ' ms')
elseif #diags ~= 1 then
  local msgs = {}
  for _, d in ipairs(diags) do
    table.insert(msgs, string.format('%d:%d %s', d.range.start.line, d.range.start.character, d.message))
  end
  fail(string.format('shape_mismatch.enc: want exactly 1 diagnostic, got %d: %s', #diags, table.concat(msgs, ' | ')))
else
  local d = diags[1]
  local s = d.range.start
  local ok = true
  if s.line ~= 10 or s.character ~= 15 then
    fail(string.format('diagnostic at %d:%d (0-based), want 10:15 (11:16 as encc check prints it)', s.line, s.character))
    ok = false
  end
  if not d.message:find(want_msg, 1, true) then
    fail(string.format('diagnostic message %q does not contain %q', d.message, want_msg))
    ok = false
  end
  if d.severity ~= nil and d.severity ~= 1 then
    fail(string.format('diagnostic severity %s, want 1 (Error)', tostring(d.severity)))
    ok = false
  end
  -- the same text and position as `encc check`
  local check_cmd = vim.list_slice(cmd, 1, #cmd - 1)
  vim.list_extend(check_cmd, { 'check', 'testdata/errors/shape_mismatch.enc' })
  local check_out = vim.fn.system(check_cmd)
  if not check_out:find('11:16', 1, true) or not check_out:find(want_msg, 1, true) then
    fail(string.format('`%s` output does not show 11:16 and %q:\n%s', table.concat(check_cmd, ' '), want_msg, check_out))
    ok = false
  end
  if ok then
    pass(string.format('diagnostic 11:16 %q (matches encc check)', d.message))
  end
end

-- 2. hover
local function hover_text(result)
  if result == nil then
    return ''
  end
  local parts = {}
  local function add(c)
    if type(c) == 'string' then
      table.insert(parts, c)
    elseif type(c) == 'table' then
      if c.value then
        table.insert(parts, c.value)
      else
        for _, x in ipairs(c) do
          add(x)
        end
      end
    end
  end
  add(result.contents)
  return table.concat(parts, '\n')
end

local mlp = root .. '/examples/digits_mlp.enc'
vim.cmd('edit ' .. vim.fn.fnameescape(mlp))
local mlp_buf = vim.api.nvim_get_current_buf()
vim.wait(TIMEOUT_MS, function()
  return #vim.lsp.buf_get_clients(mlp_buf) > 0
end, 20)

-- find the positions of `h` by text, so edits to the example move them
local lines = vim.api.nvim_buf_get_lines(mlp_buf, 0, -1, false)
local spots = {}
for i, l in ipairs(lines) do
  local c = l:find('^%s*h = drop%(')
  if c then
    table.insert(spots, { line = i - 1, character = #l:match('^%s*'), what = 'h in `h = drop(...)`' })
  end
  local u = l:find('fc2%(h%)')
  if u then
    table.insert(spots, { line = i - 1, character = u - 1 + 4, what = 'h in `fc2(h)`' })
  end
end
if #spots ~= 2 then
  fail('examples/digits_mlp.enc no longer has `h = drop(...)` and `fc2(h)`; update lsp_test.lua')
end
for _, p in ipairs(spots) do
  local params = {
    textDocument = { uri = vim.uri_from_fname(mlp) },
    position = { line = p.line, character = p.character },
  }
  local responses, err = vim.lsp.buf_request_sync(mlp_buf, 'textDocument/hover', params, TIMEOUT_MS)
  local text, rerr = '', nil
  for _, r in pairs(responses or {}) do
    if r.error then
      rerr = r.error.message or vim.inspect(r.error)
    end
    text = text .. hover_text(r.result)
  end
  local where = string.format('hover on %s at %d:%d', p.what, p.line + 1, p.character + 1)
  if err or rerr then
    fail(string.format('%s: error %s', where, tostring(err or rerr)))
  elseif not text:find('f32[B, 128]', 1, true) then
    fail(string.format('%s: want f32[B, 128] in the hover, got %q', where, text))
  else
    pass(string.format('%s shows f32[B, 128]', where))
  end
end

for _, c in ipairs(vim.lsp.get_active_clients()) do
  c.stop()
end
vim.wait(2000, function()
  return #vim.lsp.get_active_clients() == 0
end, 20)

say(string.format('lsp_test: %s', failures == 0 and 'passed' or (failures .. ' failure(s)')))
finish(failures == 0 and 0 or 1)
