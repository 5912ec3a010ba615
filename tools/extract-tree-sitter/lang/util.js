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

function field(node, name) {
  return node ? node.childForFieldName(name) : null;
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
  return null;
}

/* A string literal's contents, without quotes (no escapes are interpreted). */
function unquote(text) {
  if (text.length >= 2 && /^["'`]/.test(text) && text[text.length - 1] === text[0]) {
    return text.slice(1, -1);
  }
  return text;
}

module.exports = {posix, named, field, dirOf, join, ancestors, findIncluded, unquote};
