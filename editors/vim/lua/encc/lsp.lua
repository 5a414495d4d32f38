-- Neovim built-in LSP client for .enc files: starts `encc lsp` (stdio) and
-- attaches it to every buffer with filetype `enc`. Works with Neovim 0.7+
-- (vim.lsp.start_client; no nvim-lspconfig needed).
--
--   require('encc.lsp').setup()                          -- `encc` on $PATH
--   require('encc.lsp').setup({ cmd = { '/path/to/encc', 'lsp' } })
--   require('encc.lsp').setup({ on_attach = function(client, bufnr) ... end })
--
-- With nvim-lspconfig instead, see editors/README.md.
local M = {}

M.defaults = {
  name = 'encc',
  cmd = { 'encc', 'lsp' },
  filetypes = { 'enc' },
  -- the first directory upwards from the file that holds one of these is the
  -- workspace root; otherwise the file's own directory
  root_markers = { '.git', 'go.mod', '.encc' },
  settings = {},
}

M.config = vim.deepcopy(M.defaults)
M.clients = {} -- root_dir -> client id

local function exists(path)
  return vim.loop.fs_stat(path) ~= nil
end

--- The workspace root for a file: the nearest directory upwards that holds
--- a root marker, else the file's directory.
function M.root_dir(fname, markers)
  markers = markers or M.config.root_markers
  local dir = vim.fn.fnamemodify(fname, ':p:h')
  local cur = dir
  while cur and cur ~= '' do
    for _, m in ipairs(markers) do
      if exists(cur .. '/' .. m) then
        return cur
      end
    end
    local parent = vim.fn.fnamemodify(cur, ':h')
    if parent == cur then
      break
    end
    cur = parent
  end
  return dir
end

local function client_alive(id)
  local c = id and vim.lsp.get_client_by_id(id)
  return c ~= nil and not c.is_stopped()
end

--- Start (or reuse) the server for the buffer's workspace and attach it.
--- Returns the client id, or nil when the server cannot be started.
function M.attach(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  local fname = vim.api.nvim_buf_get_name(bufnr)
  if fname == '' then
    return nil
  end
  local cfg = M.config
  local root = M.root_dir(fname, cfg.root_markers)
  local id = M.clients[root]
  if not client_alive(id) then
    if vim.fn.executable(cfg.cmd[1]) ~= 1 then
      vim.notify(
        string.format("encc: '%s' is not executable; install encc or call require('encc.lsp').setup({ cmd = { '/path/to/encc', 'lsp' } })", cfg.cmd[1]),
        vim.log.levels.WARN
      )
      return nil
    end
    id = vim.lsp.start_client({
      name = cfg.name,
      cmd = cfg.cmd,
      root_dir = root,
      workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
      settings = cfg.settings,
      capabilities = cfg.capabilities or vim.lsp.protocol.make_client_capabilities(),
      handlers = cfg.handlers,
      on_attach = cfg.on_attach,
      on_init = cfg.on_init,
      on_exit = function(code, signal, client_id)
        if M.clients[root] == client_id then
          M.clients[root] = nil
        end
        if cfg.on_exit then
          cfg.on_exit(code, signal, client_id)
        end
      end,
    })
    if not id then
      return nil
    end
    M.clients[root] = id
  end
  vim.lsp.buf_attach_client(bufnr, id)
  return id
end

--- Configure and enable: every `enc` buffer (also those already open) gets
--- the server. `opts` override M.defaults (cmd, root_markers, on_attach,
--- capabilities, handlers, settings, on_init, on_exit).
function M.setup(opts)
  opts = opts or {}
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- lists replace the defaults instead of merging index by index
  for _, k in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    if opts[k] then
      M.config[k] = opts[k]
    end
  end
  local group = vim.api.nvim_create_augroup('encc_lsp', { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = M.config.filetypes,
    callback = function(args)
      M.attach(args.buf)
    end,
    desc = 'start encc lsp for enc buffers',
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(M.config.filetypes, vim.bo[buf].filetype) then
      M.attach(buf)
    end
  end
end

return M
