#!/usr/bin/env node
// Snapshot tests of the TextMate grammar over every program in examples/.
// The examples are copied into test/snap/ (the copies are git-ignored; the
// .snap files are committed). `node test/snap.js --update` rewrites them.
'use strict';
const fs = require('fs');
const path = require('path');
const { spawnSync } = require('child_process');

const update = process.argv.includes('--update');
const root = path.join(__dirname, '..');
const examples = path.resolve(root, '..', '..', 'examples');
const snapDir = path.join(__dirname, 'snap');

const sources = fs.readdirSync(examples).filter((f) => f.endsWith('.enc')).sort();
if (sources.length === 0) {
  console.error(`snap: no .enc files in ${examples}`);
  process.exit(1);
}
fs.mkdirSync(snapDir, { recursive: true });
for (const f of fs.readdirSync(snapDir)) {
  if (f.endsWith('.enc')) fs.unlinkSync(path.join(snapDir, f));
}
for (const f of sources) fs.copyFileSync(path.join(examples, f), path.join(snapDir, f));

const problems = [];
for (const f of fs.readdirSync(snapDir).filter((f) => f.endsWith('.enc.snap'))) {
  if (!sources.includes(f.slice(0, -'.snap'.length))) {
    if (update) fs.unlinkSync(path.join(snapDir, f));
    else problems.push(`stale snapshot test/snap/${f}: examples/${f.slice(0, -5)} no longer exists (run: npm run snap:update)`);
  }
}
if (!update) {
  for (const f of sources) {
    if (!fs.existsSync(path.join(snapDir, f + '.snap'))) {
      problems.push(`missing snapshot test/snap/${f}.snap for examples/${f} (run: npm run snap:update, review and commit it)`);
    }
  }
}
if (problems.length) {
  problems.forEach((p) => console.error('snap: ' + p));
  process.exit(1);
}

const bin = path.join(root, 'node_modules', '.bin', 'vscode-tmgrammar-snap');
const args = ['-s', 'source.enc', '-g', path.join(root, 'syntaxes', 'enc.tmLanguage.json'), path.join('test', 'snap', '*.enc')];
if (update) args.unshift('--updateSnapshot');
const r = spawnSync(bin, args, { cwd: root, stdio: 'inherit' });
if (r.error) {
  console.error(`snap: cannot run ${bin}: ${r.error.message} (run npm ci in editors/vscode)`);
  process.exit(1);
}
if (r.status !== 0) {
  console.error('snap: snapshots differ from the grammar output; if the change is intended run `npm run snap:update` and commit test/snap/*.snap');
  process.exit(r.status || 1);
}
console.log(`snap: ${sources.length} example snapshots ${update ? 'written' : 'match'}`);
