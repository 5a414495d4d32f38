#!/usr/bin/env node
// Checks the contents of the packaged extension (a zip): the manifest, the
// grammar, the language configuration, the snippets, the compiled client and
// every runtime dependency are there; sources, tests, source maps and
// dev-only packages are not. Usage: node test/check-vsix.js encc.vsix
'use strict';
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');

const root = path.join(__dirname, '..');
const vsix = path.resolve(root, process.argv[2] || 'encc.vsix');

// --- a minimal zip reader (central directory + stored/deflated entries) ---
function readZip(file) {
  const buf = fs.readFileSync(file);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 22 - 0xffff); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file`);
  const count = buf.readUInt16LE(eocd + 10);
  let off = buf.readUInt32LE(eocd + 16);
  const entries = new Map();
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(off) !== 0x02014b50) throw new Error('bad central directory entry');
    const method = buf.readUInt16LE(off + 10);
    const csize = buf.readUInt32LE(off + 20);
    const nameLen = buf.readUInt16LE(off + 28);
    const extraLen = buf.readUInt16LE(off + 30);
    const commentLen = buf.readUInt16LE(off + 32);
    const local = buf.readUInt32LE(off + 42);
    const name = buf.toString('utf8', off + 46, off + 46 + nameLen);
    entries.set(name, { method, csize, local });
    off += 46 + nameLen + extraLen + commentLen;
  }
  return {
    names: [...entries.keys()],
    has: (name) => entries.has(name),
    read(name) {
      const e = entries.get(name);
      if (!e) throw new Error(`${name} is not in the vsix`);
      const start = e.local + 30 + buf.readUInt16LE(e.local + 26) + buf.readUInt16LE(e.local + 28);
      const data = buf.subarray(start, start + e.csize);
      return e.method === 0 ? data : zlib.inflateRawSync(data);
    },
  };
}

const errors = [];
const fail = (msg) => errors.push(msg);

if (!fs.existsSync(vsix)) {
  console.error(`check-vsix: ${vsix} does not exist (run: npm run package)`);
  process.exit(1);
}
const zip = readZip(vsix);
const names = zip.names;

for (const required of [
  'extension.vsixmanifest',
  'extension/package.json',
  'extension/syntaxes/enc.tmLanguage.json',
  'extension/language-configuration.json',
  'extension/snippets/enc.json',
  'extension/out/extension.js',
  'extension/out/server.js',
  'extension/LICENSE.txt',
  'extension/readme.md',
  'extension/node_modules/vscode-languageclient/package.json',
  'extension/node_modules/vscode-languageclient/node.js',
]) {
  if (!zip.has(required)) fail(`missing ${required}`);
}

// The manifest inside the vsix points at files that are inside the vsix.
let manifest = {};
try {
  manifest = JSON.parse(zip.read('extension/package.json').toString('utf8'));
} catch (e) {
  fail(`extension/package.json: ${e.message}`);
}
const inExt = (p) => 'extension/' + path.posix.normalize(p.replace(/^\.\//, ''));
if (manifest.main !== './out/extension.js') fail(`package.json main is ${manifest.main}, want ./out/extension.js`);
const c = manifest.contributes || {};
const lang = (c.languages || []).find((l) => l.id === 'enc');
if (!lang) fail('package.json contributes no language with id "enc"');
else {
  if (!(lang.extensions || []).includes('.enc')) fail('language enc does not claim the .enc extension');
  if (!lang.configuration || !zip.has(inExt(lang.configuration))) fail(`language configuration ${lang.configuration} is not in the vsix`);
}
for (const g of c.grammars || []) {
  if (!zip.has(inExt(g.path))) fail(`grammar ${g.path} is not in the vsix`);
}
if (!(c.grammars || []).some((g) => g.language === 'enc' && g.scopeName === 'source.enc')) fail('no grammar source.enc for language enc');
for (const s of c.snippets || []) {
  if (!zip.has(inExt(s.path))) fail(`snippets ${s.path} are not in the vsix`);
}
if (!((c.configuration || {}).properties || {})['encc.path']) fail('configuration encc.path is not contributed');

for (const f of ['extension/syntaxes/enc.tmLanguage.json', 'extension/language-configuration.json', 'extension/snippets/enc.json']) {
  if (!zip.has(f)) continue;
  try {
    const j = JSON.parse(zip.read(f).toString('utf8'));
    if (f.endsWith('tmLanguage.json') && j.scopeName !== 'source.enc') fail(`${f}: scopeName is ${j.scopeName}`);
  } catch (e) {
    fail(`${f} is not valid JSON: ${e.message}`);
  }
}
if (zip.has('extension/out/extension.js') && !/vscode-languageclient\/node/.test(zip.read('extension/out/extension.js').toString('utf8'))) {
  fail('out/extension.js does not use vscode-languageclient/node');
}

// Runtime dependencies (from the lock file) are all shipped; dev-only ones are not.
const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8'));
const shippedPackages = new Set(
  names.filter((n) => /^extension\/node_modules\/.*package\.json$/.test(n)).map((n) => n.slice('extension/'.length, -'/package.json'.length)),
);
for (const [p, info] of Object.entries(lock.packages || {})) {
  if (!p.startsWith('node_modules/')) continue;
  if (info.dev) {
    if (shippedPackages.has(p)) fail(`dev-only package ${p} is in the vsix`);
  } else if (!info.optional && !shippedPackages.has(p)) {
    fail(`runtime package ${p} is missing from the vsix`);
  }
}

for (const n of names) {
  if (/^extension\/(src|test)\//.test(n)) fail(`source or test file in the vsix: ${n}`);
  if (/^extension\/tsconfig\.json$/.test(n)) fail(`tsconfig.json is in the vsix`);
  if (/\.map$/.test(n)) fail(`source map in the vsix: ${n}`);
  if (/\.ts$/.test(n)) fail(`TypeScript file in the vsix: ${n}`);
  if (/node_modules\/\.bin\//.test(n)) fail(`node_modules/.bin in the vsix: ${n}`);
  if (/\.vsix$/.test(n)) fail(`a vsix inside the vsix: ${n}`);
}

const size = fs.statSync(vsix).size;
if (size > 2 * 1024 * 1024) fail(`the vsix is ${size} bytes; expected well under 2 MiB`);

if (errors.length) {
  console.error(`check-vsix: ${path.basename(vsix)} has ${errors.length} problem(s):`);
  errors.forEach((e) => console.error('  ' + e));
  process.exit(1);
}
console.log(`check-vsix: ${path.basename(vsix)} OK (${names.length} files, ${(size / 1024).toFixed(0)} KiB, runtime packages: ${[...shippedPackages].sort().join(', ')})`);
