" Headless syntax-highlighting test for editors/vim, for Neovim and Vim:
"   nvim --headless -u NONE -i NONE -S editors/vim/test/syntax_test.vim
"   vim -Nu NONE -i NONE -es -S editors/vim/test/syntax_test.vim
" Run from the repository root. Writes its report to $ENC_TEST_LOG (default
" syntax_test.log in the current directory); exits with an error status on
" any failure. Positions are found by text (a line pattern and a token on
" it), so small edits to the examples move them without breaking the test.

let s:here = expand('<sfile>:p:h')
let s:plugin = fnamemodify(s:here, ':h')
let s:root = fnamemodify(s:plugin, ':h:h')
let s:log = empty($ENC_TEST_LOG) ? 'syntax_test.log' : $ENC_TEST_LOG
let s:out = []
let s:failed = 0
let s:passed = 0

execute 'set runtimepath^=' . fnameescape(s:plugin)
filetype plugin indent on
syntax on
set nomore

function! s:Say(msg) abort
  call add(s:out, a:msg)
endfunction

function! s:Fail(msg) abort
  let s:failed += 1
  call s:Say('FAIL ' . a:msg)
endfunction

" Each case: [line pattern, token, nth occurrence of token on the line,
"             expected syntax group, expected highlight group it links to]
let s:cases = {}
let s:cases['examples/digits_finetune.enc'] = [
      \ ['^// Pre-train',              'Pre-train',    1, 'encLineComment',  'Comment'],
      \ ['^model MLPEncoder',          'model',        1, 'encDeclare',      'Structure'],
      \ ['^model MLPEncoder',          'MLPEncoder',   1, 'encDeclName',     'Function'],
      \ ['^model MLPEncoder',          'in_dim',       1, 'encNamedArg',     'Identifier'],
      \ ['^model MLPEncoder',          'int',          1, 'encScalarType',   'Type'],
      \ ['^model MLPEncoder',          '128',          1, 'encNumber',       'Number'],
      \ ['^model MLPEncoder',          '=',            1, 'encOperator',     'Operator'],
      \ ['fc1 = Linear',               'fc1',          1, 'encAssign',       'Identifier'],
      \ ['fc1 = Linear',               'Linear',       1, 'encBuiltinLayer', 'Type'],
      \ ['forward(x: f32\[B, in_dim',  'forward',      1, 'encForward',      'Keyword'],
      \ ['forward(x: f32\[B, in_dim',  'f32',          1, 'encDtype',        'Type'],
      \ ['forward(x: f32\[B, in_dim',  'B',            1, 'encDim',          'Identifier'],
      \ ['forward(x: f32\[B, in_dim',  '->',           1, 'encOperator',     'Operator'],
      \ ['return x |> fc1',            'return',       1, 'encStatement',    'Statement'],
      \ ['return x |> fc1',            '|>',           1, 'encOperator',     'Operator'],
      \ ['return x |> fc1',            'relu',         1, 'encBuiltinFunc',  'Function'],
      \ ['encoder = MLPEncoder',       'MLPEncoder',   1, 'encCall',         'Function'],
      \ ['^dataset digits',            'dataset',      1, 'encDeclare',      'Structure'],
      \ ['^dataset digits',            'digits',       1, 'encDeclName',     'Function'],
      \ ['source = builtin',           'builtin',      1, 'encBuiltinCall',  'Function'],
      \ ['source = builtin',           '"digits"',     1, 'encString',       'String'],
      \ ['scale  = 1.0',               '16.0',         1, 'encFloat',        'Float'],
      \ ['^train finetune',            'train',        1, 'encDeclare',      'Structure'],
      \ ['^train finetune',            'finetune',     1, 'encDeclName',     'Function'],
      \ ['^\s*model\s*= Classifier',   'model',        1, 'encAssign',       'Identifier'],
      \ ['loss      = cross_entropy',  'cross_entropy',1, 'encBuiltinCall',  'Function'],
      \ ['optimizer = AdamW',          'AdamW',        1, 'encOptimizer',    'Type'],
      \ ['optimizer = AdamW',          'weight_decay', 1, 'encNamedArg',     'Identifier'],
      \ ['optimizer = AdamW',          '0.01',         1, 'encFloat',        'Float'],
      \ ['metrics   = \[accuracy',     'accuracy',     1, 'encBuiltinFunc',  'Function'],
      \ ['phase head',                 'phase',        1, 'encPhase',        'Keyword'],
      \ ['phase head',                 'head',         1, 'encPhaseName',    'Function'],
      \ ['freeze encoder',             'freeze',       1, 'encFreeze',       'Keyword'],
      \ ['freeze encoder',             'encoder',      1, 'encPath',         'Identifier'],
      \ ['lr_scale encoder',           'lr_scale',     1, 'encFreeze',       'Keyword'],
      \ ]
let s:cases['examples/custom_layer.enc'] = [
      \ ['param weight',               'param',        1, 'encParamKw',      'StorageClass'],
      \ ['param weight',               'weight',       1, 'encParamName',    'Identifier'],
      \ ['param weight',               'out',          1, 'encDim',          'Identifier'],
      \ ['param weight',               'kaiming_uniform', 1, 'encBuiltinCall', 'Function'],
      \ ['param scale',                ']',            1, 'encDelimiter',    'Delimiter'],
      \ ['return scale \* (x @',       '@',            1, 'encOperator',     'Operator'],
      \ ['return x |> l1 |> gelu',     'l1',           1, '',                ''],
      \ ['normalize = standard',       'standard',     1, 'encBuiltinConst', 'Constant'],
      \ ['optimizer = SGD',            'true',         1, 'encBoolean',      'Boolean'],
      \ ['lr        = step',           'step',         1, 'encBuiltinCall',  'Function'],
      \ ]
let s:cases['editors/vim/test/sample.enc'] = [
      \ ['^/\* A fixture',             'fixture',      1, 'encBlockComment', 'Comment'],
      \ ['TODO: keep',                 'TODO',         1, 'encTodo',         'Todo'],
      \ ['TODO: keep',                 'editors',      1, 'encBlockComment', 'Comment'],
      \ ['^import',                    'import',       1, 'encInclude',      'Include'],
      \ ['^import',                    'blocks',       1, 'encString',       'String'],
      \ ['^const HIDDEN',              'const',        1, 'encConst',        'StorageClass'],
      \ ['^const HIDDEN',              'HIDDEN',       1, 'encConstName',    'Constant'],
      \ ['^model Block',               'string',       1, 'encScalarType',   'Type'],
      \ ['^model Block',               'bool',         1, 'encScalarType',   'Type'],
      \ ['^model Block',               'false',        1, 'encBoolean',      'Boolean'],
      \ ['blocks = repeat',            'repeat',       1, 'encRepeat',       'Keyword'],
      \ ['blocks = repeat',            'Linear',       1, 'encBuiltinLayer', 'Type'],
      \ ['buffer mask',                'buffer',       1, 'encParamKw',      'StorageClass'],
      \ ['buffer mask',                'bool',         1, 'encDtype',        'Type'],
      \ ['buffer mask',                'd',            2, 'encDim',          'Identifier'],
      \ ['if norm == "pre"',           'if',           1, 'encConditional',  'Conditional'],
      \ ['if norm == "pre"',           '==',           1, 'encOperator',     'Operator'],
      \ ['if norm == "pre"',           'and',          1, 'encLogical',      'Operator'],
      \ ['if norm == "pre"',           'not',          1, 'encLogical',      'Operator'],
      \ ['} else {',                   'else',         1, 'encConditional',  'Conditional'],
      \ ['-> (y: f32',                 'i64',          1, 'encDtype',        'Type'],
      \ ['h = x + attn',               '**',           1, 'encOperator',     'Operator'],
      \ ['h = x + attn',               'transpose',    1, 'encBuiltinFunc',  'Function'],
      \ ['e = blocks.0.attn',          '0',            1, 'encMember',       'Identifier'],
      \ ['e = blocks.0.attn',          'l1',           1, '',                ''],
      \ ['e = blocks.0.attn',          'step',         1, '',                ''],
      \ ['return (y: h',               '1.5e-3',       1, 'encFloat',        'Float'],
      \ ['return (y: h',               'axis',         1, 'encNamedArg',     'Identifier'],
      \ ['init      = load',           '\"',           1, 'encEscape',       'SpecialChar'],
      \ ['loss      = mse',            'l1',           1, 'encBuiltinCall',  'Function'],
      \ ['normalize = minmax',         'minmax',       1, 'encBuiltinConst', 'Constant'],
      \ ['phase warm',                 'freeze',       1, 'encFreeze',       'Keyword'],
      \ ['phase warm',                 '"blocks.0.*"', 1, 'encString',       'String'],
      \ ['unfreeze attn.q',            'attn.q',       1, 'encPath',         'Identifier'],
      \ ]

" The highlight group a syntax group links to directly (`hi def link`).
function! s:LinkOf(group) abort
  if empty(a:group)
    return ''
  endif
  return matchstr(execute('highlight ' . a:group), 'links to \zs\w\+')
endfunction

function! s:CheckFile(file, cases) abort
  let path = s:root . '/' . a:file
  if !filereadable(path)
    call s:Fail(a:file . ': file not found')
    return
  endif
  execute 'silent edit! ' . fnameescape(path)
  if &filetype !=# 'enc'
    call s:Fail(a:file . ": filetype is '" . &filetype . "', want 'enc' (ftdetect/enc.vim not loaded?)")
    return
  endif
  if get(b:, 'current_syntax', '') !=# 'enc'
    call s:Fail(a:file . ': syntax/enc.vim not loaded')
    return
  endif
  for [pat, token, nth, want, wantlink] in a:cases
    call cursor(1, 1)
    let lnum = search(pat, 'cW')
    if lnum == 0
      call s:Fail(printf('%s: no line matches /%s/ (the example changed? update the test)', a:file, pat))
      continue
    endif
    let line = getline(lnum)
    let idx = -1
    for _ in range(nth)
      let idx = stridx(line, token, idx + 1)
      if idx < 0 | break | endif
    endfor
    if idx < 0
      call s:Fail(printf('%s:%d: token %s (#%d) not on line: %s', a:file, lnum, string(token), nth, line))
      continue
    endif
    let col = idx + 1
    " every character of the token carries the same group
    let bad = ''
    for c in range(col, col + strlen(token) - 1)
      let id = synID(lnum, c, 1)
      let got = synIDattr(id, 'name')
      let gotlink = s:LinkOf(got)
      " the group must also end up highlighted like the standard group
      let final_ok = empty(want) || synIDtrans(id) == synIDtrans(hlID(wantlink))
      if got !=# want || gotlink !=# wantlink || !final_ok
        let bad = printf('col %d is %s -> %s (shown as %s)', c, empty(got) ? '(none)' : got,
              \ empty(gotlink) ? '(none)' : gotlink, synIDattr(synIDtrans(id), 'name'))
        break
      endif
    endfor
    let where = printf('%s:%d:%d %s', a:file, lnum, col, string(token))
    if empty(bad)
      let s:passed += 1
    else
      call s:Fail(printf('%s: want %s -> %s, %s', where,
            \ empty(want) ? '(none)' : want, empty(wantlink) ? '(none)' : wantlink, bad))
    endif
  endfor
endfunction

" Filetype settings (ftplugin/enc.vim).
function! s:CheckFtplugin() abort
  execute 'silent edit! ' . fnameescape(s:root . '/examples/digits_mlp.enc')
  for [opt, want] in [['commentstring', '// %s'], ['shiftwidth', 4], ['expandtab', 1], ['softtabstop', 4]]
    let got = eval('&l:' . opt)
    if got ==# want
      let s:passed += 1
    else
      call s:Fail(printf('ftplugin: &%s is %s, want %s', opt, string(got), string(want)))
    endif
  endfor
endfunction

" Brace indentation (indent/enc.vim): re-indenting a flattened example gives
" back the example.
function! s:CheckIndent(file) abort
  let path = s:root . '/' . a:file
  execute 'silent edit! ' . fnameescape(path)
  let want = getline(1, '$')
  silent %s/^\s\+//e
  silent normal! gg=G
  let got = getline(1, '$')
  let diffs = []
  for i in range(len(want))
    if got[i] !=# want[i]
      call add(diffs, printf('  line %d: got %s, want %s', i + 1, string(got[i]), string(want[i])))
    endif
  endfor
  silent edit!
  if empty(diffs)
    let s:passed += 1
  else
    call s:Fail(printf('indent: re-indenting %s differs in %d line(s):', a:file, len(diffs)))
    call extend(s:out, diffs[:9])
  endif
endfunction

let s:editor = has('nvim') ? 'nvim ' . matchstr(execute('version'), 'NVIM v\zs[0-9.]\+') : 'vim ' . v:version
try
  for f in sort(keys(s:cases))
    call s:CheckFile(f, s:cases[f])
  endfor
  call s:CheckFtplugin()
  for f in sort(glob(s:root . '/examples/*.enc', 0, 1))
    call s:CheckIndent(fnamemodify(f, ':s?^' . s:root . '/??'))
  endfor
  call s:CheckIndent('editors/vim/test/sample.enc')
catch
  call s:Fail('error: ' . v:exception . ' at ' . v:throwpoint)
endtry

call s:Say(printf('%s: syntax/indent/ftplugin: %d passed, %d failed', s:editor, s:passed, s:failed))
call writefile(s:out, s:log)
if s:failed
  cquit!
endif
qall!
