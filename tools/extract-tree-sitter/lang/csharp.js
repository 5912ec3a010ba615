/*
 * lang/csharp.js: C#.
 *
 * Module: the file's namespace (the first it declares; all of them in
 * x-namespaces when there are several).  A namespace spans many files, as
 * a Go package does: "using A.B;" depends on namespace A.B and resolves to
 * one file declaring it (astpg takes the lowest file_id); "using static
 * A.B.C;" depends on the namespace of type C, A.B; "using X = A.B;" on A.B.
 * Classes: classes, structs, interfaces, enums and records (the base list
 * as bases).  Functions: methods (an interface's without a body are
 * abstract), constructors, destructors, operators, local functions, and
 * property and event accessors with a body (get_P, set_P, as the compiler
 * names them).
 */
'use strict';
const {named, field} = require('./util');

const QUERY = `
(file_scoped_namespace_declaration) @package
(namespace_declaration) @namespace
(using_directive) @import
(class_declaration) @class
(struct_declaration) @class
(interface_declaration) @class
(enum_declaration) @class
(record_declaration) @class
(method_declaration) @function
(constructor_declaration) @function
(destructor_declaration) @function
(operator_declaration) @function
(conversion_operator_declaration) @function
(local_function_statement) @function
(accessor_declaration body: (_)) @function
(property_declaration value: (arrow_expression_clause)) @function
(invocation_expression function: (_) @callee)
(object_creation_expression) @call
(if_statement) @branch
(for_statement) @branch
(foreach_statement) @branch
(while_statement) @branch
(do_statement) @branch
(catch_clause) @branch
(conditional_expression) @branch
(switch_section) @case
(switch_expression_arm) @case
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(binary_expression operator: "??") @logical
(ERROR) @error
(MISSING) @missing
`;

const KINDS = {
  class_declaration: 'class', struct_declaration: 'struct', interface_declaration: 'interface',
  enum_declaration: 'enum', record_declaration: 'record',
};

function modifiers(node, ctx) {
  const mods = [];
  const attrs = [];
  for (const c of named(node)) {
    if (c.type === 'modifier') mods.push(ctx.text_(c));
    else if (c.type === 'attribute_list') for (const a of named(c)) if (a.type === 'attribute') attrs.push(ctx.textOf(a));
  }
  return {mods, attrs};
}

function parameters(list, ctx) {
  const out = [];
  for (const p of named(list)) {
    if (p.type !== 'parameter') continue;
    const name = field(p, 'name');
    const type = field(p, 'type');
    const param = {name: ctx.textOf(name), type: type ? ctx.textOf(type) : null};
    const def = name && named(p).find((c) => c.startIndex > name.endIndex);
    if (def) param.default = ctx.textOf(def);
    out.push(param);
  }
  /* "params T[] xs" stands in the list itself */
  const rest = field(list, 'name');
  if (rest) out.push({name: ctx.textOf(rest), type: 'params ' + ctx.textOf(field(list, 'type'))});
  return out;
}

function addNamespace(ctx, name) {
  const all = ctx.fileAttrs['x-namespaces'] || (ctx.fileAttrs['x-namespaces'] = []);
  if (!all.includes(name)) all.push(name);
}

const csharp = {
  name: 'c#',
  grammar: 'tree-sitter-c-sharp',
  extensions: ['.cs'],
  namespaceSeparator: '.',
  query: QUERY,
  sample: 'class A { /* é */ void M() { G(\"€\"); } }\n',

  package(node, ctx) {
    ctx.package = ctx.textOf(field(node, 'name')).replace(/\s+/g, '');
    addNamespace(ctx, ctx.package);
  },

  namespace(node, ctx) {
    const name = ctx.textOf(field(node, 'name')).replace(/\s+/g, '');
    const full = ctx.namespace() ? ctx.namespace() + '.' + name : name;
    addNamespace(ctx, full);
    return name;
  },

  imports(node, ctx) {
    const m = /^(global\s+)?using\s+(static\s+)?(?:(\w+)\s*=\s*)?([\w.:<>,\s]+?)\s*;/.exec(ctx.text_(node));
    if (!m) return;
    let target = m[4].replace(/\s+/g, '').replace(/^global::/, '');
    const dep = {kind: m[2] ? 'using-static' : 'using', line: ctx.lineOfNode(node)};
    if (m[2]) {
      const parts = target.replace(/<.*$/, '').split('.');
      dep.names = [parts.pop()];
      target = parts.join('.') || target;
    }
    if (m[3]) dep['x-alias'] = m[3];
    dep.target = target;
    ctx.addDependency(dep);
  },

  cls(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const kind = KINDS[node.type];
    const bases = [];
    const {mods, attrs} = modifiers(node, ctx);
    for (const c of named(node)) {
      if (c.type !== 'base_list') continue;
      for (const b of named(c)) {
        if (b.type === 'argument_list') continue;
        bases.push(ctx.textOf(b.type === 'primary_constructor_base_type' ? field(b, 'type') || b : b));
      }
    }
    return {name, kind, bases, decorators: attrs,
            is_abstract: kind === 'interface' || mods.includes('abstract')};
  },

  fn(node, ctx) {
    const t = node.type;
    let name, params = null, returns = null, kind = 'method';
    const {mods, attrs} = modifiers(node, ctx);
    if (t === 'accessor_declaration' || t === 'property_declaration') {
      /* get_P / set_P: the accessor and the property (or event, indexer) */
      let accessor = 'get', owner = node;
      if (t === 'accessor_declaration') {
        accessor = ctx.text_(field(node, 'name') || node).replace(/\s.*$/s, '');
        owner = node.parent && node.parent.parent;
      }
      const ownerName = owner && (owner.type === 'indexer_declaration' ? 'Item' : ctx.textOf(field(owner, 'name')));
      if (!ownerName) return null;
      name = accessor + '_' + ownerName;
      kind = 'accessor';
      if (owner && owner.type === 'property_declaration' && accessor === 'get') returns = ctx.textOf(field(owner, 'type'));
    } else if (t === 'operator_declaration') {
      name = 'operator ' + ctx.text_(field(node, 'operator') || node).trim();
      params = field(node, 'parameters');
      returns = ctx.textOf(field(node, 'type'));
      kind = 'operator';
    } else if (t === 'conversion_operator_declaration') {
      name = 'operator ' + ctx.text_(field(node, 'type')).trim();
      params = field(node, 'parameters');
      kind = 'operator';
    } else {
      name = ctx.textOf(field(node, 'name'));
      params = field(node, 'parameters');
      returns = ctx.textOf(field(node, 'returns') || field(node, 'type'));
      if (t === 'constructor_declaration') { kind = 'constructor'; returns = null; }
      if (t === 'destructor_declaration') { kind = 'destructor'; name = '~' + name; returns = null; }
      if (t === 'local_function_statement') kind = 'function';
    }
    if (!name) return null;
    const fn = {
      name, parameters: params ? parameters(params, ctx) : [],
      signature: params ? ctx.textOf(params) : null,
      return_type: returns, decorators: attrs, kind,
      is_async: mods.includes('async'),
    };
    if (t === 'method_declaration' && !field(node, 'body') && !mods.includes('extern') &&
        !mods.includes('partial')) {
      fn.attrs = {'x-abstract': true};
    }
    return fn;
  },

  call(node, ctx) {
    if (node.type === 'object_creation_expression') return ctx.textOf(field(node, 'type'));
    return ctx.textOf(field(node, 'function'));
  },

  isCase(node, ctx) {
    if (node.type === 'switch_section') return !ctx.text.startsWith('default', node.startIndex);
    return !/^_\s*(=>|when\b)/.test(ctx.text.substr(node.startIndex, 16));
  },

  module(ctx) {
    const all = ctx.fileAttrs['x-namespaces'];
    if (all && all.length === 1) delete ctx.fileAttrs['x-namespaces'];
    return all && all.length ? all[0] : null;
  },
};

module.exports = csharp;
