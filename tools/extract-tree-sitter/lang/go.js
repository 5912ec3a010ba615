/*
 * lang/go.js: Go.
 *
 * Module: the package's import path, what other files import it by: the
 * module path of the nearest go.mod above the file plus the directory
 * below it; without a go.mod, the directory (GOPATH layout: what follows
 * src/ or vendor/).  Every file of a package has the same module, so an
 * import resolves to one file of the package (astpg takes the lowest
 * file_id).  _test.go files are not importable and have none.
 * Classes: named types (struct, interface, other), embedded types as
 * bases.  Functions: functions, methods (Type.method, the receiver in
 * x-receiver) and the methods an interface declares (abstract).
 */
'use strict';
const {posix, named, field, fields, dirOf} = require('./util');

const QUERY = `
(package_clause (package_identifier) @package)
(import_spec) @import
(function_declaration) @function
(method_declaration) @function
(method_elem) @function
(type_spec) @class
(call_expression function: (_) @callee)
(if_statement) @branch
(for_statement) @branch
(expression_case) @branch
(type_case) @branch
(communication_case) @branch
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(ERROR) @error
(MISSING) @missing
`;

function parameters(list, ctx) {
  const out = [];
  for (const p of named(list)) {
    const t = p.type;
    if (t !== 'parameter_declaration' && t !== 'variadic_parameter_declaration') continue;
    let type = ctx.textOf(field(p, 'type'));
    if (t === 'variadic_parameter_declaration') type = '...' + type;
    const names = fields(p, 'name');
    if (!names.length) out.push({name: '', type});
    for (const n of names) out.push({name: ctx.textOf(n), type});
  }
  return out;
}

/* the type a receiver names: *T[K] is T */
function receiverType(text) {
  return text.replace(/^\*\s*/, '').replace(/\[.*$/s, '').trim();
}

const go = {
  name: 'go',
  grammar: 'tree-sitter-go',
  extensions: ['.go'],
  namespaceSeparator: '/',
  query: QUERY,
  sample: 'package p\n// é\nfunc f() { g(\"€\") }\n',

  package(node, ctx) {
    ctx.package = ctx.textOf(node);
    ctx.fileAttrs['x-package'] = ctx.package;
  },

  imports(node, ctx) {
    const p = field(node, 'path');
    if (!p) return;
    const target = ctx.textOf(p).replace(/^["`]|["`]$/g, '');
    const dep = {target, kind: 'import', line: ctx.lineOfNode(node)};
    const alias = field(node, 'name');
    if (alias) dep['x-alias'] = ctx.textOf(alias);
    ctx.addDependency(dep);
  },

  fn(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const params = field(node, 'parameters');
    const result = field(node, 'result');
    const fn = {
      name, parameters: parameters(params, ctx),
      signature: ctx.textOf(params),
      return_type: result ? ctx.textOf(result) : null,
      kind: 'function',
    };
    if (node.type === 'method_declaration') {
      const recv = field(node, 'receiver');
      const decl = named(recv)[0];
      const rtype = decl ? ctx.textOf(field(decl, 'type')) : '';
      const type = receiverType(rtype);
      fn.kind = 'method';
      if (type) fn.qualified_name = type + '.' + name;
      fn.attrs = {'x-receiver': rtype};
    } else if (node.type === 'method_elem') {
      fn.kind = 'method';
      fn.attrs = {'x-abstract': true};
    }
    return fn;
  },

  cls(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    const type = field(node, 'type');
    if (!name || !type) return null;
    const cls = {name, bases: [], kind: 'type'};
    if (type.type === 'struct_type') {
      cls.kind = 'struct';
      const list = named(type).find((c) => c.type === 'field_declaration_list');
      for (const f of named(list)) {
        if (f.type === 'field_declaration' && !field(f, 'name')) {
          cls.bases.push(ctx.textOf(field(f, 'type')).replace(/^\*\s*/, ''));
        }
      }
    } else if (type.type === 'interface_type') {
      cls.kind = 'interface';
      cls.is_abstract = true;
      for (const e of named(type)) {
        if (e.type === 'type_elem') cls.bases.push(ctx.textOf(e));
      }
    }
    return cls;
  },

  call(node, ctx) {
    return ctx.textOf(field(node, 'function'));
  },

  module(ctx) {
    if (ctx.relative.endsWith('_test.go')) return null;
    return importPath(ctx, dirOf(ctx.relative)) || ctx.package;
  },
};

/* The import path of a directory of the repository. */
function importPath(ctx, dir) {
  const cache = ctx.env.cache('go-import-path');
  if (cache.has(dir)) return cache.get(dir);
  let result = null;
  const mod = ctx.env.readText(dir ? dir + '/go.mod' : 'go.mod');
  const m = mod && /^\s*module\s+"?([^\s"]+)"?/m.exec(mod);
  if (m) result = m[1];
  else if (dir) {
    const parent = importPath(ctx, dirOf(dir));
    const base = posix.basename(dir);
    if (parent !== null && parent !== '') result = parent + '/' + base;
    else {
      /* no go.mod above: GOPATH's src/ or a vendor/ directory is the root */
      const parts = dir.split('/');
      const v = parts.lastIndexOf('vendor');
      const s = parts.indexOf('src');
      const from = v >= 0 ? v + 1 : s >= 0 ? s + 1 : 0;
      result = parts.slice(from).join('/') || null;
    }
  } else result = '';
  cache.set(dir, result);
  return result;
}

module.exports = go;
