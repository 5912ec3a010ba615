/*
 * lang/ruby.js: Ruby.
 *
 * Module: what "require" loads the file by: its path without .rb, below
 * the nearest lib/ directory above it (where $LOAD_PATH points), else
 * below the top of the tree (lib/rack/utils.rb is "rack/utils").
 * "require 'rack/utils'" and "autoload :Utils, 'rack/utils'" depend on
 * that module; "require_relative 'x'" on the file x.rb beside the
 * requiring one, by its path; "load 'x.rb'" on the path as written.
 * Classes: classes and modules (superclass, and the modules a class
 * includes, extends or prepends, as bases).  Functions: methods and
 * singleton methods (def self.m, and the methods of class << self, with
 * x-singleton); Module::Class names keep their scope (A::B is A.B).
 */
'use strict';
const {posix, field, named, dirOf, join, unquote} = require('./util');

const QUERY = `
(class) @class
(module) @class
(method) @function
(singleton_method) @function
(singleton_class) @namespace
(call) @call
(if) @branch
(elsif) @branch
(unless) @branch
(while) @branch
(until) @branch
(for) @branch
(if_modifier) @branch
(unless_modifier) @branch
(while_modifier) @branch
(until_modifier) @branch
(rescue_modifier) @branch
(conditional) @branch
(when) @branch
(in_clause) @branch
(rescue) @branch
(binary operator: "&&") @logical
(binary operator: "||") @logical
(binary operator: "and") @logical
(binary operator: "or") @logical
(ERROR) @error
(MISSING) @missing
`;

const PARAM_PREFIX = {splat_parameter: '*', hash_splat_parameter: '**', block_parameter: '&'};
const MIXINS = new Set(['include', 'extend', 'prepend']);
const REQUIRES = new Set(['require', 'require_relative', 'load', 'autoload', 'require_dependency']);

/* The string a require names, or null when it is not a plain string. */
function stringArg(node, ctx, index) {
  const args = named(field(node, 'arguments'));
  const a = args[index];
  if (!a || a.type !== 'string' || a.namedChildCount > 1) return null;
  const text = ctx.text_(a);
  if (/#\{/.test(text)) return null;
  return unquote(text);
}

const ruby = {
  name: 'ruby',
  grammar: 'tree-sitter-ruby',
  extensions: ['.rb'],
  namespaceSeparator: '::',
  query: QUERY,
  sample: '# é\ndef f\n  g(\"€\")\nend\n',
  commentLine: String.raw`#`,

  /* class << self opens no class: note its span, for its methods */
  namespace(node, ctx) {
    ctx.singletons.push([node.startIndex, node.endIndex]);
    return null;
  },

  cls(node, ctx) {
    const nameNode = field(node, 'name');
    if (!nameNode) return null;
    const written = ctx.textOf(nameNode);
    const parts = written.replace(/^::/, '').split('::');
    const cls = {name: parts[parts.length - 1], kind: node.type, bases: []};
    if (parts.length > 1) cls.qualified_name = ctx.qualified(parts.join('.'));
    const sup = field(node, 'superclass');
    if (sup) cls.bases.push(ctx.textOf(sup).replace(/^<\s*/, ''));
    return cls;
  },

  fn(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const params = field(node, 'parameters');
    const parameters = [];
    for (const p of named(params)) {
      const t = p.type;
      if (t === 'identifier') parameters.push(ctx.textOf(p));
      else if (PARAM_PREFIX[t]) {
        const n = field(p, 'name');
        parameters.push(PARAM_PREFIX[t] + (n ? ctx.textOf(n) : ''));
      } else if (t === 'optional_parameter' || t === 'keyword_parameter') {
        const param = {name: ctx.textOf(field(p, 'name')) + (t === 'keyword_parameter' ? ':' : '')};
        const v = field(p, 'value');
        if (v) param.default = ctx.textOf(v);
        parameters.push(param);
      } else parameters.push(ctx.textOf(p));
    }
    const fn = {name, parameters, signature: params ? ctx.textOf(params) : '()', kind: 'method'};
    const singleton = node.type === 'singleton_method' || ctx.inSingletonClass(node.startIndex);
    if (singleton) fn.attrs = {'x-singleton': true};
    if (!ctx.currentClass() && !singleton) fn.kind = 'function';
    return fn;
  },

  call(node, ctx, fn) {
    const method = field(node, 'method');
    if (!method) return null;
    const name = ctx.text_(method);
    /* a receiver stands before the method: x.y, A::b, x&.y */
    const receiver = ctx.lang.startOf(method) > ctx.lang.startOf(node);
    if (!receiver && REQUIRES.has(name)) this.require(node, ctx, name);
    if (!receiver && !fn && MIXINS.has(name)) {
      const cls = ctx.currentClass();
      if (cls) for (const a of named(field(node, 'arguments'))) cls.cls.bases.push(ctx.textOf(a));
    }
    return clean(receiver ? ctx.text.substring(ctx.lang.startOf(node), method.endIndex) : name);
  },

  require(node, ctx, how) {
    const written = stringArg(node, ctx, how === 'autoload' ? 1 : 0);
    if (!written) return;
    const dep = {kind: how, line: ctx.lineOfNode(node)};
    if (how === 'require_relative') {
      const p = join(dirOf(ctx.relative), written.endsWith('.rb') ? written : written + '.rb');
      dep.target = p !== null ? p : written;
    } else if (how === 'load') {
      dep.target = written;
    } else {
      dep.target = written.replace(/\.rb$/, '');
    }
    if (how === 'autoload') {
      const sym = named(field(node, 'arguments'))[0];
      if (sym) dep.names = [ctx.textOf(sym).replace(/^:/, '')];
    }
    ctx.addDependency(dep);
  },

  begin(ctx) {
    /* the spans of class << self blocks, found from their captures */
    ctx.singletons = [];
    ctx.inSingletonClass = (offset) => ctx.singletons.some(([s, e]) => s <= offset && offset < e);
  },

  module(ctx) {
    const rel = ctx.relative.replace(/\.(rb|rake|gemspec)$/, '');
    const parts = rel.split('/');
    const lib = parts.lastIndexOf('lib', parts.length - 2);
    return lib >= 0 ? parts.slice(lib + 1).join('/') : rel;
  },
};

function clean(t) {
  return t.indexOf('\0') < 0 ? t : t.replace(/\0/g, '\\u0000');
}

module.exports = ruby;
