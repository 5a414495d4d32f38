#!/usr/bin/env node
// Fails unless every scope name the grammar can produce is asserted at least
// once in the annotated samples (test/*.enc), so a new rule cannot land
// without a grammar test.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const grammar = JSON.parse(fs.readFileSync(path.join(root, 'syntaxes', 'enc.tmLanguage.json'), 'utf8'));

const scopes = new Set();
(function walk(node) {
  if (Array.isArray(node)) { node.forEach(walk); return; }
  if (!node || typeof node !== 'object') return;
  for (const [k, v] of Object.entries(node)) {
    if ((k === 'name' || k === 'contentName') && typeof v === 'string' && v.endsWith('.enc')) {
      v.split(/\s+/).forEach((s) => scopes.add(s));
    } else if (typeof v === 'object') {
      walk(v);
    }
  }
})(grammar.repository);
(grammar.patterns || []).forEach((p) => p.name && scopes.add(p.name));

const asserted = new Set();
for (const f of fs.readdirSync(__dirname).filter((f) => f.endsWith('.enc'))) {
  for (const line of fs.readFileSync(path.join(__dirname, f), 'utf8').split('\n')) {
    const m = /^\/\/\s*(?:<-+|\^+)\s+(.*)$/.exec(line);
    if (m) m[1].split(/\s+/).forEach((s) => asserted.add(s));
  }
}

const missing = [...scopes].filter((s) => !asserted.has(s)).sort();
if (missing.length) {
  console.error(`scope coverage: ${missing.length} of ${scopes.size} grammar scopes have no assertion in test/*.enc:`);
  missing.forEach((s) => console.error('  ' + s));
  process.exit(1);
}
console.log(`scope coverage: all ${scopes.size} grammar scopes are asserted in test/*.enc`);
