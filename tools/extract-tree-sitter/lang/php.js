/*
 * lang/php.js: PHP.
 *
 * Module: the fully qualified name of the class (interface, trait, enum)
 * the file is named after, as PSR-4 autoloading finds it
 * (Symfony\Component\Console\Application for .../Console/Application.php);
 * else of the file's only class; a file of functions has none.
 * "use A\B\C;" depends on A\B\C, the class, and so resolves to its file
 * ("use function" and "use const" name functions and constants, kept as
 * written); require and include of __DIR__ . '/x.php' or dirname(__FILE__)
 * . '/x.php' depend on that path; of a plain 'x.php', on the file found
 * beside the including one or above it (include_path), else as written.
 * Classes: classes, interfaces, traits and enums (extends, implements and
 * the traits a class uses, as bases).  Functions: functions and methods
 * (abstract ones without a body).
 */
'use strict';
const {posix, named, field, dirOf, join, findIncluded, unquote} = require('./util');

const QUERY = `
(namespace_definition) @namespace
(namespace_use_declaration) @import
(include_expression) @import
(include_once_expression) @import
(require_expression) @import
(require_once_expression) @import
(class_declaration) @class
(interface_declaration) @class
(trait_declaration) @class
(enum_declaration) @class
(function_definition) @function
(method_declaration) @function
(function_call_expression function: (_) @callee)
(member_call_expression) @call
(nullsafe_member_call_expression) @call
(scoped_call_expression) @call
(object_creation_expression) @call
(if_statement) @branch
(else_if_clause) @branch
(for_statement) @branch
(foreach_statement) @branch
(while_statement) @branch
(do_statement) @branch
(case_statement) @branch
(catch_clause) @branch
(conditional_expression) @branch
(match_conditional_expression) @branch
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(binary_expression operator: "and") @logical
(binary_expression operator: "or") @logical
(binary_expression operator: "??") @logical
(ERROR) @error
(MISSING) @missing
`;

const KINDS = {class_declaration: 'class', interface_declaration: 'interface',
               trait_declaration: 'trait', enum_declaration: 'enum'};

/* use A\B, C\{D, E\F as G}; as [{name: 'A\\B', alias}] */
function useItems(text) {
  const m = /^use\s+(function\s+|const\s+)?([\s\S]*?);?\s*$/.exec(text.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\/|#[^\n]*/g, ''));
  if (!m) return {kind: 'use', items: []};
  const kind = m[1] ? 'use-' + m[1].trim() : 'use';
  const body = m[2].replace(/\s+/g, ' ');
  const items = [];
  const group = /^(.*?)\\?\s*\{(.*)\}\s*$/.exec(body);
  const prefix = group ? group[1].trim().replace(/\\$/, '') : '';
  for (const raw of (group ? group[2] : body).split(',')) {
    const it = /^\s*(?:function\s+|const\s+)?(\\?[\w\\]+)(?:\s+as\s+(\w+))?\s*$/.exec(raw);
    if (!it) continue;
    const name = (prefix ? prefix + '\\' : '') + it[1];
    items.push({name: name.replace(/^\\/, ''), alias: it[2] || null});
  }
  return {kind, items};
}

/* The path a require or include names, and whether it is beside the file. */
function includedPath(arg, ctx) {
  const text = ctx.text_(arg).trim();
  let m = /^(?:__DIR__|dirname\s*\(\s*__FILE__\s*\))\s*\.\s*(['"])([^'"$]*)\1$/.exec(text);
  if (m) return {path: m[2].replace(/^\/?/, ''), beside: true};
  m = /^(['"])([^'"$]*)\1$/.exec(text);
  if (m) return {path: m[2], beside: false};
  return null;
}

function attributes(node, ctx) {
  const out = [];
  const list = field(node, 'attributes');
  for (const g of named(list)) for (const a of named(g)) if (a.type === 'attribute') out.push(ctx.textOf(a));
  return out;
}

const php = {
  name: 'php',
  grammar: 'tree-sitter-php',
  subgrammar: 'php',
  extensions: ['.php'],
  namespaceSeparator: '\\',
  query: QUERY,
  sample: '<?php\n// é\nfunction f() { g(\"€\"); }\n',
  commentLine: String.raw`//|#(?!\[)|/\*|\*(?:[ \t/]|$)`,

  namespace(node, ctx) {
    const n = field(node, 'name');
    const name = n ? ctx.text_(n).replace(/\s+/g, '') : null;
    if (field(node, 'body')) return name;
    ctx.package = name;                       /* namespace A\B; for the rest of the file */
    return null;
  },

  imports(node, ctx) {
    const line = ctx.lineOfNode(node);
    if (node.type === 'namespace_use_declaration') {
      const {kind, items} = useItems(ctx.text_(node));
      for (const it of items) {
        const dep = {target: it.name, kind, line, names: [it.name.replace(/^.*\\/, '')]};
        if (it.alias) dep['x-alias'] = it.alias;
        ctx.addDependency(dep);
      }
      return;
    }
    const arg = named(node)[0];
    if (!arg) return;
    const inc = includedPath(arg, ctx);
    const kind = node.type.replace(/_expression$/, '').replace(/_/g, '-');
    if (!inc) return;
    let target;
    if (inc.beside) target = join(dirOf(ctx.relative), inc.path);
    else target = findIncluded(ctx, inc.path, true);
    ctx.addDependency({target: target || inc.path, kind, line});
  },

  cls(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const kind = KINDS[node.type];
    const bases = [];
    let abstract = kind === 'interface' || kind === 'trait';
    for (const c of named(node)) {
      if (c.type === 'base_clause' || c.type === 'class_interface_clause') {
        for (const b of named(c)) bases.push(ctx.textOf(b));
      } else if (c.type === 'abstract_modifier') abstract = true;
    }
    const body = field(node, 'body');
    for (const m of named(body)) {
      if (m.type === 'use_declaration') for (const t of named(m)) {
        if (t.type === 'name' || t.type === 'qualified_name') bases.push(ctx.textOf(t));
      }
    }
    ctx.phpTypes.push({name, namespace: ctx.namespace()});
    return {name, kind, bases, is_abstract: abstract, decorators: attributes(node, ctx)};
  },

  fn(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const params = field(node, 'parameters');
    const parameters = [];
    for (const p of named(params)) {
      const n = field(p, 'name');
      const param = {name: (p.type === 'variadic_parameter' ? '...' : '') + (n ? ctx.textOf(n) : '')};
      const t = field(p, 'type');
      if (t) param.type = ctx.textOf(t);
      const d = field(p, 'default_value');
      if (d) param.default = ctx.textOf(d);
      parameters.push(!t && !d ? param.name : param);
    }
    const fn = {
      name, parameters, signature: ctx.textOf(params),
      return_type: ctx.textOf(field(node, 'return_type')),
      decorators: attributes(node, ctx),
      kind: node.type === 'method_declaration' ? (name === '__construct' ? 'constructor' : 'method') : 'function',
    };
    if (node.type === 'method_declaration' && !field(node, 'body')) fn.attrs = {'x-abstract': true};
    return fn;
  },

  call(node, ctx) {
    switch (node.type) {
      case 'function_call_expression':
        return ctx.textOf(field(node, 'function'));
      case 'member_call_expression':
      case 'nullsafe_member_call_expression':
      case 'scoped_call_expression': {
        const n = field(node, 'name');
        return n ? ctx.textOf(n) && clean(ctx.text.substring(node.startIndex, n.endIndex)) : null;
      }
      default: {
        const c = named(node).find((k) => k.type === 'name' || k.type === 'qualified_name' ||
                                          k.type === 'variable_name');
        return c ? ctx.textOf(c) : null;
      }
    }
  },

  begin(ctx) { ctx.phpTypes = []; },

  module(ctx) {
    const base = posix.basename(ctx.relative, '.php');
    const own = ctx.phpTypes.find((t) => t.name === base) ||
      (ctx.phpTypes.length === 1 ? ctx.phpTypes[0] : null);
    if (!own) return null;
    return own.namespace ? own.namespace + '\\' + own.name : own.name;
  },
};

function clean(t) {
  return t.indexOf('\0') < 0 ? t : t.replace(/\0/g, '\\u0000');
}

module.exports = php;
module.exports.useItems = useItems;
