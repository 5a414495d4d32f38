" Vim filetype plugin for enc (encc) files.
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

let s:cpo_save = &cpo
set cpo&vim

setlocal commentstring=//\ %s
setlocal comments=s1:/*,mb:*,ex:*/,://
setlocal formatoptions-=t formatoptions+=croql
setlocal expandtab shiftwidth=4 softtabstop=4 tabstop=4
setlocal suffixesadd=.enc
setlocal iskeyword=@,48-57,_
" `import "layers/blocks.enc"` paths are relative to the importing file.
setlocal includeexpr=expand('%:p:h')..'/'..v:fname
let &l:include = '^\s*import\s\+"\zs[^"]\+\ze"'

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth< softtabstop< tabstop<'
      \ .. ' suffixesadd< iskeyword< include< includeexpr<'

let &cpo = s:cpo_save
unlet s:cpo_save
