/*
 * lang/rust.js: Rust.
 *
 * Module: the module path, crate name first (from the nearest Cargo.toml:
 * [lib] name, else [package] name, - as _): src/lib.rs is "semver",
 * src/parse.rs and src/parse/mod.rs "semver::parse"; src/main.rs is
 * "semver::main", and files outside src/ (tests/, examples/, benches/)
 * are named by their path ("semver::tests::x").  "mod x;" depends on the
 * file of module x (x.rs or x/mod.rs beside the declaring module); a use
 * path depends on the deepest module it names that has a file: crate::,
 * self:: and super:: paths in their crate, a path starting with a child
 * module from the current module, and a path starting with the name of
 * another crate of the tree in that crate.  Other paths (std, crates not in
 * the tree) keep the path as written, less the imported name.
 * Classes: structs, enums, unions and traits (supertraits, and the traits
 * an impl in the same file implements for the type, as bases).
 * Functions: fn items, methods of impl blocks (Type.method, the impl in
 * x-impl) and trait methods, with a body or without (abstract).
 */
'use strict';
const {posix, named, field, dirOf} = require('./util');

const QUERY = `
(mod_item) @namespace
(use_declaration) @import
(extern_crate_declaration) @import
(function_item) @function
(function_signature_item) @function
(struct_item) @class
(enum_item) @class
(union_item) @class
(trait_item) @class
(impl_item) @impl
(call_expression function: (_) @callee)
(macro_invocation) @call
(if_expression) @branch
(while_expression) @branch
(for_expression) @branch
(match_arm) @case
(binary_expression operator: "&&") @logical
(binary_expression operator: "||") @logical
(ERROR) @error
(MISSING) @missing
`;

const KINDS = {struct_item: 'struct', enum_item: 'enum', union_item: 'union', trait_item: 'trait'};

/* "S<T>", "&'a mut S", "crate::a::S<T>" are all S: the type an impl is of */
function typeName(text) {
  return text.replace(/^(&\s*('\w+\s*)?(mut\s+)?)+/, '').replace(/<[\s\S]*$/, '').trim();
}

/* The items a use tree imports: [{segs, name, alias}] for "a::{b::C, d as e}". */
function flattenUse(text) {
  const s = text.replace(/\/\/[^\n]*|\/\*[\s\S]*?\*\//g, '').replace(/\s+/g, ' ')
    .replace(/\s*(::|[{},])\s*/g, '$1').trim();
  const out = [];
  let i = 0;
  function tree(prefix) {
    const start = i;
    while (i < s.length && !'{},'.includes(s[i])) i++;
    let piece = s.slice(start, i);
    if (s[i] === '{') {
      const segs = prefix.concat(piece.split('::').filter(Boolean));
      i++;
      while (i < s.length && s[i] !== '}') {
        tree(segs);
        if (s[i] === ',') i++;
      }
      i++;
      return;
    }
    let alias = null;
    const m = /^(.*?) as ([A-Za-z_]\w*)$/.exec(piece);
    if (m) { piece = m[1]; alias = m[2]; }
    const segs = prefix.concat(piece.split('::').filter((x, k) => x || k === 0));
    if (segs.length && segs.join('')) out.push({segs, alias});
  }
  while (i < s.length) {
    tree([]);
    if (i < s.length) i++;
  }
  return out;
}

/* dir/name, at the top when dir is '' */
function under(dir, name) {
  return dir ? dir + '/' + name : name;
}

function crateName(toml) {
  const section = (name) => {
    const m = new RegExp('^\\[' + name + '\\]\\s*$([\\s\\S]*?)(?=^\\[|$(?![\\s\\S]))', 'm').exec(toml);
    const n = m && /^\s*name\s*=\s*"([^"]+)"/m.exec(m[1]);
    return n ? n[1] : null;
  };
  const name = section('lib') || section('package');
  return name ? name.replace(/-/g, '_') : null;
}

/* The crate a directory belongs to: {dir, name}, from the nearest Cargo.toml. */
function crateOf(env, dir) {
  const cache = env.cache('rust-crate');
  if (cache.has(dir)) return cache.get(dir);
  let result = null;
  const toml = env.readText(dir ? dir + '/Cargo.toml' : 'Cargo.toml');
  const name = toml && crateName(toml);
  if (name) result = {dir, name};
  else if (dir) result = crateOf(env, dirOf(dir));
  cache.set(dir, result);
  return result;
}

/* Every crate of the tree by name: Cargo.toml files down to depth 3. */
function crateIndex(env) {
  const cache = env.cache('rust-crates');
  if (cache.has('')) return cache.get('');
  const index = new Map();
  const queue = [['', 0]];
  while (queue.length) {
    const [dir, depth] = queue.shift();
    const toml = env.readText(dir ? dir + '/Cargo.toml' : 'Cargo.toml');
    const name = toml && crateName(toml);
    if (name && !index.has(name)) index.set(name, dir);
    if (depth >= 3) continue;
    for (const e of env.list(dir)) {
      if (e.isDirectory() && !['src', 'target', '.git', 'node_modules', 'tests', 'benches'].includes(e.name)) {
        queue.push([dir ? dir + '/' + e.name : e.name, depth + 1]);
      }
    }
  }
  cache.set('', index);
  return index;
}

/*
 * A file's place in its crate: name (module name), segs (module path in the
 * crate, [] for the root) and the directory its child modules live in.
 */
function fileModule(env, relative) {
  const crate = crateOf(env, dirOf(relative));
  const rel = crate ? posix.relative(crate.dir || '.', relative) : relative;
  const parts = rel.replace(/\.rs$/, '').split('/');
  const dir = dirOf(relative);
  const stem = parts[parts.length - 1];
  const crateName_ = crate ? crate.name : null;
  let segs, childDir, display;
  if (parts[0] === 'src' && parts.length > 1) {
    segs = parts.slice(1);
    if (segs.length === 1 && (stem === 'lib' || stem === 'main')) {
      childDir = dir;
      display = stem === 'lib' ? [] : ['main'];
      segs = [];
    } else {
      if (stem === 'mod') segs = segs.slice(0, -1);
      childDir = stem === 'mod' ? dir : under(dir, stem);
      if (segs[0] === 'bin') { childDir = dir; }
      display = segs;
    }
  } else {
    /* tests/, examples/, benches/, build.rs: crate roots of their own */
    segs = [];
    childDir = dir;
    display = parts;
  }
  const name = [crateName_ || parts[0]].concat(display).join('::');
  return {crate, segs, childDir, name};
}

/* The module file for segs in a crate: src/a/b.rs or src/a/b/mod.rs. */
function moduleFile(env, crate, segs) {
  const src = (crate.dir ? crate.dir + '/' : '') + 'src';
  if (!segs.length) return env.exists(src + '/lib.rs') ? src + '/lib.rs' : null;
  const base = src + '/' + segs.join('/');
  if (env.exists(base + '.rs')) return base + '.rs';
  if (env.exists(base + '/mod.rs')) return base + '/mod.rs';
  return null;
}

/* The deepest module a path names: its module name, or null if the path
 * does not start in a crate of the tree. */
function resolvePath(ctx, segs) {
  const env = ctx.env;
  const here = ctx.rustModule;
  let crate, base, rest;
  if (segs[0] === 'crate' && here.crate) {
    crate = here.crate; base = []; rest = segs.slice(1);
  } else if ((segs[0] === 'self' || segs[0] === 'super') && here.crate) {
    crate = here.crate; base = here.segs.slice(); rest = segs.slice();
    while (rest.length && (rest[0] === 'self' || rest[0] === 'super')) {
      if (rest.shift() === 'super') base.pop();
    }
  } else {
    const child = here.crate && (env.exists(under(here.childDir, segs[0] + '.rs')) ||
                                 env.exists(under(here.childDir, segs[0] + '/mod.rs')));
    if (child) {
      crate = here.crate; base = here.segs.slice(); rest = segs.slice();
    } else {
      const name = segs[0] === '' ? segs[1] : segs[0];
      const dir = crateIndex(env).get(name);
      if (dir === undefined) return null;
      crate = {dir, name}; base = []; rest = segs.slice(segs[0] === '' ? 2 : 1);
    }
  }
  let found = base.slice();
  const cur = base.slice();
  for (const s of rest) {
    if (s === 'self' || s === '*') break;
    cur.push(s);
    if (moduleFile(env, crate, cur)) found = cur.slice(); else break;
  }
  const file = moduleFile(env, crate, found);
  if (file) return fileModule(env, file).name;
  return [crate.name].concat(found).join('::');
}

function attributesBefore(node, ctx) {
  const out = [];
  for (let p = node.previousNamedSibling; p && p.type === 'attribute_item'; p = p.previousNamedSibling) {
    out.unshift(ctx.text_(p).replace(/^#\s*\[\s*|\s*\]$/g, ''));
  }
  return out;
}

const rust = {
  name: 'rust',
  grammar: 'tree-sitter-rust',
  extensions: ['.rs'],
  namespaceSeparator: '::',
  query: QUERY,
  sample: '// é\nfn f() { g(\"€\"); }\n',

  begin(ctx) {
    ctx.rustModule = fileModule(ctx.env, ctx.relative);
    ctx.package = ctx.rustModule.name;
    ctx.rustImpls = [];
  },

  namespace(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (field(node, 'body')) return name;           /* mod x { ... } */
    /* mod x; : the file of module x */
    const here = ctx.rustModule;
    let target = null;
    for (const p of [under(here.childDir, name + '.rs'), under(here.childDir, name + '/mod.rs')]) {
      if (ctx.env.exists(p)) { target = fileModule(ctx.env, p).name; break; }
    }
    ctx.addDependency({target: target || here.name + '::' + name, kind: 'mod', line: ctx.lineOfNode(node)});
    return null;
  },

  imports(node, ctx) {
    const line = ctx.lineOfNode(node);
    if (node.type === 'extern_crate_declaration') {
      const name = ctx.textOf(field(node, 'name'));
      const dir = crateIndex(ctx.env).get(name);
      ctx.addDependency({target: name, kind: 'extern-crate', line});
      return dir;
    }
    const arg = field(node, 'argument');
    if (!arg) return null;
    const groups = new Map();
    for (const {segs, alias} of flattenUse(ctx.text_(arg))) {
      const last = segs[segs.length - 1];
      let target = resolvePath(ctx, segs);
      if (target === null) {
        target = (segs.length > 1 ? segs.slice(0, -1) : segs).join('::').replace(/^::/, '');
      }
      if (!groups.has(target)) groups.set(target, []);
      groups.get(target).push(last);
    }
    for (const [target, names] of groups) {
      if (target) ctx.addDependency({target, kind: 'use', line, names});
    }
    return null;
  },

  impl(node, ctx) {
    const typeNode = field(node, 'type');
    const traitNode = field(node, 'trait');
    const typeText = ctx.textOf(typeNode) || '';
    const type = typeName(typeText).replace(/^.*::/, '');
    const trait = traitNode ? ctx.textOf(traitNode) : null;
    const impl = {type, text: trait ? trait + ' for ' + typeText : typeText, trait};
    ctx.rustImpls.push(impl);
    return impl;
  },

  cls(node, ctx) {
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const kind = KINDS[node.type];
    const bases = [];
    if (kind === 'trait') {
      for (const b of named(field(node, 'bounds'))) bases.push(ctx.textOf(b));
    }
    return {name, kind, bases, is_abstract: kind === 'trait', decorators: attributesBefore(node, ctx)};
  },

  fn(node, ctx) {
    if (node.type === 'function_signature_item') {
      const owner = node.parent && node.parent.parent;
      if (!owner || owner.type !== 'trait_item') return null;   /* extern "C" { fn f(); } */
    }
    const name = ctx.textOf(field(node, 'name'));
    if (!name) return null;
    const params = field(node, 'parameters');
    const parameters = [];
    for (const p of named(params)) {
      if (p.type === 'parameter') {
        parameters.push({name: ctx.textOf(field(p, 'pattern')), type: ctx.textOf(field(p, 'type'))});
      } else if (p.type === 'self_parameter' || p.type === 'variadic_parameter') {
        parameters.push(ctx.textOf(p));
      }
    }
    let isAsync = false;
    for (const c of named(node)) {
      if (c.type === 'function_modifiers') isAsync = /\basync\b/.test(ctx.text_(c));
    }
    const impl = ctx.currentImpl();
    const fn = {
      name, parameters, signature: ctx.textOf(params),
      return_type: ctx.textOf(field(node, 'return_type')),
      is_async: isAsync, decorators: attributesBefore(node, ctx),
      kind: impl || ctx.currentClass() ? 'method' : 'function',
    };
    if (impl) fn.attrs = {'x-impl': impl.impl.text};
    if (node.type === 'function_signature_item') fn.attrs = Object.assign(fn.attrs || {}, {'x-abstract': true});
    return fn;
  },

  call(node, ctx) {
    if (node.type === 'macro_invocation') return ctx.textOf(field(node, 'macro')) + '!';
    return ctx.textOf(field(node, 'function'));
  },

  isCase(node, ctx) {
    const p = field(node, 'pattern');
    return !p || ctx.text_(p).trim() !== '_';
  },

  end(ctx) {
    /* a type's bases: the traits this file implements for it */
    const byName = new Map();
    for (const c of ctx.classes) if (!c.parent && !byName.has(c.name)) byName.set(c.name, c);
    for (const impl of ctx.rustImpls) {
      const cls = impl.trait && byName.get(impl.type);
      if (cls && !cls.bases.includes(impl.trait)) cls.bases.push(impl.trait);
    }
  },

  module(ctx) {
    return ctx.rustModule.name;
  },
};

module.exports = rust;
module.exports.flattenUse = flattenUse;
