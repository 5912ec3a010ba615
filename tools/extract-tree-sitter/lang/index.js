/*
 * lang/index.js: the languages, by file extension, each loaded when its
 * first file comes (a grammar's native parser and its node types take a
 * few milliseconds to load, and a run over Go files needs only Go's).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const Parser = require('tree-sitter');
const nodeGypBuild = require('node-gyp-build');

const MODULES = {
  go: () => require('./go'),
  java: () => require('./java'),
  rust: () => require('./rust'),
  c: () => require('./c').c,
  'c++': () => require('./c').cpp,
  'c#': () => require('./csharp'),
  ruby: () => require('./ruby'),
  php: () => require('./php'),
};

const EXTENSIONS = {
  '.go': 'go',
  '.java': 'java',
  '.rs': 'rust',
  '.c': 'c',
  '.h': 'c',              /* or C++: see languageOf() */
  '.cc': 'c++', '.cpp': 'c++', '.cxx': 'c++', '.c++': 'c++',
  '.hh': 'c++', '.hpp': 'c++', '.hxx': 'c++', '.h++': 'c++', '.ipp': 'c++', '.tcc': 'c++',
  '.cs': 'c#',
  '.rb': 'ruby', '.rake': 'ruby', '.gemspec': 'ruby',
  '.php': 'php',
};

/* Lines that open a comment in the C family: //, /*, and the * that
 * continues a block comment ("* text", "*" + "/", a lone "*"; not *p = 0). */
const C_COMMENT = String.raw`//|/\*|\*(?:[ \t/]|$)`;

/*
 * A node's start offset.  The binding hands each node over as six numbers
 * (its id, then tree-sitter's TSNode context: start byte, row, column),
 * and parses JS strings as UTF-16, so the start byte halved is the offset
 * that node.startIndex would fetch with a native call.  That layout is the
 * binding's own: it is checked on a parse of the language's first capture
 * at load, and node.startIndex is used if it does not hold.
 */
function startOfFor(lang) {
  const parser = new Parser();
  parser.setLanguage(lang.language);
  const sample = lang.sample || 'x';
  const caps = lang.query.captures(parser.parse(sample).rootNode);
  const fast = (node) => node[2] >>> 1;
  const ok = caps.length > 0 && caps.every((c) => fast(c.node) === c.node.startIndex);
  return ok ? fast : (node) => node.startIndex;
}

const NODE_MODULES = path.join(__dirname, '..', 'node_modules');
const loaded = new Map();

/* A header is C++ when it says something only C++ says. */
const CPLUSPLUS = /^\s*(class|namespace|template|using)\b|^\s*(public|private|protected)\s*:|\b[A-Za-z_]\w*::[A-Za-z_~]|\bextern\s+"C\+\+"|^\s*#\s*include\s*<[a-z_]+>/m;

function languageOf(relative, text) {
  const ext = path.posix.extname(relative).toLowerCase();
  let name = EXTENSIONS[ext];
  if (name === 'c' && ext === '.h' && CPLUSPLUS.test(text)) name = 'c++';
  return name || null;
}

/* The language named, with its grammar and compiled query, and a parser. */
function load(name) {
  let entry = loaded.get(name);
  if (entry) return entry;
  const lang = MODULES[name]();
  if (!lang.language) {
    const dir = path.join(NODE_MODULES, lang.grammar);
    let binding = nodeGypBuild(dir);
    /* (no nodeTypeInfo: the node classes it builds take longer to set up
     * than the native calls for node.type they spare) */
    if (lang.subgrammar) binding = binding[lang.subgrammar];
    /* field ids by name: childForFieldId spares the runtime a search of
     * the grammar's field names by string at every lookup (lang/util.js) */
    const names = nodeGypBuild(path.join(NODE_MODULES, 'tree-sitter')).getNodeFieldNamesById(binding);
    binding.fieldIds = Object.create(null);
    names.forEach((n, i) => { if (n) binding.fieldIds[n] = i; });
    lang.language = binding;
    lang.grammarVersion = lang.grammar + ' ' +
      JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    lang.query = new Parser.Query(binding, lang.query);
    lang.commentLine = new RegExp(lang.commentLine || C_COMMENT, 'y');
    lang.startOf = startOfFor(lang);
  }
  const parser = new Parser();
  parser.setLanguage(lang.language);
  entry = {lang, parser};
  loaded.set(name, entry);
  return entry;
}

module.exports = {EXTENSIONS, languageOf, load, names: Object.keys(MODULES)};
