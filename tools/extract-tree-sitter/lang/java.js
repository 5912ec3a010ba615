/*
 * lang/java.js: Java.
 *
 * Module: the file's top-level class as imported, package + "." + the
 * file's name (Java requires the public class to be named after its file);
 * package-info.java is the package itself.  An import names a class:
 * "import a.b.C;", "import a.b.C.Inner;" and "import static a.b.C.m;" all
 * depend on a.b.C (the name up to its first capitalised part, Java's
 * naming convention, where no part is: up to the last); "import a.b.*;"
 * depends on package a.b, which resolves to its package-info.java when the
 * package has one.  Same-package references need no import and make no
 * dependency.
 * Classes: classes, interfaces, enums, records and annotation types
 * (extends and implements as bases).  Functions: methods (an interface's
 * or abstract class's without a body are abstract), constructors.
 */
'use strict';
const {posix, named, field} = require('./util');

const QUERY = `
(package_declaration) @package
(import_declaration) @import
(class_declaration) @class
(interface_declaration) @class
(enum_declaration) @class
(record_declaration) @class
(annotation_type_declaration) @class
(method_declaration) @function
(constructor_declaration) @function
(compact_constructor_declaration) @function
(method_invocation) @call
(object_creation_expression) @call
(explicit_constructor_invocation) @call
(if_statement) @branch
(for_statement) @branch
(enhanced_for_statement) @branch
(while_statement) @branch
(do_statement) @branch
(catch_clause) @branch
(ternary_expression) @branch
(switch_label) @case
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(ERROR) @error
(MISSING) @missing
`;

const KINDS = {
  class_declaration: 'class', interface_declaration: 'interface', enum_declaration: 'enum',
  record_declaration: 'record', annotation_type_declaration: 'annotation',
};

function modifiersOf(node) {
  for (const c of named(node)) if (c.type === 'modifiers') return c;
  return null;
}

function annotations(mods, ctx) {
  const out = [];
  for (const m of named(mods)) {
    if (m.type === 'annotation' || m.type === 'marker_annotation') out.push(ctx.textOf(m).replace(/^@\s*/, ''));
  }
  return out;
}

/* the class an import names: a.b.C.D and a.b.C.m are a.b.C */
function importedClass(parts) {
  const i = parts.findIndex((p) => /^[A-Z]/.test(p));
  return i >= 0 ? parts.slice(0, i + 1) : parts.slice(0, -1);
}

const java = {
  name: 'java',
  grammar: 'tree-sitter-java',
  extensions: ['.java'],
  namespaceSeparator: '.',
  query: QUERY,
  sample: 'class A { /* é */ void m() { g(\"€\"); } }\n',

  package(node, ctx) {
    const m = /^package\s+([\w.\s]+?)\s*;/.exec(ctx.text_(node).replace(/@\w+(\([^)]*\))?\s*/g, ''));
    if (m) ctx.package = m[1].replace(/\s+/g, '');
  },

  imports(node, ctx) {
    const m = /^import\s+(static\s+)?([\w$.\s]+?)\s*(\.\s*\*)?\s*;/.exec(ctx.text_(node));
    if (!m) return;
    const parts = m[2].replace(/\s+/g, '').split('.');
    const isStatic = !!m[1], wildcard = !!m[3];
    let cls, names;
    if (wildcard) {
      cls = isStatic ? importedClass(parts.concat('*')) : parts;
      names = ['*'];
    } else {
      cls = importedClass(parts);
      names = [parts[parts.length - 1]];
    }
    if (!cls.length) cls = parts;
    ctx.addDependency({target: cls.join('.'), kind: isStatic ? 'import-static' : 'import',
                       line: ctx.lineOfNode(node), names});
  },

  cls(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const kind = KINDS[node.type];
    const bases = [];
    for (const c of named(node)) {
      if (c.type === 'superclass') {
        for (const t of named(c)) bases.push(ctx.textOf(t));
      } else if (c.type === 'super_interfaces' || c.type === 'extends_interfaces') {
        for (const list of named(c)) for (const t of named(list)) bases.push(ctx.textOf(t));
      }
    }
    const mods = modifiersOf(node);
    const modText = mods ? ctx.text_(mods) : '';
    return {
      name, kind, bases,
      is_abstract: kind === 'interface' || kind === 'annotation' || /\babstract\b/.test(modText),
      decorators: mods ? annotations(mods, ctx) : [],
    };
  },

  fn(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const params = field(node, 'parameters');
    const parameters = [];
    for (const p of named(params)) {
      if (p.type === 'formal_parameter') {
        parameters.push({name: ctx.textOf(field(p, 'name')), type: ctx.textOf(field(p, 'type'))});
      } else if (p.type === 'spread_parameter') {
        const kids = named(p).filter((k) => k.type !== 'modifiers');
        const decl = kids.find((k) => k.type === 'variable_declarator');
        const type = kids.find((k) => k !== decl);
        parameters.push({name: decl ? ctx.textOf(field(decl, 'name')) : '',
                         type: (type ? ctx.textOf(type) : '') + '...'});
      } else if (p.type === 'receiver_parameter') {
        parameters.push('this');
      }
    }
    const mods = modifiersOf(node);
    const fn = {
      name, parameters,
      signature: params ? ctx.textOf(params) : null,
      return_type: node.type === 'method_declaration' ? ctx.textOf(field(node, 'type')) : null,
      decorators: mods ? annotations(mods, ctx) : [],
      kind: node.type === 'method_declaration' ? 'method' : 'constructor',
    };
    if (node.type === 'method_declaration' && !field(node, 'body')) fn.attrs = {'x-abstract': true};
    return fn;
  },

  call(node, ctx) {
    const t = node.type;
    if (t === 'method_invocation') {
      /* obj.name as written: from the call's start to its name's end (one
       * field lookup, where the object and the name would take two) */
      const name = field(node, 'name');
      return name ? clean(ctx, ctx.text.substring(ctx.lang.startOf(node), name.endIndex)) : null;
    }
    if (t === 'object_creation_expression') return ctx.textOf(field(node, 'type'));
    const c = field(node, 'constructor');
    return c ? ctx.textOf(c) : null;
  },

  isCase(node) {
    return node.namedChildCount > 0;       /* "default:" has no expression */
  },

  module(ctx) {
    const base = posix.basename(ctx.relative, '.java');
    if (base === 'module-info') return null;
    if (base === 'package-info') return ctx.package;
    return ctx.package ? ctx.package + '.' + base : base;
  },
};

function clean(ctx, text) {
  return text.indexOf('\0') < 0 ? text : text.replace(/\0/g, '\\u0000');
}

module.exports = java;
