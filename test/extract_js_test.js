// Unit tests of tools/extract-js: the parts that are easy to get wrong.
// Every document the tool produces is validated against the format's JSON
// Schema (docs/document.schema.json).
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
const FIXTURES = path.join(__dirname, 'fixtures');
const SCHEMA = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'docs', 'document.schema.json'), 'utf8'));

/*
 * A validator for the part of JSON Schema 2020-12 that the document schema
 * uses, so that this test needs no npm package: type (one or a list),
 * enum, required, properties, additionalProperties, items, minimum,
 * maximum, minLength, maxLength (in code points), pattern, not, and $ref to
 * #/$defs.  Any other keyword is an error, so the schema cannot outgrow it
 * unnoticed; the Python test checks the same schema with python3-jsonschema,
 * and both check it against the same cases (test/fixtures/document-cases.ndjson).
 * Numbers are JavaScript doubles: integers beyond 2^53 are not exact.
 * Returns a list of "path: message" strings, empty if the value is valid.
 */
const ANNOTATIONS = new Set(['$schema', '$id', '$defs', '$comment', 'title', 'description']);
const TYPES = {
  null: (v) => v === null,
  boolean: (v) => typeof v === 'boolean',
  number: (v) => typeof v === 'number',
  integer: (v) => typeof v === 'number' && Number.isInteger(v),
  string: (v) => typeof v === 'string',
  array: (v) => Array.isArray(v),
  object: (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
};
const isObject = TYPES.object;

function schemaErrors(value, schema = SCHEMA, where = '$') {
  const errors = [];
  const fail = (message) => errors.push(`${where}: ${message}`);
  for (const [keyword, arg] of Object.entries(schema)) {
    switch (keyword) {
      case '$ref': {
        const m = /^#\/\$defs\/([A-Za-z0-9_]+)$/.exec(arg);
        if (!m || !(m[1] in SCHEMA.$defs)) throw new Error(`unsupported $ref ${arg}`);
        errors.push(...schemaErrors(value, SCHEMA.$defs[m[1]], where));
        break;
      }
      case 'type': {
        const types = Array.isArray(arg) ? arg : [arg];
        if (!types.some((t) => TYPES[t](value))) fail(`${JSON.stringify(value)} is not of type ${types.join(' or ')}`);
        break;
      }
      case 'enum':
        if (!arg.some((e) => e === value)) fail(`${JSON.stringify(value)} is not one of ${JSON.stringify(arg)}`);
        break;
      case 'required':
        if (isObject(value)) for (const k of arg) if (!Object.hasOwn(value, k)) fail(`${k} is required`);
        break;
      case 'properties':
        if (isObject(value)) {
          for (const [k, sub] of Object.entries(arg)) {
            if (Object.hasOwn(value, k)) errors.push(...schemaErrors(value[k], sub, `${where}.${k}`));
          }
        }
        break;
      case 'additionalProperties':
        if (isObject(value)) {
          for (const [k, v] of Object.entries(value)) {
            if (!(schema.properties && Object.hasOwn(schema.properties, k))) {
              errors.push(...schemaErrors(v, arg, `${where}[${JSON.stringify(k)}]`));
            }
          }
        }
        break;
      case 'items':
        if (Array.isArray(value)) value.forEach((v, i) => errors.push(...schemaErrors(v, arg, `${where}[${i}]`)));
        break;
      case 'minimum':
        if (typeof value === 'number' && !(value >= arg)) fail(`${value} is less than ${arg}`);
        break;
      case 'maximum':
        if (typeof value === 'number' && !(value <= arg)) fail(`${value} is greater than ${arg}`);
        break;
      case 'minLength':
        if (typeof value === 'string' && [...value].length < arg) fail(`shorter than ${arg} characters`);
        break;
      case 'maxLength':
        if (typeof value === 'string' && [...value].length > arg) fail(`longer than ${arg} characters`);
        break;
      case 'pattern':
        if (typeof value === 'string' && !new RegExp(arg, 'u').test(value)) fail(`${JSON.stringify(value)} does not match /${arg}/`);
        break;
      case 'not':
        if (schemaErrors(value, arg, where).length === 0) fail(`${JSON.stringify(value)} must not match ${JSON.stringify(arg)}`);
        break;
      default:
        if (!ANNOTATIONS.has(keyword)) throw new Error(`schema keyword ${keyword} is not supported by this test`);
    }
  }
  return errors;
}

function checkDocument(doc) {
  const errors = schemaErrors(doc);
  assert.deepStrictEqual(errors, [], `${doc.path} does not match docs/document.schema.json`);
}

const ndjson = (name) => fs.readFileSync(path.join(FIXTURES, name), 'utf8')
  .split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line));

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
      checkDocument(doc);
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

test('a function under an empty key is anonymous: part of its parent, as es6-iterator\'s tests have it', () => {
  const docs = extractTree({
    'test/index.js': `
module.exports = function (T) {
  return { "": function (a) { a(T); }, "Emited": function (a) { a(T); } };
};
`});
  const doc = docs['test/index.js'];
  assert.deepStrictEqual(Object.keys(byName(doc)).sort(), ['exports', 'exports.<locals>.Emited']);
  assert.ok(doc.functions.every((f) => f.name.length > 0));
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

test('the schema accepts the real sample documents', () => {
  const docs = ndjson('stdlib-sample.ndjson');
  assert.strictEqual(docs.length, 12);
  for (const doc of docs) checkDocument(doc);
});

test('the schema agrees with the server on accepted and refused documents', () => {
  // what astpg.ingest() answers each case (the refusals of sql/ingest_errors.sql);
  // "schema": true on a refused one is a rule the schema cannot express
  const cases = ndjson('document-cases.ndjson');
  assert.ok(cases.filter((c) => c.server.startsWith('22023: ')).length > 50);
  for (const c of cases) {
    if (c.beyond_doubles) continue;                 // 2^63 parses as the maximum itself
    if (!c.server.startsWith('22023: ')) assert.strictEqual(c.schema, true, 'the server accepts it');
    const errors = schemaErrors(c.document);
    assert.strictEqual(errors.length === 0, c.schema, `${c.server}: ${JSON.stringify(c.document)} ${errors}`);
  }
});

test('the schema counts lengths in characters', () => {
  const doc = (p, name) => ({path: p, language: 'c', functions: [{name, line_start: 1, line_end: 1}]});
  assert.deepStrictEqual(schemaErrors(doc('\u{1F600}'.repeat(4096), 'é'.repeat(1024))), []);
  assert.strictEqual(schemaErrors(doc('p'.repeat(4097), 'f')).length, 1);
  assert.strictEqual(schemaErrors(doc('a.c', 'é'.repeat(1025))).length, 1);
});
