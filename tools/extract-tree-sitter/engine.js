/*
 * engine.js: one source file to one astpg document, for any language that
 * lang/*.js describes.
 *
 * A language is a grammar, one tree-sitter query and a few handlers.  The
 * query captures, in one native pass over the tree, every node the document
 * needs, under these names:
 *
 *   function   a function or method (definition, or abstract declaration)
 *   class      a class-like type (struct, interface, trait, enum, ...)
 *   impl       a block whose functions are methods of a type declared
 *              elsewhere (Rust's impl): names them Type.method
 *   namespace  a block that names the namespace of the classes inside it
 *   package    a declaration that names the file's package or namespace
 *   import     an import, include, use or require
 *   call       a call site (the handler names the callee)
 *   callee     the callee of a call site, as written
 *   branch     a decision point (if, loop, catch, ternary): complexity + 1
 *   case       a case of a switch or match: + 1 unless handler says it is
 *              the default
 *   logical    a boolean operator (&&, ||, and, or, ??): complexity + 1
 *   error      an ERROR or MISSING node: what the parser had to recover from
 *
 * Captures come in document order, so one scope stack (classes, functions,
 * impl and namespace blocks, each with its end) tells which function a
 * call or a branch belongs to: the innermost named one.  Anonymous
 * functions (lambdas, closures, blocks) are not captured, so their calls
 * and branches count for the named function around them, as extract-js and
 * extract-python count them.  Everything else is read from the few nodes
 * the handlers look at; the JavaScript side never walks the whole tree,
 * which is what keeps the extractor close to the parser's own speed.
 *
 * Positions: the runtime binding gives string offsets (UTF-16 units, as JS
 * strings index); lines are found from offsets by a binary search over the
 * line starts, so no capture costs a native call for its line.  A
 * capture's start offset is read from the node's own fields where
 * lang/index.js found them to hold it (startOf), sparing a native call
 * for each of the many branch and call captures.
 *
 * Comment lines are counted from the text, as extract-python and
 * extract-js count them: a line whose first characters open a comment
 * (the language's commentLine pattern).  A comment capture per line of
 * comment would cost more than the rest of the extraction in heavily
 * commented C++.
 */
'use strict';
const crypto = require('crypto');

/* jsonb refuses \u0000 (and lone surrogates, which UTF-8 decoding cannot
 * produce): keep it as escaped text, as the other extractors do. */
function clean(text) {
  return text.indexOf('\0') < 0 ? text : text.replace(/\0/g, '\\u0000');
}

/* A class or function name is at most 1,024 characters (the format's
 * limit); a longer one (a C++ operator on a long template) is cut, and
 * its qualified name keeps it whole. */
function shorten(name) {
  if (name.length <= 1000) return name;
  const cut = name.slice(0, 1000);
  return /[\ud800-\udbff]$/.test(cut) ? cut.slice(0, -1) : cut;     /* not half a pair */
}

/* Line starts of a text, and the line of an offset. */
function lineStarts(text) {
  const starts = [0];
  let i = -1;
  while ((i = text.indexOf('\n', i + 1)) >= 0) starts.push(i + 1);
  return starts;
}

function lineOf(starts, offset) {
  let lo = 0, hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid; else hi = mid - 1;
  }
  return lo + 1;
}

/*
 * What a handler gets: the file (text, path, helpers) and the state of the
 * walk.  Handlers read nodes through text() and field(); they return plain
 * objects the engine completes.
 */
class FileContext {
  constructor(text, relative, env, lang) {
    this.text = text;
    this.relative = relative;       /* path in the repository, '/' separated */
    this.env = env;                 /* tree-wide helpers: exists(), readText(), caches */
    this.lang = lang;
    this.starts = lineStarts(text);
    this.package = null;            /* set by a package capture */
    this.namespaces = [];           /* namespace scopes, outermost first */
    this.dependencies = [];
    this.fileAttrs = {};            /* language-specific top-level keys */
    this.classes = [];
    this.functions = [];
    this.scopes = [];
  }

  text_(node) { return this.text.substring(this.lang.startOf(node), node.endIndex); }
  textOf(node) { return node ? clean(this.text.substring(this.lang.startOf(node), node.endIndex)) : null; }
  line(offset) { return lineOf(this.starts, offset); }
  lineOfNode(node) { return lineOf(this.starts, this.lang.startOf(node)); }

  /* The innermost class scope directly around the code at hand. */
  currentClass() {
    const top = this.scopes[this.scopes.length - 1];
    return top && top.kind === 'class' ? top : null;
  }

  currentFunction() {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      if (this.scopes[i].kind === 'function') return this.scopes[i];
    }
    return null;
  }

  currentImpl() {
    const top = this.scopes[this.scopes.length - 1];
    return top && top.kind === 'impl' ? top : null;
  }

  namespace() {
    const names = this.namespaces.map((s) => s.name);
    if (this.package && !names.length) return this.package;
    if (this.package) return this.package + this.lang.namespaceSeparator + names.join(this.lang.namespaceSeparator);
    return names.length ? names.join(this.lang.namespaceSeparator) : null;
  }

  qualified(name) {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const s = this.scopes[i];
      if (s.kind === 'class') return s.qualified + '.' + name;
      if (s.kind === 'function') return s.qualified + '.<locals>.' + name;
      if (s.kind === 'impl' && s.qualified) return s.qualified + '.' + name;
    }
    return name;
  }

  addDependency(dep) {
    if (dep && dep.target) this.dependencies.push(dep);
  }
}

function lineMetrics(text, starts, commentLine) {
  /* first non-blank offset of each line, or -1 for a blank line */
  const n = starts.length;
  let loc = n;
  if (n && starts[n - 1] === text.length) loc = n - 1;     /* final newline */
  const first = new Int32Array(loc);
  let blank = 0;
  for (let r = 0; r < loc; r++) {
    const end = r + 1 < n ? starts[r + 1] : text.length;
    let i = starts[r];
    while (i < end && (text.charCodeAt(i) === 32 || text.charCodeAt(i) === 9 ||
                       text.charCodeAt(i) === 13 || text.charCodeAt(i) === 10 ||
                       text.charCodeAt(i) === 12)) i++;
    if (i >= end) { first[r] = -1; blank++; } else first[r] = i;
  }
  /* a comment line: it starts with what opens a comment */
  let commentLines = 0;
  for (let r = 0; r < loc; r++) {
    if (first[r] < 0) continue;
    commentLine.lastIndex = first[r];
    if (commentLine.test(text)) commentLines++;
  }
  return {loc, sloc: loc - blank - commentLines, comment_lines: commentLines, blank_lines: blank};
}

/*
 * When a tree with errors is kept.  Tree-sitter always gives a tree: an
 * ERROR node wraps what it could not fit, a MISSING node stands for a token
 * it had to invent.  A file is stored when the lines its error nodes touch
 * are at most a quarter of its non-blank lines: the rest is parsed as
 * usual, and what lies in the errors is missing or partial.  Beyond that,
 * or when the whole file is one ERROR, it is reported as not parsed and
 * skipped, as the other extractors skip a file with a syntax error.  The
 * real samples of test/extract_tree_sitter.sh fall clearly on either side:
 * a macro or an #if that tree-sitter cannot follow touches at most some 12%
 * of a file's lines, while an #if that splits a pair of braces (the rest of
 * the file then hangs off the wrong node) touches 43% or more.  A stored
 * file with errors says so in its attributes ("x-parse-errors": error and
 * missing nodes, the lines they touch, the first of them), and so does each
 * function that contains one ("x-parse-error").
 */
const MAX_ERROR_SHARE = 0.25;

class ParseFailure extends Error {}

function extract(lang, parser, text, data, relative, env, options) {
  /* a language may blank out what its grammar cannot read (C's macros);
   * offsets stay, and the document keeps the original text */
  const tree = parser.parse(lang.preprocess ? lang.preprocess(text) : text);
  const root = tree.rootNode;
  const ctx = new FileContext(text, relative, env, lang);
  lang.begin && lang.begin(ctx);
  const captures = lang.query.captures(root);
  const startOf = lang.startOf;
  const errors = [];
  let missing = 0;
  const scopes = ctx.scopes;
  for (let ci = 0; ci < captures.length; ci++) {
    const cap = captures[ci];
    const node = cap.node;
    const name = cap.name;
    const start = startOf(node);
    if (name === 'error' || name === 'missing') {
      /* before scopes close: a MISSING "}" stands at the very end of its
       * function */
      for (const s of scopes) if (s.kind === 'function' && s.end >= start) s.fn['x-parse-error'] = true;
    }
    while (scopes.length && scopes[scopes.length - 1].end <= start) {
      const s = scopes.pop();
      if (s.kind === 'namespace') ctx.namespaces.pop();
    }
    switch (name) {
      case 'branch': {
        const f = ctx.currentFunction();
        if (f) f.fn.complexity++;
        break;
      }
      case 'case': {
        const f = ctx.currentFunction();
        if (f && lang.isCase(node, ctx)) f.fn.complexity++;
        break;
      }
      case 'logical': {
        const f = ctx.currentFunction();
        if (f) f.fn.complexity++;
        break;
      }
      case 'call': {
        const f = ctx.currentFunction();
        const callee = lang.call(node, ctx, f);
        if (callee && f) {
          (f.fn.calls || (f.fn.calls = [])).push({name: callee, line: ctx.line(start)});
        }
        break;
      }
      case 'callee': {
        const f = ctx.currentFunction();
        const callee = f && ctx.textOf(node);
        if (callee) (f.fn.calls || (f.fn.calls = [])).push({name: callee, line: ctx.line(start)});
        break;
      }
      case 'error':
      case 'missing': {
        const end = node.endIndex;
        if (name === 'missing') missing++;
        errors.push([start, end]);
        break;
      }
      case 'import':
        lang.imports(node, ctx);
        break;
      case 'package':
        lang.package(node, ctx);
        break;
      case 'namespace': {
        const ns = lang.namespace(node, ctx);
        if (ns) {
          scopes.push({kind: 'namespace', end: node.endIndex, name: ns});
          ctx.namespaces.push({name: ns});
        }
        break;
      }
      case 'impl': {
        const impl = lang.impl(node, ctx);
        if (impl) scopes.push({kind: 'impl', end: node.endIndex, qualified: impl.type, impl});
        break;
      }
      case 'class': {
        const cls = lang.cls(node, ctx);
        if (!cls) break;
        const outer = ctx.currentClass();
        const qualified = cls.qualified_name || ctx.qualified(cls.name);
        const end = node.endIndex;
        const out = {
          name: shorten(clean(cls.name)), qualified_name: clean(qualified),
          line_start: ctx.line(start), line_end: ctx.line(Math.max(start, end - 1)),
        };
        if (outer) out.parent = outer.qualified;
        const ns = ctx.namespace();
        if (ns) out.namespace = clean(ns);
        out.bases = (cls.bases || []).map(clean);
        out.is_abstract = !!cls.is_abstract;
        if (cls.kind) out.kind = cls.kind;
        if (cls.decorators && cls.decorators.length) out.decorators = cls.decorators.map(clean);
        if (cls.attrs) Object.assign(out, cls.attrs);
        ctx.classes.push(out);
        scopes.push({kind: 'class', end, qualified: out.qualified_name, cls: out});
        break;
      }
      case 'function': {
        const fn = lang.fn(node, ctx);
        if (!fn) break;
        const outer = ctx.currentClass();
        const qualified = fn.qualified_name || ctx.qualified(fn.name);
        const end = node.endIndex;
        const out = {
          name: shorten(clean(fn.name)), qualified_name: clean(qualified),
          signature: fn.signature != null ? clean(fn.signature) : undefined,
          parameters: fn.parameters || [],
          line_start: ctx.line(start), line_end: ctx.line(Math.max(start, end - 1)),
          complexity: 1,
          is_async: !!fn.is_async,
        };
        if (out.signature === undefined) delete out.signature;
        if (outer && !fn.noClass) out.class = outer.qualified;
        if (fn.return_type) out.return_type = clean(fn.return_type);
        if (fn.decorators && fn.decorators.length) out.decorators = fn.decorators.map(clean);
        if (fn.kind) out.kind = fn.kind;
        if (fn.attrs) Object.assign(out, fn.attrs);
        ctx.functions.push(out);
        scopes.push({kind: 'function', end, qualified: out.qualified_name, fn: out});
        break;
      }
      default:
        break;
    }
  }
  lang.end && lang.end(ctx);

  const metrics = lineMetrics(text, ctx.starts, lang.commentLine);
  /* error lines: the lines any error node touches */
  let errorLines = 0;
  if (errors.length) {
    const lines = new Set();
    for (const [s, e] of errors) {
      const l0 = ctx.line(s), l1 = ctx.line(Math.max(s, e - 1));
      for (let l = l0; l <= l1 && lines.size <= metrics.loc; l++) lines.add(l);
    }
    errorLines = lines.size;
    const share = errorLines / Math.max(1, metrics.loc - metrics.blank_lines);
    if (root.type === 'ERROR' || share > MAX_ERROR_SHARE) {
      throw new ParseFailure('line ' + ctx.line(errors[0][0]) + ': syntax error (' + errors.length +
                             ' error nodes over ' + errorLines + ' of ' + metrics.loc + ' lines)');
    }
  }
  metrics.n_functions = ctx.functions.length;
  metrics.n_classes = ctx.classes.length;
  metrics.n_imports = ctx.dependencies.length;

  for (const fn of ctx.functions) if (fn.calls && !fn.calls.length) delete fn.calls;
  const doc = {
    astpg: 1, repository: options.repository, path: clean(relative),
    language: ctx.languageName || lang.name,
  };
  const module = lang.module(ctx);
  if (module) doc.module = clean(module);
  if (options.revision) doc.revision = options.revision;
  doc.size_bytes = data.length;
  doc.content_hash = 'sha256:' + crypto.createHash('sha256').update(data).digest('hex');
  doc.classes = ctx.classes;
  doc.functions = ctx.functions;
  doc.dependencies = ctx.dependencies;
  doc.metrics = metrics;
  doc['x-extractor'] = 'extract-tree-sitter ' + lang.grammarVersion;
  Object.assign(doc, ctx.fileAttrs);
  if (errors.length) {
    const first = [];
    for (const [s] of errors) {
      const l = ctx.line(s);
      if (first[first.length - 1] !== l) first.push(l);
      if (first.length === 10) break;
    }
    doc['x-parse-errors'] = {errors: errors.length - missing, missing, lines: errorLines, first_lines: first};
  }
  return doc;
}

module.exports = {extract, clean, lineStarts, lineOf, lineMetrics, ParseFailure, MAX_ERROR_SHARE};
