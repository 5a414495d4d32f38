" .enc files: the encc language for neural-network encoders.
autocmd BufNewFile,BufRead *.enc setfiletype enc
