/*
 * lang/util.js: what the language modules share: reading nodes, paths in
 * the repository, and the search for an included file.
 */
'use strict';
const path = require('path');

const posix = path.posix;

/* The named children of a node (one native call for the array). */
function named(node) {
  return node ? node.namedChildren : [];
}

/* A node's child in a field (by the field's id: lang/index.js). */
function field(node, name) {
  if (!node) return null;
  const id = node.tree.language.fieldIds[name];
  return id ? node.childForFieldId(id) : null;
}

/* A node's children in a field that may hold several. */
function fields(node, name) {
  if (!node) return [];
  const id = node.tree.language.fieldIds[name];
  return id ? node.childrenForFieldId(id) : [];
}

/* The directory of a repository path ('' at the top). */
function dirOf(relative) {
  const d = posix.dirname(relative);
  return d === '.' ? '' : d;
}

/* a/b + ../c = a/c; null when it leaves the repository */
function join(dir, rel) {
  const p = posix.normalize(posix.join(dir || '.', rel));
  if (p === '..' || p.startsWith('../') || posix.isAbsolute(p)) return null;
  return p === '.' ? '' : p;
}

/* The directories from a file's own up to the top of the repository. */
function ancestors(relative) {
  const out = [];
  let d = dirOf(relative);
  for (;;) {
    out.push(d);
    if (d === '') break;
    d = dirOf(d);
  }
  return out;
}

/*
 * An included file as C, C++ and PHP look for it: in the including file's
 * directory (for quoted includes), then in each directory above it and in
 * an include/ directory beside each, which is where a project's -I flags
 * usually point.  Returns the repository path, or null.
 */
function findIncluded(ctx, written, quoted) {
  if (posix.isAbsolute(written)) return null;
  const dirs = ancestors(ctx.relative);
  if (quoted) {
    const own = join(dirs[0], written);
    if (own !== null && ctx.env.exists(own)) return own;
  }
  for (const d of dirs) {
    for (const base of quoted ? [d, join(d, 'include')] : [join(d, 'include'), d]) {
      if (base === null) continue;
      const p = join(base, written);
      if (p !== null && ctx.env.exists(p)) return p;
    }
  }
  /* an -I elsewhere in the tree (googlemock's -I../googletest/include):
   * the one file of the tree whose path ends with what is written */
  if (written.startsWith('../')) return null;
  const matches = suffixIndex(ctx.env).get(written.replace(/^\.\//, '')) || [];
  return matches.length === 1 ? matches[0] : null;
}

const HEADER = /\.(h|hh|hpp|hxx|h\+\+|inc|ipp|tcc|inl|def|php)$/i;

/* Every header of the tree, by each of its path's suffixes (a/b/c.h under
 * c.h, b/c.h and a/b/c.h); built once per run, on the first include that
 * is not found beside or above its file. */
function suffixIndex(env) {
  const cache = env.cache('suffixes');
  if (cache.has('')) return cache.get('');
  const index = new Map();
  const stack = [''];
  let seen = 0;
  while (stack.length && seen < 200000) {
    const dir = stack.pop();
    for (const e of env.list(dir)) {
      const p = dir ? dir + '/' + e.name : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git' && e.name !== 'node_modules') stack.push(p);
      } else if (HEADER.test(e.name)) {
        seen++;
        const parts = p.split('/');
        for (let i = parts.length - 1; i >= 0; i--) {
          const key = parts.slice(i).join('/');
          if (!index.has(key)) index.set(key, []);
          index.get(key).push(p);
        }
      }
    }
  }
  cache.set('', index);
  return index;
}

/* A string literal's contents, without quotes (no escapes are interpreted). */
function unquote(text) {
  if (text.length >= 2 && /^["'`]/.test(text) && text[text.length - 1] === text[0]) {
    return text.slice(1, -1);
  }
  return text;
}

module.exports = {posix, named, field, fields, dirOf, join, ancestors, findIncluded, unquote};
