#!/usr/bin/env node
/*
 * extract-tree-sitter: Go, Java, Rust, C, C++, C#, Ruby and PHP sources to
 * astpg documents (NDJSON), on tree-sitter.
 *
 *   tools/extract-tree-sitter/extract-tree-sitter [--repository NAME]
 *       [--revision REV] [--root DIR] [--exclude DIR]... [--progress]
 *       [--parse-only] [-o FILE] PATH...
 *
 * Each PATH is a file or a directory (walked for the extensions of
 * lang/index.js).  A document's path is relative to the PATH it was found
 * under (a file's: to its directory), or to --root when given: astpg-index
 * extracts a tree's changed files that way, with the paths, modules and
 * resolved imports a walk of the whole tree gives them.  Imports are
 * resolved as each language resolves them (docs/languages.md), against the
 * files of that tree.
 *
 * A file tree-sitter cannot parse well enough (engine.js says when) is
 * reported on stderr ("extract-tree-sitter: FILE: line N: ...") and counted,
 * never fatal.  --parse-only reads and parses the same files and writes
 * nothing: the baseline of test/bench/extract-tree-sitter.
 */
'use strict';
const fs = require('fs');
const path = require('path');
const {extract, ParseFailure} = require('./engine');
const languages = require('./lang');

const USAGE = 'usage: extract-tree-sitter [--repository NAME] [--revision REV] [--root DIR] ' +
  '[--exclude DIR]... [--progress] [--parse-only] [-o FILE] PATH...\n';

function* sources(given, exclude) {
  const stat = fs.statSync(given);
  if (!stat.isDirectory()) {
    yield [given, path.dirname(given)];
    return;
  }
  const stack = [given];
  while (stack.length) {
    const dir = stack.pop();
    const entries = fs.readdirSync(dir, {withFileTypes: true})
      .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
    for (const e of entries) {
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        if (!exclude.has(e.name)) stack.push(full);
      } else if (e.isFile() && languages.EXTENSIONS[path.extname(e.name).toLowerCase()]) {
        yield [full, given];
      }
    }
  }
}

/* What the languages ask of the tree: which files exist, a few files'
 * text (go.mod, Cargo.toml), and caches that live as long as the run. */
function treeEnv(root) {
  const listings = new Map();
  const caches = new Map();
  /* the files of a directory: one readdir, however many names are asked
   * about (an include is looked for in every directory above its file) */
  const filesIn = (dir) => {
    let set = listings.get(dir);
    if (!set) {
      set = new Set();
      try {
        for (const e of fs.readdirSync(path.join(root, dir), {withFileTypes: true})) {
          if (e.isFile() || (e.isSymbolicLink() && isFile(path.join(root, dir, e.name)))) set.add(e.name);
        }
      } catch (e) { /* no such directory */ }
      listings.set(dir, set);
    }
    return set;
  };
  return {
    root,
    exists(relative) {
      const slash = relative.lastIndexOf('/');
      return filesIn(slash < 0 ? '' : relative.slice(0, slash)).has(relative.slice(slash + 1));
    },
    list(relative) {
      try { return fs.readdirSync(path.join(root, relative), {withFileTypes: true}); } catch (e) { return []; }
    },
    readText(relative) {
      try { return fs.readFileSync(path.join(root, relative), 'utf8'); } catch (e) { return null; }
    },
    cache(name) {
      let c = caches.get(name);
      if (!c) caches.set(name, c = new Map());
      return c;
    },
  };
}

function isFile(p) {
  try { return fs.statSync(p).isFile(); } catch (e) { return false; }
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
  const options = {repository: '', revision: null, root: null, progress: false, output: null,
                   parseOnly: false, exclude: new Set(['.git', 'node_modules']), paths: []};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--repository') options.repository = argv[++i];
    else if (a === '--revision') options.revision = argv[++i];
    else if (a === '--root') options.root = argv[++i];
    else if (a === '--exclude') options.exclude.add(argv[++i]);
    else if (a === '--progress') options.progress = true;
    else if (a === '--parse-only') options.parseOnly = true;
    else if (a === '-o' || a === '--output') options.output = argv[++i];
    else if (a === '--help') {
      process.stdout.write(USAGE);
      return 0;
    } else if (a.startsWith('-')) {
      process.stderr.write('extract-tree-sitter: unknown option ' + a + '\n');
      return 2;
    } else options.paths.push(a);
  }
  if (!options.paths.length) {
    process.stderr.write(USAGE);
    return 2;
  }
  const out = options.output ? fs.openSync(options.output, 'w') : 1;
  const show = options.progress || process.stderr.isTTY;
  const started = Date.now();
  let done = 0, errors = 0;
  const envs = new Map();
  let pending = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length) fs.writeSync(out, pending.join(''));
    pending = [];
    pendingBytes = 0;
  };
  for (const given of options.paths) {
    const root = options.root || given;
    const rootDir = fs.statSync(root).isDirectory() ? root : path.dirname(root);
    const revision = options.parseOnly ? null : options.revision || gitRevision(rootDir);
    for (const [file, base] of sources(given, options.exclude)) {
      const relative = path.relative(options.root || base, file).split(path.sep).join('/');
      const envRoot = options.root || base;
      let env = envs.get(envRoot);
      if (!env) envs.set(envRoot, env = treeEnv(envRoot));
      let line;
      try {
        const data = fs.readFileSync(file);
        const text = data.toString('utf8');
        const name = languages.languageOf(relative, text);
        if (!name) throw new ParseFailure('not a file of a language this extractor reads');
        const {lang, parser} = languages.load(name);
        if (options.parseOnly) {
          parser.parse(text);
          done++;
          continue;
        }
        let doc;
        try {
          doc = extract(lang, parser, text, data, relative, env,
                        {repository: options.repository, revision});
        } catch (e) {
          /* a header that C's grammar cannot read may be C++ */
          if (!(e instanceof ParseFailure) || name !== 'c' || !relative.endsWith('.h')) throw e;
          const cpp = languages.load('c++');
          doc = extract(cpp.lang, cpp.parser, text, data, relative, env,
                        {repository: options.repository, revision});
        }
        line = JSON.stringify(doc) + '\n';
      } catch (e) {
        /* never fatal: a file that does not parse, cannot be read, or that
         * a handler trips on is reported, counted and passed over */
        errors++;
        const why = e instanceof ParseFailure || (e.code && /^E[A-Z]+$/.test(e.code)) ? e.message
          : 'internal error: ' + String(e.stack || e).split('\n').slice(0, 2).join(' ');
        process.stderr.write('extract-tree-sitter: ' + file + ': ' + why + '\n');
        continue;
      }
      pending.push(line);
      pendingBytes += line.length;
      if (pendingBytes > 1 << 20) flush();
      done++;
      if (show && done % 50 === 0) {
        const s = (Date.now() - started) / 1000;
        process.stderr.write('\r' + done + ' files  ' + Math.round(done / s) + ' files/s  ' + errors + ' errors');
      }
    }
  }
  flush();
  const seconds = (Date.now() - started) / 1000;
  if (show) process.stderr.write('\r' + done + ' files  ' + Math.round(done / Math.max(seconds, 0.001)) +
                                 ' files/s  ' + errors + ' errors\n');
  process.stderr.write('extract-tree-sitter: ' + done + ' files, ' + errors + ' did not parse, ' +
                       seconds.toFixed(1) + ' s\n');
  if (options.output) fs.closeSync(out);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
module.exports = {main};
