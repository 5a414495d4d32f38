#!/usr/bin/env node
// A stand-in for `encc` used only to test the test: `fake_encc.js lsp` is a
// minimal stdio language server that answers like the real `encc lsp` must
// for lsp_test.lua (one diagnostic on shape_mismatch.enc, the shape of `h` in
// digits_mlp.enc on hover); `fake_encc.js check FILE` prints what
// `encc check` prints for that file. With ENCC_FAKE_WRONG=1 every answer is
// wrong, so editors/test.sh can check that lsp_test.lua notices.
'use strict';
const wrong = process.env.ENCC_FAKE_WRONG === '1';
const MSG = '"head" expects f32[B, 32], got f32[B, 64]';

if (process.argv[2] === 'check') {
  const f = process.argv[3] || '';
  if (f.endsWith('shape_mismatch.enc')) {
    console.log(`${f}:11:16: error: ${MSG}`);
    process.exit(1);
  }
  process.exit(0);
}
if (process.argv[2] !== 'lsp') {
  console.error(`fake_encc: unknown command ${process.argv[2]}`);
  process.exit(2);
}

const docs = new Map();
function send(msg) {
  const body = Buffer.from(JSON.stringify({ jsonrpc: '2.0', ...msg }), 'utf8');
  process.stdout.write(`Content-Length: ${body.length}\r\n\r\n`);
  process.stdout.write(body);
}

function diagnostics(uri, text) {
  const out = [];
  if (uri.endsWith('shape_mismatch.enc')) {
    const lines = text.split('\n');
    const line = lines.findIndex((l) => /return head\(enc\(x\)\)/.test(l));
    if (line >= 0) {
      const character = lines[line].indexOf('head');
      out.push({
        range: { start: { line: wrong ? line + 1 : line, character }, end: { line, character: character + 15 } },
        severity: 1,
        source: 'encc',
        message: wrong ? 'something else' : MSG,
      });
    }
  }
  send({ method: 'textDocument/publishDiagnostics', params: { uri, diagnostics: out } });
}

function hover(params) {
  const text = docs.get(params.textDocument.uri) || '';
  const line = text.split('\n')[params.position.line] || '';
  const ch = line[params.position.character];
  if (ch !== 'h') return null;
  return { contents: { kind: 'markdown', value: '```enc\nh: ' + (wrong ? 'f32[B, 64]' : 'f32[B, 128]') + '\n```' } };
}

function handle(msg) {
  switch (msg.method) {
    case 'initialize':
      return send({
        id: msg.id,
        result: { capabilities: { textDocumentSync: 1, hoverProvider: true }, serverInfo: { name: 'fake-encc' } },
      });
    case 'initialized':
      return;
    case 'textDocument/didOpen':
      docs.set(msg.params.textDocument.uri, msg.params.textDocument.text);
      return diagnostics(msg.params.textDocument.uri, msg.params.textDocument.text);
    case 'textDocument/didChange': {
      const changes = msg.params.contentChanges;
      docs.set(msg.params.textDocument.uri, changes[changes.length - 1].text);
      return diagnostics(msg.params.textDocument.uri, docs.get(msg.params.textDocument.uri));
    }
    case 'textDocument/hover':
      return send({ id: msg.id, result: hover(msg.params) });
    case 'shutdown':
      return send({ id: msg.id, result: null });
    case 'exit':
      return process.exit(0);
    default:
      if (msg.id !== undefined && msg.method) {
        send({ id: msg.id, error: { code: -32601, message: `not handled: ${msg.method}` } });
      }
  }
}

let buf = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buf = Buffer.concat([buf, chunk]);
  for (;;) {
    const sep = buf.indexOf('\r\n\r\n');
    if (sep < 0) return;
    const m = /Content-Length: *(\d+)/i.exec(buf.subarray(0, sep).toString('ascii'));
    if (!m) throw new Error('fake_encc: bad header');
    const len = Number(m[1]);
    if (buf.length < sep + 4 + len) return;
    const body = buf.subarray(sep + 4, sep + 4 + len).toString('utf8');
    buf = buf.subarray(sep + 4 + len);
    handle(JSON.parse(body));
  }
});
process.stdin.on('end', () => process.exit(0));
