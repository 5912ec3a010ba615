#!/usr/bin/env node
/*
 * extract-js: JavaScript and TypeScript sources to astpg documents (NDJSON).
 *
 *   tools/extract-js/extract-js [--repository NAME] [--revision REV]
 *                               [--root DIR] [--progress] [-o FILE] PATH...
 *
 * A document's path is relative to the PATH it was found under (a file's:
 * to its directory), or to --root when given: astpg-index extracts a
 * tree's changed files that way, with the paths and the resolved imports
 * a walk of the whole tree gives them.
 *
 * The parser is the TypeScript compiler's own (the `typescript` package):
 * one dependency with no dependencies of its own, kept by the TypeScript
 * team, and one parser for .ts .tsx .js .jsx .mjs .cjs alike.
 *
 * Functions: declarations, methods, constructors, accessors, and function
 * expressions or arrow functions given a name by a variable, a property or
 * a class field.  Anonymous ones (callbacks) are skipped: their calls and
 * branches count for the named function around them.  Nested named
 * functions are "outer.<locals>.inner", methods "Class.method", as the
 * Python extractor names them.  Relative specifiers of imports, re-exports,
 * require() and import() are resolved to paths in the repository, which is
 * what astpg resolves dependencies by.  A file the parser reports errors
 * for is reported on stderr and counted, never fatal.
 */
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const ts = require('typescript');

const EXTENSIONS = ['.ts', '.tsx', '.js', '.jsx', '.mjs', '.cjs'];
const KINDS = {
  '.ts': ts.ScriptKind.TS, '.tsx': ts.ScriptKind.TSX, '.js': ts.ScriptKind.JS,
  '.jsx': ts.ScriptKind.JSX, '.mjs': ts.ScriptKind.JS, '.cjs': ts.ScriptKind.JS,
};
const BRANCHES = new Set([
  ts.SyntaxKind.IfStatement, ts.SyntaxKind.ConditionalExpression,
  ts.SyntaxKind.ForStatement, ts.SyntaxKind.ForInStatement,
  ts.SyntaxKind.ForOfStatement, ts.SyntaxKind.WhileStatement,
  ts.SyntaxKind.DoStatement, ts.SyntaxKind.CaseClause,
  ts.SyntaxKind.CatchClause,
]);
const LOGICAL = new Set([
  ts.SyntaxKind.AmpersandAmpersandToken, ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.QuestionQuestionToken,
]);

/* jsonb refuses \u0000 and lone surrogates: keep them as escaped text. */
function clean(text) {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function isFunctionLike(node) {
  return ts.isFunctionDeclaration(node) || ts.isMethodDeclaration(node) ||
    ts.isConstructorDeclaration(node) || ts.isGetAccessorDeclaration(node) ||
    ts.isSetAccessorDeclaration(node) || ts.isFunctionExpression(node) ||
    ts.isArrowFunction(node);
}

function isClassLike(node) {
  return ts.isClassDeclaration(node) || ts.isClassExpression(node) ||
    ts.isInterfaceDeclaration(node);
}

/*
 * The name a function or class is known by, or null when anonymous (an
 * empty key, { "": function () {} }, names nothing: the format requires a
 * name of at least one character).
 */
function nameOf(node) {
  const name = givenName(node);
  return name === '' ? null : name;
}

function givenName(node) {
  if (ts.isConstructorDeclaration(node)) return 'constructor';
  if (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name) ||
                    ts.isPrivateIdentifier(node.name) || ts.isNumericLiteral(node.name))) {
    return node.name.text;
  }
  const parent = node.parent;
  if (parent && (ts.isVariableDeclaration(parent) || ts.isPropertyAssignment(parent) ||
                 ts.isPropertyDeclaration(parent)) && parent.initializer === node &&
      parent.name && (ts.isIdentifier(parent.name) || ts.isStringLiteral(parent.name) ||
                      ts.isPrivateIdentifier(parent.name))) {
    return parent.name.text;
  }
  if (parent && ts.isBinaryExpression(parent) && parent.right === node &&
      parent.operatorToken.kind === ts.SyntaxKind.EqualsToken &&
      ts.isPropertyAccessExpression(parent.left)) {
    return parent.left.name.text;            /* exports.f = function ... */
  }
  return null;
}

class Extractor {
  constructor(source, relative, exists) {
    this.source = source;
    this.relative = relative;
    this.exists = exists;
    this.scopes = [];        /* {kind: 'class'|'function', qualified, fn} */
    this.classes = [];
    this.functions = [];
    this.dependencies = [];
  }

  line(pos) { return this.source.getLineAndCharacterOfPosition(pos).line + 1; }
  text(node) { return clean(node.getText(this.source)); }

  qualified(name) {
    const top = this.scopes[this.scopes.length - 1];
    if (!top) return name;
    return top.qualified + (top.kind === 'function' ? '.<locals>.' : '.') + name;
  }

  /* The named function the code at hand belongs to, for calls and branches. */
  currentFunction() {
    const top = this.scopes[this.scopes.length - 1];
    return top && top.kind === 'function' ? top.fn : null;
  }

  visit(node) {
    if (isClassLike(node)) return this.visitClass(node);
    if (isFunctionLike(node)) return this.visitFunction(node);
    const fn = this.currentFunction();
    if (fn) {
      if (BRANCHES.has(node.kind)) fn.complexity++;
      if (ts.isBinaryExpression(node) && LOGICAL.has(node.operatorToken.kind)) fn.complexity++;
    }
    if (ts.isCallExpression(node) || ts.isNewExpression(node)) this.visitCall(node, fn);
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
        node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      this.addImport(node);
    }
    ts.forEachChild(node, (child) => this.visit(child));
  }

  visitClass(node) {
    const name = nameOf(node);
    if (name === null) {                       /* anonymous class expression */
      ts.forEachChild(node, (child) => this.visit(child));
      return;
    }
    const qualified = this.qualified(name);
    const top = this.scopes[this.scopes.length - 1];
    const bases = [];
    for (const clause of node.heritageClauses || []) {
      for (const type of clause.types) bases.push(this.text(type));
    }
    const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) || [] : [];
    const cls = {
      name: clean(name), qualified_name: clean(qualified), bases,
      line_start: this.line(node.getStart(this.source)), line_end: this.line(node.end),
      is_abstract: ts.isInterfaceDeclaration(node) ||
        modifiers.some((m) => m.kind === ts.SyntaxKind.AbstractKeyword),
    };
    if (top && top.kind === 'class') cls.parent = top.qualified;
    if (ts.isInterfaceDeclaration(node)) cls.kind = 'interface';
    this.classes.push(cls);
    this.scopes.push({kind: 'class', qualified});
    ts.forEachChild(node, (child) => this.visit(child));
    this.scopes.pop();
  }

  visitFunction(node) {
    const name = nameOf(node);
    if (name === null) {                       /* anonymous: part of its parent */
      ts.forEachChild(node, (child) => this.visit(child));
      return;
    }
    const qualified = this.qualified(name);
    const top = this.scopes[this.scopes.length - 1];
    const modifiers = ts.canHaveModifiers(node) ? ts.getModifiers(node) || [] : [];
    const decorators = ts.canHaveDecorators(node) ? ts.getDecorators(node) || [] : [];
    const fn = {
      name: clean(name), qualified_name: clean(qualified),
      signature: '(' + node.parameters.map((p) => this.text(p)).join(', ') + ')',
      parameters: node.parameters.map((p) => {
        const pname = (p.dotDotDotToken ? '...' : '') + this.text(p.name);
        if (!p.type && !p.initializer) return pname;
        const param = {name: pname};
        if (p.type) param.type = this.text(p.type);
        if (p.initializer) param.default = this.text(p.initializer);
        return param;
      }),
      is_async: modifiers.some((m) => m.kind === ts.SyntaxKind.AsyncKeyword),
      line_start: this.line(node.getStart(this.source)), line_end: this.line(node.end),
      complexity: 1,
      calls: [],
    };
    if (top && top.kind === 'class') fn.class = top.qualified;
    if (node.type) fn.return_type = this.text(node.type);
    if (decorators.length) fn.decorators = decorators.map((d) => this.text(d.expression));
    this.functions.push(fn);
    this.scopes.push({kind: 'function', qualified, fn});
    ts.forEachChild(node, (child) => this.visit(child));
    this.scopes.pop();
    if (!fn.calls.length) delete fn.calls;
  }

  visitCall(node, fn) {
    const callee = node.expression;
    const literal = node.arguments && node.arguments.length === 1 &&
      (ts.isStringLiteral(node.arguments[0]) || ts.isNoSubstitutionTemplateLiteral(node.arguments[0]));
    if (ts.isCallExpression(node) && literal &&
        (callee.kind === ts.SyntaxKind.ImportKeyword ||
         (ts.isIdentifier(callee) && callee.text === 'require'))) {
      this.dependencies.push({
        target: this.resolve(node.arguments[0].text),
        kind: callee.kind === ts.SyntaxKind.ImportKeyword ? 'dynamic-import' : 'require',
        line: this.line(node.getStart(this.source)),
      });
    }
    if (fn) fn.calls.push({name: this.text(callee), line: this.line(node.getStart(this.source))});
  }

  addImport(node) {
    const dep = {
      target: this.resolve(node.moduleSpecifier.text),
      kind: ts.isImportDeclaration(node) ? 'import' : 'export',
      line: this.line(node.getStart(this.source)),
    };
    const names = [];
    const clause = ts.isImportDeclaration(node) ? node.importClause : null;
    if (clause) {
      if (clause.name) names.push('default');
      const bindings = clause.namedBindings;
      if (bindings && ts.isNamespaceImport(bindings)) names.push('*');
      if (bindings && ts.isNamedImports(bindings)) {
        for (const e of bindings.elements) names.push((e.propertyName || e.name).text);
      }
    } else if (ts.isExportDeclaration(node)) {
      if (!node.exportClause) names.push('*');
      else if (ts.isNamedExports(node.exportClause)) {
        for (const e of node.exportClause.elements) names.push((e.propertyName || e.name).text);
      }
    }
    if (names.length) dep.names = names.map(clean);
    this.dependencies.push(dep);
  }

  /* A relative specifier as the path of the file it names, when there is one. */
  resolve(specifier) {
    if (!specifier.startsWith('./') && !specifier.startsWith('../')) return clean(specifier);
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(this.relative), specifier));
    const stem = base.replace(/\.(m|c)?js$/, '');
    const candidates = [base];
    for (const ext of EXTENSIONS) candidates.push(base + ext, stem + ext);
    for (const ext of EXTENSIONS) candidates.push(base + '/index' + ext);
    for (const candidate of candidates) {
      if (this.exists(candidate)) return clean(candidate);
    }
    return clean(base);
  }
}

function lineMetrics(text) {
  const lines = text.split(/\r?\n/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let blank = 0, comments = 0;
  for (const line of lines) {
    const t = line.trim();
    if (!t) blank++;
    else if (t.startsWith('//') || t.startsWith('/*') || t.startsWith('*')) comments++;
  }
  return {loc: lines.length, sloc: lines.length - blank - comments,
          comment_lines: comments, blank_lines: blank};
}

function documentOf(file, relative, options, exists) {
  const data = fs.readFileSync(file);
  const text = data.toString('utf8');
  const ext = path.extname(file);
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, KINDS[ext]);
  if (source.parseDiagnostics && source.parseDiagnostics.length) {
    const d = source.parseDiagnostics[0];
    throw new Error('line ' + (source.getLineAndCharacterOfPosition(d.start).line + 1) + ': ' +
                    ts.flattenDiagnosticMessageText(d.messageText, ' '));
  }
  const extractor = new Extractor(source, relative, exists);
  ts.forEachChild(source, (child) => extractor.visit(child));
  const metrics = lineMetrics(text);
  metrics.n_functions = extractor.functions.length;
  metrics.n_classes = extractor.classes.length;
  metrics.n_imports = extractor.dependencies.length;
  const doc = {
    astpg: 1, repository: options.repository, path: clean(relative),
    language: ext === '.ts' || ext === '.tsx' ? 'typescript' : 'javascript',
    size_bytes: data.length,
    content_hash: 'sha256:' + crypto.createHash('sha256').update(data).digest('hex'),
    classes: extractor.classes, functions: extractor.functions,
    dependencies: extractor.dependencies, metrics,
  };
  if (options.revision) doc.revision = options.revision;
  return doc;
}

function* sources(root) {
  const stat = fs.statSync(root);
  if (!stat.isDirectory()) {
    yield [root, path.dirname(root)];
    return;
  }
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop();
    const entries = fs.readdirSync(dir, {withFileTypes: true})
      .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== '.git') stack.push(full);
      } else if (e.isFile() && EXTENSIONS.includes(path.extname(e.name))) {
        yield [full, root];
      }
    }
  }
}

function gitRevision(root) {
  try {
    return require('child_process').execFileSync('git', ['-C', root, 'rev-parse', 'HEAD'],
      {stdio: ['ignore', 'pipe', 'ignore'], timeout: 10000}).toString().trim() || null;
  } catch (e) {
    return null;
  }
}

function main(argv) {
  const options = {repository: '', revision: null, root: null, progress: false, output: null, paths: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repository') options.repository = argv[++i];
    else if (a === '--revision') options.revision = argv[++i];
    else if (a === '--root') options.root = argv[++i];
    else if (a === '--progress') options.progress = true;
    else if (a === '-o' || a === '--output') options.output = argv[++i];
    else if (a === '--help') {
      process.stdout.write('usage: extract-js [--repository NAME] [--revision REV] [--root DIR] [--progress] [-o FILE] PATH...\n');
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write('extract-js: unknown option ' + a + '\n');
      return 2;
    } else options.paths.push(a);
  }
  if (!options.paths.length) {
    process.stderr.write('usage: extract-js [--repository NAME] [--revision REV] [--root DIR] [--progress] [-o FILE] PATH...\n');
    return 2;
  }
  const out = options.output ? fs.openSync(options.output, 'w') : 1;
  const show = options.progress || process.stderr.isTTY;
  const started = Date.now();
  let done = 0, errors = 0;
  for (const given of options.paths) {
    const root = options.root || given;
    const revision = options.revision || gitRevision(fs.statSync(root).isDirectory() ? root : path.dirname(root));
    const exists = (relative) => {
      try { return fs.statSync(path.join(root, relative)).isFile(); } catch (e) { return false; }
    };
    for (const [file, base] of sources(given)) {
      const relative = path.relative(options.root || base, file).split(path.sep).join('/');
      let doc;
      try {
        doc = documentOf(file, relative, {repository: options.repository, revision}, exists);
      } catch (e) {
        errors++;
        process.stderr.write('extract-js: ' + file + ': ' + e.message + '\n');
        continue;
      }
      fs.writeSync(out, JSON.stringify(doc) + '\n');
      done++;
      if (show && done % 50 === 0) {
        const s = (Date.now() - started) / 1000;
        process.stderr.write('\r' + done + ' files  ' + Math.round(done / s) + ' files/s  ' + errors + ' errors');
      }
    }
  }
  const seconds = (Date.now() - started) / 1000;
  if (show) process.stderr.write('\r' + done + ' files  ' + Math.round(done / Math.max(seconds, 0.001)) +
                                 ' files/s  ' + errors + ' errors\n');
  process.stderr.write('extract-js: ' + done + ' files, ' + errors + ' did not parse, ' +
                       seconds.toFixed(1) + ' s\n');
  if (options.output) fs.closeSync(out);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = {documentOf, clean, lineMetrics};
