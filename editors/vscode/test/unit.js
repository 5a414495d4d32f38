#!/usr/bin/env node
// Unit tests of the compiled client (out/): how `encc.path` becomes the
// server command, and that activate() wires a stdio LanguageClient running
// `<encc.path> lsp` for the enc language. `vscode` and
// `vscode-languageclient/node` are replaced by recording fakes; the live
// protocol is tested against the real server by editors/vim/test/lsp_test.lua.
'use strict';
const assert = require('assert');
const os = require('os');
const path = require('path');
const Module = require('module');

const out = path.join(__dirname, '..', 'out');
const results = [];
async function test(name, fn) {
  try {
    await fn();
    results.push([true, name]);
  } catch (e) {
    results.push([false, name, e]);
  }
}

// ---- fakes -----------------------------------------------------------------
const recorded = { clients: [], errors: [], commands: {} };
let settings = {};
let startError = null;
const fakeVscode = {
  window: {
    createOutputChannel: () => ({ appendLine() {}, dispose() {} }),
    showErrorMessage: (msg) => { recorded.errors.push(msg); return Promise.resolve(undefined); },
  },
  commands: {
    registerCommand: (id, fn) => { recorded.commands[id] = fn; return { dispose() {} }; },
    executeCommand: () => Promise.resolve(),
  },
  workspace: {
    workspaceFolders: [{ uri: { fsPath: '/ws' } }],
    getConfiguration: (section) => ({
      get: (key, dflt) => {
        const v = settings[`${section}.${key}`];
        return v === undefined ? dflt : v;
      },
    }),
    onDidChangeConfiguration: () => ({ dispose() {} }),
    createFileSystemWatcher: (glob) => ({ glob, dispose() {} }),
  },
};
class FakeLanguageClient {
  constructor(id, name, serverOptions, clientOptions) {
    Object.assign(this, { id, name, serverOptions, clientOptions, started: false, stopped: false });
    recorded.clients.push(this);
  }
  async start() {
    if (startError) throw startError;
    this.started = true;
  }
  async stop() { this.stopped = true; }
  async dispose() { this.disposed = true; }
}
const fakeClientModule = { LanguageClient: FakeLanguageClient, TransportKind: { stdio: 0, ipc: 1, pipe: 2, socket: 3 } };
const realLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === 'vscode') return fakeVscode;
  if (request === 'vscode-languageclient/node') return fakeClientModule;
  return realLoad.call(this, request, parent, isMain);
};

// ---- tests -----------------------------------------------------------------
(async () => {
  const { serverCommand, startFailureMessage } = require(path.join(out, 'server.js'));

  await test('default encc.path runs `encc lsp` from PATH', () => {
    assert.deepStrictEqual(serverCommand(undefined, '/ws'), { command: 'encc', args: ['lsp'] });
    assert.deepStrictEqual(serverCommand('  ', '/ws'), { command: 'encc', args: ['lsp'] });
  });
  await test('absolute, ~ and ${workspaceFolder} paths', () => {
    assert.strictEqual(serverCommand('/opt/encc/bin/encc', '/ws').command, '/opt/encc/bin/encc');
    assert.strictEqual(serverCommand('~/go/bin/encc').command, path.join(os.homedir(), 'go/bin/encc'));
    assert.strictEqual(serverCommand('${workspaceFolder}/bin/encc', '/ws').command, '/ws/bin/encc');
  });
  await test('relative paths resolve against the workspace folder, bare names stay on PATH', () => {
    assert.strictEqual(serverCommand('./bin/encc', '/ws').command, '/ws/bin/encc');
    assert.strictEqual(serverCommand('encc-dev', '/ws').command, 'encc-dev');
  });
  await test('start failure message names the command and the setting', () => {
    const m = startFailureMessage({ command: 'encc', args: ['lsp'] }, new Error('spawn encc ENOENT'));
    assert.match(m, /`encc lsp`/);
    assert.match(m, /ENOENT/);
    assert.match(m, /encc\.path/);
  });

  await test('language configuration: comments and brace indentation rules', () => {
    const cfg = require(path.join(__dirname, '..', 'language-configuration.json'));
    assert.strictEqual(cfg.comments.lineComment, '//');
    assert.deepStrictEqual(cfg.comments.blockComment, ['/*', '*/']);
    const inc = new RegExp(cfg.indentationRules.increaseIndentPattern);
    const dec = new RegExp(cfg.indentationRules.decreaseIndentPattern);
    for (const l of ['model Encoder(in: int) {', '    forward(x: f32[B, 64]) -> f32[B, 10] {', '    phase head (epochs: 3) {  // frozen',
      '    source = idx(images: "data/a.gz",', '    metrics = [accuracy,']) {
      assert.ok(inc.test(l), `should indent after: ${l}`);
    }
    for (const l of ['    fc1 = Linear(64, 32)', '// model M {', '    split = { train: 0.8 }', '}']) {
      assert.ok(!inc.test(l), `should not indent after: ${l}`);
    }
    for (const l of ['}', '    }', '  )', '] ']) assert.ok(dec.test(l), `should outdent: ${l}`);
    for (const l of ['    return x', '    h = f(x) }']) assert.ok(!dec.test(l), `should not outdent: ${l}`);
  });
  await test('snippets: model, forward, dataset, train and phase exist and are well-formed', () => {
    const sn = require(path.join(__dirname, '..', 'snippets', 'enc.json'));
    for (const k of ['model', 'forward', 'dataset', 'train', 'phase']) {
      assert.ok(sn[k], `snippet ${k}`);
      assert.strictEqual(sn[k].prefix, k);
      const body = sn[k].body.join('\n');
      let depth = 0;
      for (const ch of body.replace(/\$\{[^}]*\}/g, '')) {
        if ('{(['.includes(ch)) depth++;
        if ('})]'.includes(ch)) depth--;
      }
      assert.strictEqual(depth, 0, `snippet ${k} has balanced brackets`);
    }
  });

  const ext = require(path.join(out, 'extension.js'));
  const context = { subscriptions: [] };

  await test('activate starts a stdio client running `<encc.path> lsp` for enc files', async () => {
    settings = { 'encc.path': '/usr/local/bin/encc' };
    await ext.activate(context);
    assert.strictEqual(recorded.clients.length, 1);
    const c = recorded.clients[0];
    assert.strictEqual(c.id, 'encc'); // makes `encc.trace.server` work
    assert.strictEqual(c.serverOptions.command, '/usr/local/bin/encc');
    assert.deepStrictEqual(c.serverOptions.args, ['lsp']);
    assert.strictEqual(c.serverOptions.transport, fakeClientModule.TransportKind.stdio);
    assert.ok(c.started);
    const langs = c.clientOptions.documentSelector.map((s) => s.language);
    assert.deepStrictEqual([...new Set(langs)], ['enc']);
    assert.strictEqual(c.clientOptions.synchronize.fileEvents.glob, '**/*.enc');
    assert.ok(recorded.commands['encc.restartServer'], 'encc.restartServer is registered');
  });
  await test('restart stops the old client and starts a new one', async () => {
    await recorded.commands['encc.restartServer']();
    assert.strictEqual(recorded.clients.length, 2);
    assert.ok(recorded.clients[0].stopped);
    assert.ok(recorded.clients[1].started);
  });
  await test('a missing binary shows an error naming encc.path instead of throwing', async () => {
    settings = { 'encc.path': '/nonexistent/encc' };
    startError = new Error('spawn /nonexistent/encc ENOENT');
    await recorded.commands['encc.restartServer']();
    startError = null;
    assert.strictEqual(recorded.errors.length, 1);
    assert.match(recorded.errors[0], /\/nonexistent\/encc lsp/);
    assert.match(recorded.errors[0], /encc\.path/);
  });
  await test('encc.lsp.enabled = false starts no client', async () => {
    const before = recorded.clients.length;
    settings = { 'encc.lsp.enabled': false };
    await recorded.commands['encc.restartServer']();
    assert.strictEqual(recorded.clients.length, before);
    await ext.deactivate();
  });

  let failed = 0;
  for (const [ok, name, err] of results) {
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}`);
    if (!ok) {
      failed++;
      console.log('     ' + String(err && err.stack ? err.stack : err).split('\n').join('\n     '));
    }
  }
  console.log(`unit: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
