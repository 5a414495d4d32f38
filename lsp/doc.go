// Package lsp is encc's language server (`encc lsp`): diagnostics on open
// and change with the positions and text of `encc check`, hover (the type
// and shape of any expression, a built-in's signature and doc, a model's
// parameter count), go-to-definition, completion (built-ins with argument
// snippets, members after a dot, named arguments, names in scope), the
// document outline and formatting with `encc fmt`.
//
// The protocol layer is deliberately thin: jsonrpc.go frames JSON-RPC
// messages, protocol.go holds the few LSP types used, utf16.go converts
// positions (LSP counts UTF-16 code units; encc counts bytes). server.go
// holds the loop and the documents; features.go the requests. Every
// request runs under recover: broken input never stops the server, and a
// message with a bad header is logged and skipped (jsonrpc.go finds the
// next "Content-Length:").
//
// Checks run in the background. An open, and a change of a file whose
// last check took at most 50 ms with no older check pending, is checked
// at once; otherwise (a slow check, or changes faster than checks
// finish) 150 ms after the last change (BenchmarkChangeLatency measures
// what an editor sees). The loop keeps answering while a large file is checked, a
// newer change cancels the check of the older text, and only the check
// of the latest text publishes. A request about a document (hover,
// definition, completion, symbols) whose latest text is not checked yet
// waits for that check in a goroutine of its own, so the loop goes on
// reading, and answers from the checked text.
package lsp
