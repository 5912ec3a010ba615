// Unit tests of tools/extract-js: the parts that are easy to get wrong.
//
//   node --test test/extract_js_test.js
'use strict';
const assert = require('node:assert');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {execFileSync} = require('node:child_process');
const {test} = require('node:test');

const TOOL = path.join(__dirname, '..', 'tools', 'extract-js', 'extract-js');

/* Write files into a temporary tree, run the tool on it, return documents by path. */
function extractTree(files) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'extract-js-'));
  try {
    for (const [name, text] of Object.entries(files)) {
      fs.mkdirSync(path.dirname(path.join(root, name)), {recursive: true});
      fs.writeFileSync(path.join(root, name), text);
    }
    const out = execFileSync(TOOL, ['--repository', 'r', root], {stdio: ['ignore', 'pipe', 'pipe']});
    const docs = {};
    for (const line of out.toString().split('\n').filter(Boolean)) {
      const doc = JSON.parse(line);
      docs[doc.path] = doc;
    }
    return docs;
  } finally {
    fs.rmSync(root, {recursive: true, force: true});
  }
}

const byName = (doc) => Object.fromEntries(doc.functions.map((f) => [f.qualified_name, f]));

test('complexity counts branches and logical operators, not nested named functions', () => {
  const docs = extractTree({'m.js': `
function f(a, b) {
  if (a && b || a ?? b) { return 1; }        // if 1, && || ?? 3
  for (const x of a) { while (x) {} }        // 2
  switch (a) { case 1: break; case 2: break; default: }   // 2
  try { g(); } catch (e) {}                  // 1
  const h = a ? 1 : 2;                       // 1
  a.map((x) => (x ? 1 : 0));                 // anonymous: counted here, 1
  function inner() { if (a) {} }             // its own
}
`});
  const fns = byName(docs['m.js']);
  assert.strictEqual(fns.f.complexity, 1 + 1 + 3 + 2 + 2 + 1 + 1 + 1);
  assert.strictEqual(fns['f.<locals>.inner'].complexity, 2);
  assert.deepStrictEqual(fns.f.calls.map((c) => c.name), ['g', 'a.map']);
});

test('TypeScript: classes, generics, extends and implements, abstract, interfaces, decorators', () => {
  const docs = extractTree({'src/a.ts': `
export interface Shape<T> { area(): T; }
export abstract class Base<T extends object> implements Shape<number>, Iterable<T> {
  abstract area(): number;
  @memo() protected static async load<K>(key: K, retries = 3, ...rest: string[]): Promise<Map<K, T>> {
    return new Map();
  }
  handler = (e: Event): void => { this.fire(e); };
}
class Circle extends Base<{r: number}> { area() { return 3; } }
`});
  const doc = docs['src/a.ts'];
  assert.strictEqual(doc.language, 'typescript');
  const classes = Object.fromEntries(doc.classes.map((c) => [c.qualified_name, c]));
  assert.deepStrictEqual(classes.Base.bases, ['Shape<number>', 'Iterable<T>']);
  assert.strictEqual(classes.Base.is_abstract, true);
  assert.strictEqual(classes.Shape.is_abstract, true);
  assert.deepStrictEqual(classes.Circle.bases, ['Base<{r: number}>']);
  const fns = byName(doc);
  const load = fns['Base.load'];
  assert.strictEqual(load.class, 'Base');
  assert.strictEqual(load.is_async, true);
  assert.deepStrictEqual(load.decorators, ['memo()']);
  assert.strictEqual(load.return_type, 'Promise<Map<K, T>>');
  assert.deepStrictEqual(load.parameters, [{name: 'key', type: 'K'}, {name: 'retries', default: '3'},
                                           {name: '...rest', type: 'string[]'}]);
  assert.strictEqual(fns['Base.handler'].class, 'Base');
  assert.deepStrictEqual(fns['Base.handler'].calls, [{name: 'this.fire', line: 8}]);
  assert.strictEqual(fns['Base.area'].class, 'Base');            // abstract, still a method
  assert.strictEqual(fns['Shape.area'], undefined);              // a signature, not a function
});

test('JSX and TSX parse; arrow functions take the name of what they are assigned to', () => {
  const docs = extractTree({
    'ui/App.jsx': `
import React, {useState as useS} from 'react';
export const App = ({title}) => { const [n, setN] = useS(0); return <div onClick={() => setN(n + 1)}>{title}</div>; };
export default function Page() { return <App title="x" />; }
`,
    'ui/List.tsx': `
const List = <T,>({items}: {items: T[]}) => <ul>{items.map((i) => <li>{String(i)}</li>)}</ul>;
module.exports.helper = function () { return 1; };
`});
  const app = docs['ui/App.jsx'];
  assert.strictEqual(app.language, 'javascript');
  assert.deepStrictEqual(Object.keys(byName(app)).sort(), ['App', 'Page']);
  assert.deepStrictEqual(byName(app).App.calls.map((c) => c.name), ['useS', 'setN']);
  assert.deepStrictEqual(app.dependencies, [{target: 'react', kind: 'import', line: 2, names: ['default', 'useState']}]);
  assert.deepStrictEqual(Object.keys(byName(docs['ui/List.tsx'])).sort(), ['List', 'helper']);
});

test('relative specifiers resolve to paths in the repository; every kind of dependency', () => {
  const docs = extractTree({
    'src/index.ts': `
import {a} from './lib/a.js';
export * from './lib';
export {b as c} from '../top';
const d = require('./data.json');
async function load() { return import('./lazy'); }
import * as fs from 'node:fs';
`,
    'src/lib/a.ts': 'export const a = 1;',
    'src/lib/index.ts': 'export const x = 1;',
    'src/lazy.mjs': 'export default 1;',
    'top.cjs': 'module.exports = {};',
  });
  assert.deepStrictEqual(docs['src/index.ts'].dependencies.map((d) => [d.target, d.kind, d.names]), [
    ['src/lib/a.ts', 'import', ['a']],
    ['src/lib/index.ts', 'export', ['*']],
    ['top.cjs', 'export', ['b']],
    ['src/data.json', 'require', undefined],
    ['src/lazy.mjs', 'dynamic-import', undefined],
    ['node:fs', 'import', ['*']],
  ]);
});

test('a file that does not parse is reported, not fatal', () => {
  const docs = extractTree({'good.js': 'let x = 1;', 'bad.js': 'function (:'});
  assert.deepStrictEqual(Object.keys(docs), ['good.js']);
});
