" Vim indent file for enc (encc) files: brace/bracket based.
if exists('b:did_indent')
  finish
endif
let b:did_indent = 1

setlocal autoindent nosmartindent nocindent
setlocal indentexpr=GetEncIndent(v:lnum)
setlocal indentkeys=0{,0},0),0],!^F,o,O,e

let b:undo_indent = 'setlocal autoindent< smartindent< cindent< indentexpr< indentkeys<'

if exists('*GetEncIndent')
  finish
endif

let s:cpo_save = &cpo
set cpo&vim

" The line without strings and comments, for counting brackets.
function! s:Code(lnum) abort
  let line = getline(a:lnum)
  let line = substitute(line, '"\%([^"\\]\|\\.\)*"', '""', 'g')
  let line = substitute(line, '/\*.\{-}\*/', '', 'g')
  let line = substitute(line, '//.*$', '', '')
  return line
endfunction

" Net brackets opened by a line (opened minus closed, not counting the
" closers at its start, which already dedented that line).
function! s:Opened(lnum) abort
  let code = substitute(s:Code(a:lnum), '^\s*[\]})]*', '', '')
  let n = 0
  for ch in split(code, '\zs')
    if ch =~# '[\[{(]'
      let n += 1
    elseif ch =~# '[\]})]'
      let n -= 1
    endif
  endfor
  return n
endfunction

function! s:InComment(lnum) abort
  for id in synstack(a:lnum, max([1, indent(a:lnum) + 1]))
    if synIDattr(id, 'name') ==# 'encBlockComment'
      return 1
    endif
  endfor
  return 0
endfunction

function! GetEncIndent(lnum) abort
  " Inside a block comment: align with the text after `/* ` (or the `*` of
  " a ` * ` continuation) of the line that opened it.
  if getline(a:lnum) !~# '^\s*/\*' && s:InComment(a:lnum)
    let start = search('/\*', 'bnW')
    if start > 0
      return indent(start) + (getline(a:lnum) =~# '^\s*\*' ? 1 : 3)
    endif
  endif
  let prev = prevnonblank(a:lnum - 1)
  while prev > 0 && getline(prev) !~# '^\s*/\*' && s:InComment(prev)
    let prev = prevnonblank(prev - 1)
  endwhile
  if prev == 0
    return 0
  endif
  let ind = indent(prev)
  let opened = s:Opened(prev)
  if opened > 0
    let ind += shiftwidth()
  elseif opened < 0
    let ind -= shiftwidth() * (-opened)
  endif
  if getline(a:lnum) =~# '^\s*[\]})]'
    let ind -= shiftwidth()
  endif
  return max([0, ind])
endfunction

let &cpo = s:cpo_save
unlet s:cpo_save
