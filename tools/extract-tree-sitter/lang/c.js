/*
 * lang/c.js: C and C++.
 *
 * Module: the file's path (a C file is included by its path).
 * '#include "x.h"' depends on the file it names, looked for as a compiler
 * with the usual -I flags would: beside the including file, then in each
 * directory above it and in the include/ directory beside each;
 * '#include <x.h>' the same without the file's own directory.  An include
 * found nowhere in the tree (the system's, a library's) keeps its name as
 * written.
 * C: no classes; structs, unions and enums with a body are listed under
 * x-types.  Functions: definitions only (prototypes are not functions:
 * the definition is, wherever it is).
 * C++: classes, structs and unions with a body are classes (their base
 * classes as bases, the namespace as namespace, abstract when a method is
 * pure virtual); functions are definitions, in a class or out of it
 * (A::f is A.f, its scope in x-scope), and pure virtual methods.
 */
'use strict';
const {named, field, findIncluded} = require('./util');

const COMMON = `
(preproc_include) @import
(function_definition) @function
(call_expression function: (_) @callee)
(if_statement) @branch
(for_statement) @branch
(while_statement) @branch
(do_statement) @branch
(conditional_expression) @branch
(case_statement) @case
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(ERROR) @error
(MISSING) @missing
`;

const C_QUERY = COMMON + `
(struct_specifier body: (_)) @class
(union_specifier body: (_)) @class
(enum_specifier body: (_)) @class
`;

const CPP_QUERY = COMMON + `
(namespace_definition) @namespace
(class_specifier body: (_)) @class
(struct_specifier body: (_)) @class
(union_specifier body: (_)) @class
(field_declaration declarator: (function_declarator) default_value: (number_literal)) @function
(new_expression) @call
(for_range_loop) @branch
(catch_clause) @branch
`;

const NAMES = new Set(['identifier', 'field_identifier', 'qualified_identifier', 'destructor_name',
  'operator_name', 'template_function', 'type_identifier', 'operator_cast']);

/*
 * The function declarator of a definition (the innermost one, so that
 * int (*f(void))(int) is f), with what lies between: pointer levels of the
 * return type.
 */
function functionDeclarator(decl) {
  let fd = null, stars = '';
  let node = decl;
  for (let guard = 0; node && guard < 32; guard++) {
    const t = node.type;
    if (t === 'function_declarator') fd = node;
    else if (t === 'pointer_declarator' && !fd) stars += '*';
    else if (t === 'reference_declarator' && !fd) stars += '&';
    else if (t === 'operator_cast') return {fd: node, stars};
    if (NAMES.has(t)) break;
    const next = field(node, 'declarator');
    node = next || named(node).find((c) => c.type !== 'type_qualifier' && c.type !== 'attribute_specifier' &&
                                           c.type !== 'ms_call_modifier' && c.type !== 'parameter_list');
  }
  return {fd, stars};
}

/* The innermost name of a declarator (a parameter's, a function's). */
function declaredName(decl) {
  let node = decl;
  for (let guard = 0; node && guard < 32; guard++) {
    if (NAMES.has(node.type)) return node;
    const next = field(node, 'declarator');
    node = next || named(node).find((c) => c.type !== 'type_qualifier' && c.type !== 'parameter_list');
  }
  return null;
}

function parameters(list, ctx) {
  const out = [];
  for (const p of named(list)) {
    const pt = p.type;
    if (pt === 'variadic_parameter') { out.push('...'); continue; }
    if (!pt.endsWith('parameter_declaration')) continue;
    const decl = field(p, 'declarator');
    const nameNode = decl ? declaredName(decl) : null;
    const def = field(p, 'default_value');
    const start = ctx.lang.startOf(p);
    const end = def ? ctx.lang.startOf(def) : p.endIndex;
    let typeText;
    if (nameNode) {
      typeText = ctx.text.substring(start, ctx.lang.startOf(nameNode)) +
        ctx.text.substring(nameNode.endIndex, end);
    } else typeText = ctx.text.substring(start, end);
    typeText = typeText.replace(/=\s*$/, '').replace(/\s+/g, ' ').trim();
    const param = {name: nameNode ? ctx.textOf(nameNode) : '', type: clean(typeText)};
    if (def) param.default = ctx.textOf(def);
    if (pt === 'variadic_parameter_declaration' && !param.type.endsWith('...')) param.type += '...';
    out.push(param);
  }
  /* f(void) takes no parameters */
  if (out.length === 1 && out[0].name === '' && out[0].type === 'void') return [];
  return out;
}

/* A::B<T>::f into ["A::B", "f"]: the last :: outside template arguments */
function splitScope(text) {
  let depth = 0, last = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '<') depth++;
    else if (ch === '>' && depth > 0) depth--;
    else if (depth === 0 && ch === ':' && text[i + 1] === ':') {
      if (/operator$/.test(text.slice(0, i))) break;
      last = i;
      i++;
    }
  }
  if (last < 0) return [null, text];
  let scope = '';
  depth = 0;
  for (const ch of text.slice(0, last)) {       /* without template arguments */
    if (ch === '<') depth++;
    else if (ch === '>' && depth > 0) depth--;
    else if (depth === 0) scope += ch;
  }
  return [scope.replace(/^::/, '') || null, text.slice(last + 2)];
}

function clean(t) {
  return t.indexOf('\0') < 0 ? t : t.replace(/\0/g, '\\u0000');
}

function functionOf(node, ctx, cpp) {
  /* f() = default; and = delete; declare, they define no code */
  const isDefinition = node.type === 'function_definition';
  if (isDefinition && !field(node, 'body')) {
    const last = node.lastNamedChild;
    if (last && (last.type === 'default_method_clause' || last.type === 'delete_method_clause')) return null;
  }
  const {fd, stars} = functionDeclarator(field(node, 'declarator'));
  if (!fd) return null;
  let nameNode, params;
  if (fd.type === 'operator_cast') {
    const inner = field(fd, 'declarator');
    params = inner ? field(inner, 'parameters') : null;
    nameNode = fd;
  } else {
    nameNode = field(fd, 'declarator');
    params = field(fd, 'parameters');
    /* (f)(x): the name in parentheses */
    while (nameNode && nameNode.type === 'parenthesized_declarator') nameNode = named(nameNode)[0];
  }
  if (!nameNode) return null;
  let name, scope = null;
  const nt = nameNode.type;
  const raw = ctx.text_(nameNode);
  if (/\w\s+\w/.test(raw) && !/\boperator\b/.test(raw)) {
    /* "std::string Conv": a macro before the type made the type part of
     * the name; the name is the last word */
    name = raw.replace(/^[\s\S]*?(~?\w+)\s*$/, '$1');
  } else if (nt === 'qualified_identifier') {
    [scope, name] = splitScope(raw.replace(/\s+/g, ''));
  } else if (nt === 'operator_cast') {
    name = 'operator ' + ctx.text_(field(nameNode, 'type')).trim();
  } else if (nt === 'template_function') {
    name = ctx.text_(field(nameNode, 'name'));
  } else name = ctx.text_(nameNode).replace(/\s+/g, '');
  if (!name || !/^[~\w]|^operator/.test(name)) return null;
  const type = field(node, 'type');
  const fn = {
    name: clean(name), parameters: parameters(params, ctx),
    signature: params ? ctx.textOf(params) : null,
    return_type: type ? clean(ctx.text_(type) + (stars ? ' ' + stars : '')) : null,
    kind: 'function',
  };
  if (cpp) {
    const cls = ctx.currentClass();
    if (scope) {
      const simple = scope.replace(/^.*::/, '');
      fn.qualified_name = clean(scope.replace(/::/g, '.') + '.' + name);
      fn.kind = name === simple ? 'constructor' : name === '~' + simple ? 'destructor' : 'method';
      fn.attrs = {'x-scope': clean(scope)};
    } else if (cls) {
      fn.kind = name === cls.cls.name ? 'constructor' : name === '~' + cls.cls.name ? 'destructor' : 'method';
    }
    if (!isDefinition) fn.attrs = Object.assign(fn.attrs || {}, {'x-abstract': true});
  }
  return fn;
}

function includes(node, ctx) {
  const p = field(node, 'path');
  if (!p) return;
  const quoted = p.type === 'string_literal';
  if (!quoted && p.type !== 'system_lib_string') return;     /* #include MACRO */
  const written = ctx.text_(p).slice(1, -1);
  const found = findIncluded(ctx, written, quoted);
  ctx.addDependency({target: clean(found || written), kind: quoted ? 'include' : 'include-system',
                     line: ctx.lineOfNode(node)});
}

/* a struct's name, or the typedef's for typedef struct { } T */
function typeNameOf(node, ctx) {
  const n = field(node, 'name');
  if (n) return ctx.text_(n);
  const parent = node.parent;
  if (parent && parent.type === 'type_definition') {
    const d = field(parent, 'declarator');
    if (d) return ctx.text_(d);
  }
  return null;
}

/*
 * What a preprocessor would do, where tree-sitter cannot: blank out (with
 * spaces, so that every offset stays) the macros that real headers put
 * where the grammar expects a name, and that would otherwise turn a whole
 * class into an ERROR: export macros (class GTEST_API_ Foo {, FOO_EXPORT
 * int f();) and annotations after a parameter list (void f()
 * GTEST_LOCK_EXCLUDED_(mu) {).  Only all-capital names in those places;
 * the documents keep the original text.
 */
const CLASS_MACRO = /\b(class|struct|union)(\s+)([A-Z][A-Z0-9_]{2,})(?=\s+[A-Za-z_]\w*\s*(final\s*)?[:{])/g;
const EXPORT_MACRO = /^([ \t]*)([A-Z][A-Z0-9_]*_(API|EXPORT|EXPORTS|DLL|PUBLIC)_?)(?=[ \t]+[A-Za-z_])/gm;
const TRAILING_MACRO = /(\)\s*(const\s*)?(noexcept\s*)?(override\s*)?)([A-Z][A-Z0-9_]{3,}[ \t]*\([^()\n]*\))(?=\s*[{;])/g;

function blank(s) {
  return s.replace(/[^\n]/g, ' ');
}

function preprocess(text) {
  if (!/[A-Z]{3}/.test(text)) return text;
  return text
    .replace(CLASS_MACRO, (m, kw, sp, macro) => kw + sp + blank(macro))
    .replace(EXPORT_MACRO, (m, indent, macro) => indent + blank(macro))
    .replace(TRAILING_MACRO, (m, head, c1, c2, c3, macro) => head + blank(macro));
}

const TYPE_KINDS = {struct_specifier: 'struct', union_specifier: 'union', enum_specifier: 'enum',
                    class_specifier: 'class'};

const c = {
  name: 'c',
  grammar: 'tree-sitter-c',
  extensions: ['.c', '.h'],
  namespaceSeparator: '::',
  query: C_QUERY,
  sample: '/* é */ int f(void) { return g("€"); }\n',

  imports: includes,
  preprocess,

  cls(node, ctx) {
    const name = typeNameOf(node, ctx);
    if (name) {
      const types = ctx.fileAttrs['x-types'] || (ctx.fileAttrs['x-types'] = []);
      const end = node.endIndex;
      types.push({name: clean(name), kind: TYPE_KINDS[node.type], line_start: ctx.lineOfNode(node),
                  line_end: ctx.line(Math.max(node.startIndex, end - 1))});
    }
    return null;
  },

  fn(node, ctx) { return functionOf(node, ctx, false); },

  call(node, ctx) { return ctx.textOf(field(node, 'function')); },

  isCase(node) { return !!field(node, 'value'); },

  module(ctx) { return ctx.relative; },
};

const cpp = Object.assign({}, c, {
  name: 'c++',
  grammar: 'tree-sitter-cpp',
  extensions: ['.cc', '.cpp', '.cxx', '.hpp', '.hh', '.hxx'],
  query: CPP_QUERY,

  namespace(node, ctx) {
    const n = field(node, 'name');
    return n ? ctx.text_(n).replace(/\s+/g, '') : null;
  },

  cls(node, ctx) {
    const name = typeNameOf(node, ctx);
    if (!name) return null;
    const bases = [];
    for (const ch of named(node)) {
      if (ch.type !== 'base_class_clause') continue;
      for (const b of named(ch)) if (b.type !== 'access_specifier') bases.push(ctx.text_(b).replace(/\s+/g, ' '));
    }
    const cls = {name: name.replace(/\s+/g, ''), kind: TYPE_KINDS[node.type], bases};
    const m = /^([^<]+)(<[\s\S]*>)$/.exec(cls.name);
    if (m) {                              /* a specialization: Foo<T*> is Foo */
      cls.name = m[1];
      cls.attrs = {'x-template-arguments': m[2]};
    }
    return cls;
  },

  fn(node, ctx) { return functionOf(node, ctx, true); },

  call(node, ctx) {
    if (node.type === 'new_expression') return ctx.textOf(field(node, 'type'));
    return ctx.textOf(field(node, 'function'));
  },

  end(ctx) {
    /* a class with a pure virtual method is abstract */
    const abstract = new Set(ctx.functions.filter((f) => f['x-abstract'] && f.class).map((f) => f.class));
    for (const cls of ctx.classes) if (abstract.has(cls.qualified_name)) cls.is_abstract = true;
  },
});

module.exports = {c, cpp};
