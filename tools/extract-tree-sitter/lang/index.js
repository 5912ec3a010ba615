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

const NODE_MODULES = path.join(__dirname, '..', 'node_modules');
const loaded = new Map();

/* A header is C++ when it says something only C++ says. */
const CPLUSPLUS = /^\s*(class|namespace|template|using)\b|^\s*(public|private|protected)\s*:|::|\bextern\s+"C\+\+"|^\s*#\s*include\s*<[a-z_]+>/m;

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
    let types = path.join(dir, 'src', 'node-types.json');
    if (lang.subgrammar) {
      binding = binding[lang.subgrammar];
      types = path.join(dir, lang.subgrammar, 'src', 'node-types.json');
    }
    /* node types give each node class its type name as a plain property,
     * sparing a native call for every node.type */
    try { binding.nodeTypeInfo = JSON.parse(fs.readFileSync(types, 'utf8')); } catch (e) { /* optional */ }
    lang.language = binding;
    lang.grammarVersion = lang.grammar + ' ' +
      JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version;
    lang.query = new Parser.Query(binding, lang.query);
  }
  const parser = new Parser();
  parser.setLanguage(lang.language);
  entry = {lang, parser};
  loaded.set(name, entry);
  return entry;
}

module.exports = {EXTENSIONS, languageOf, load, names: Object.keys(MODULES)};
