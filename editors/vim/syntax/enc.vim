" Vim syntax file
" Language:    enc (encc: declarative neural-network encoders)
" Filenames:   *.enc
" Maintainer:  the encc authors
"
" The same token classes as the VS Code grammar (editors/vscode/syntaxes/):
" declarations, sub-layer and field names, tensor types such as f32[B, 64],
" built-in layers and functions, named arguments and the |> -> ** @ operators.
" No word is reserved by the enc lexer, so `model`, `train`, `freeze`... are
" only highlighted as keywords where they start a declaration or statement.

if exists('b:current_syntax')
  finish
endif
let s:cpo_save = &cpo
set cpo&vim

syn case match

" Operators first: later items win at the same position, so comments (//, /*)
" and numbers below take precedence over / and -.
syn match encOperator "|>\|->\|\*\*\|==\|!=\|<=\|>=\|[-+*/@<>=]"
syn match encDelimiter "[,:.]"

" Names
syn match encCall       "\<\h\w*\ze\s*("
syn match encNamedArg   "\<\h\w*\ze\s*:"
syn match encAssign     "\%(^\|{\)\s*\zs\h\w*\ze\s*=\%([^=]\|$\)"
syn match encMember     "\.\@1<=\%(\h\w*\|\d\+\)"

" Declarations and statements (only where they can start one)
syn match encDeclare    "\<\%(model\|dataset\|train\)\ze\s\+\h" nextgroup=encDeclName skipwhite
syn match encDeclName   "\h\w*" contained
syn match encPhase      "\<phase\ze\s\+\h" nextgroup=encPhaseName skipwhite
syn match encPhaseName  "\h\w*" contained
syn match encConst      "\<const\ze\s\+\h" nextgroup=encConstName skipwhite
syn match encConstName  "\h\w*" contained
syn match encParamKw    "\<\%(param\|buffer\)\ze\s\+\h" nextgroup=encParamName skipwhite
syn match encParamName  "\h\w*" contained
syn match encForward    "\<forward\ze\s*("
syn match encRepeat     "\<repeat\ze\s*("
syn match encFreeze     "\%(^\|{\)\s*\zs\<\%(freeze\|unfreeze\|lr_scale\)\>" nextgroup=encPath skipwhite
syn match encPath       "\h\w*\%(\.[0-9A-Za-z_*]\+\)*" contained

syn keyword encInclude     import
syn keyword encStatement   return
syn keyword encConditional if else
syn keyword encLogical     and or not
syn keyword encBoolean     true false

" Types: dtypes, tensor types with their dimensions, scalar hyper-parameter types
" (matches, not keywords: a keyword would win over the tensor region's start)
syn match   encDtype       "\<\%(f32\|f16\|bf16\|i32\|i64\)\>"
syn match   encScalarType  "\<\%(int\|float\|bool\|string\)\>"
syn region  encTensor matchgroup=encDtype start="\<\%(f32\|f16\|bf16\|i32\|i64\|bool\)\ze\s*\[" matchgroup=encDelimiter end="\]" contains=encTensorOpen,encNumber,encDim,encOperator,encDelimiter,encBlockComment oneline
syn match   encTensorOpen  "\%(\w\s*\)\@<=\[" contained
syn match   encDim         "\<\h\w*\>" contained

" BEGIN built-ins, generated from the compiler's catalog and the stdlib by
" TestEditorGrammars (cmd/encc/editors_test.go); rewrite with: go test ./cmd/encc -update
" Layers and optimizers are types. A built-in that can be written bare
" (x |> relu, metrics = [accuracy]) is highlighted wherever it appears; the
" others only where they are called, so a sub-layer named l1 or a value
" named step stays a name.
syn keyword encBuiltinLayer AdaptedEncoderLayer Adapter BatchNorm1d BatchNorm2d Conv1d
syn keyword encBuiltinLayer Conv2d DenseBlock DepthwiseSeparable Dropout Embedding GRU LSTM
syn keyword encBuiltinLayer LayerNorm LeNet5 Linear MLP MaskedLM MobileNetSmall
syn keyword encBuiltinLayer MultiHeadAttention RNN TextCNN TextClassifier TextEncoder
syn keyword encBuiltinLayer TransformerEncoder TransformerEncoderLayer
syn keyword encOptimizer    Adam AdamW RMSprop SGD
syn keyword encBuiltinFunc  abs accuracy arange argmax elu exp f1 flatten gelu leaky_relu
syn keyword encBuiltinFunc  log log_softmax max relu sigmoid silu softmax softplus sqrt sum
syn keyword encBuiltinFunc  tanh top_k transpose
syn match   encBuiltinCall  "\<\%(attention\|avgpool1d\|avgpool2d\|bce_with_logits\|builtin\|chars\)\ze\s*("
syn match   encBuiltinCall  "\<\%(concat\|constant\|cosine\|cross_entropy\|csv\|distill\|dropout\)\ze\s*("
syn match   encBuiltinCall  "\<\%(fake_int8\|fill\|float\|from\|idx\|int8\|json_dir\|jsonl\|kaiming_normal\)\ze\s*("
syn match   encBuiltinCall  "\<\%(kaiming_uniform\|kl_div\|l1\|linear\|load\|lora\|loss\|magnitude\|matmul\)\ze\s*("
syn match   encBuiltinCall  "\<\%(maxpool1d\|maxpool2d\|mean\|mlm\|mse\|nll\|normal\|one_cycle\|one_hot\)\ze\s*("
syn match   encBuiltinCall  "\<\%(ones\|permute\|reshape\|sinusoidal\|skipgram\|step\|structured\)\ze\s*("
syn match   encBuiltinCall  "\<\%(synthetic\|truncated_normal\|uniform\|vectors\|warmup\|where\|words\)\ze\s*("
syn match   encBuiltinCall  "\<\%(xavier_normal\|xavier_uniform\|zeros\)\ze\s*("
syn keyword encBuiltinConst minmax standard
" END built-ins

" Literals: a float needs digits on both sides of the dot, so blocks.0.attn
" is a path; no number directly after a word character or a dot.
syn match encNumber "\%(\w\|\.\)\@1<!\d\+\>"
syn match encFloat  "\%(\w\|\.\)\@1<!\d\+\.\d\+\%([eE][+-]\=\d\+\)\=\>"
syn match encFloat  "\%(\w\|\.\)\@1<!\d\+[eE][+-]\=\d\+\>"
syn region encString start=+"+ skip=+\\.+ end=+"+ end=+$+ contains=encEscape,@Spell
syn match  encEscape +\\.+ contained

" Comments last: they win over everything that starts at the same column.
syn keyword encTodo contained TODO FIXME XXX NOTE
syn match   encLineComment  "//.*$" contains=encTodo,@Spell
syn region  encBlockComment start="/\*" end="\*/" contains=encTodo,@Spell extend

syn sync ccomment encBlockComment minlines=50

hi def link encLineComment  Comment
hi def link encBlockComment Comment
hi def link encTodo         Todo
hi def link encString       String
hi def link encEscape       SpecialChar
hi def link encNumber       Number
hi def link encFloat        Float
hi def link encBoolean      Boolean
hi def link encInclude      Include
hi def link encStatement    Statement
hi def link encConditional  Conditional
hi def link encLogical      Operator
hi def link encOperator     Operator
hi def link encDelimiter    Delimiter
hi def link encTensorOpen   Delimiter
hi def link encDeclare      Structure
hi def link encDeclName     Function
hi def link encPhase        Keyword
hi def link encPhaseName    Function
hi def link encConst        StorageClass
hi def link encConstName    Constant
hi def link encParamKw      StorageClass
hi def link encParamName    Identifier
hi def link encForward      Keyword
hi def link encRepeat       Keyword
hi def link encFreeze       Keyword
hi def link encPath         Identifier
hi def link encDtype        Type
hi def link encScalarType   Type
hi def link encDim          Identifier
hi def link encBuiltinLayer Type
hi def link encOptimizer    Type
hi def link encBuiltinFunc  Function
hi def link encBuiltinCall  Function
hi def link encBuiltinConst Constant
hi def link encCall         Function
hi def link encNamedArg     Identifier
hi def link encAssign       Identifier
hi def link encMember       Identifier

let b:current_syntax = 'enc'

let &cpo = s:cpo_save
unlet s:cpo_save
