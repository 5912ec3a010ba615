"""test/copy_cases.py: documents that COPY's text format would change, and
the check that a stored document is the one that was sent.

Shared by test/copy_test.py (every documented way of sending NDJSON must
carry it byte for byte) and test/clients_test.py (the client snippets of
docs/clients.md).  Each document is written here as JSON *text*, by hand
where it matters (escapes such as \\u00e9, \\ud83d\\ude00 or \\/ that
json.dumps would never write), so that what is sent is exactly those bytes;
the expected value is that text parsed by Python's json module, which knows
nothing of PostgreSQL.

    python3 test/copy_cases.py REPOSITORY > docs.ndjson    the documents
"""
import json
import sys

# Strings with everything COPY's text format decodes (\n \t \\ \. \N \x41
# \101), quotes of every kind, \u escapes jsonb accepts (controls, the
# escaped backslash before "u0000" that is *not* a NUL, a surrogate pair,
# U+2028, U+FFFF, an escaped solidus), and raw non-ASCII of 2, 3 and 4
# bytes.  As JSON text, inside the quotes of a string.
NASTY = [
    r"sep='\n', end='\\n', path='C:\\dir\\new\\table.c'",
    r"tab\there and a backslash-t \\t and CR \r and \\r",
    r"quotes: \" ' ` \\\" \"\" ,;| and a CSV line: \"a\",\"b\"",
    r"end of copy data: \\. and \\.\\n and \\N and \\x41 \\101 and \\",
    r"\u0001\u0002\u001f\u007f \u00e9 \u00E9 \u2028\u2029 \ufeff \uffff \u005c \/",
    r"not a NUL: \\u0000 and \u005cu0000 and \\\\u0000 and \\\u0001",
    r"surrogate pair \ud83d\ude00 = 😀, and \uD834\uDD1E = 𝄞",
    "raw: é ü ß 模块 😀 𝄞 e\u0301 \u05e9\u05dc\u05d5\u05dd",
    r"ends in an escaped backslash \\",
]


def _s(text):
    """A JSON string literal around TEXT, which is already JSON-escaped."""
    return '"' + text + '"'


def documents(repository, long_chars=300_000):
    """The test documents of REPOSITORY as NDJSON lines (no newline).

    Every document has no content_hash: a second load of one replaces it
    (rather than answering `unchanged` without looking at it), so what is
    stored is always what the last load sent.
    """
    repo = json.dumps(repository)
    # as real code has it (CPython's _pyio.py): COPY's text format turns
    # the two characters \n of this signature into a newline, and the
    # document is still valid, so it is stored changed without a word
    lines = ['{"repository": %s, "path": "_pyio.py", "module": "_pyio", '
             '"language": "python", "functions": [{"name": "print_line", '
             '"signature": "(self, s, end=\'\\\\n\')", "line_start": 10, "line_end": 12}]}'
             % repo]
    for i, text in enumerate(NASTY):
        # the same string in a top-level value, an unknown key (kept in
        # attrs), a key, a signature, a call, parameters, a metric's name,
        # a dependency and the ast
        lines.append(
            '{"repository": %s, "path": %s, "language": "python", '
            '"revision": %s, "x-note": {%s: %s}, '
            '"functions": [{"name": "f", "line_start": 1, "line_end": 2, '
            '"signature": %s, "parameters": ["self", {"name": "p", "default": %s}], '
            '"calls": [{"name": %s, "line": 2}]}], '
            '"dependencies": [{"target": %s, "names": [%s]}], '
            '"metrics": {%s: %d}, '
            '"ast": {"_type": "Constant", "value": %s, "list": [%s, 1.5, true, null]}}'
            % (repo, _s("nasty/%d/" % i + text), _s(text), _s(text), _s(text),
               _s(text), _s(text), _s("call " + text), _s(text), _s(text),
               _s("metric " + text), i, _s(text), _s(text)))
    # raw tabs and spaces between tokens (JSON whitespace), a key with
    # escapes, numbers written in several ways
    lines.append('{"repository":\t%s,\t"path": "whitespace.py" , "language":"python",'
                 '"x\\u00e9\\"key\\\\": "v",  "metrics": {"a": 1e2, "b": -0.0, "c": 12.50}}'
                 % repo)
    # a long line: a string of long_chars characters full of escapes, and
    # many functions
    unit = r"\\n\"\u00e9é😀\t"
    body = unit * (long_chars // 7)
    funcs = ", ".join('{"name": "f%d", "line_start": %d, "line_end": %d, '
                      '"signature": "(a=\'\\\\%d\')"}' % (n, n + 1, n + 1, n)
                      for n in range(2000))
    lines.append('{"repository": %s, "path": "long.py", "language": "python", '
                 '"revision": "%s", "functions": [%s]}' % (repo, body, funcs))
    return lines


def contained(stored, sent, where="document"):
    """None if every key and value of SENT is in STORED as sent (astpg's
    document() adds defaults, so STORED may hold more); else where they
    first differ."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return where
        for k, v in sent.items():
            if v is None:          # null counts as absent, except in ast
                continue
            if k not in stored:
                return "%s[%r] missing" % (where, k)
            d = contained(stored[k], v, "%s[%r]" % (where, k))
            if d:
                return d
        return None
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(stored) != len(sent):
            return where
        for n, (a, b) in enumerate(zip(stored, sent)):
            if b is None:
                if a is not None:
                    return "%s[%d]" % (where, n)
                continue
            d = contained(a, b, "%s[%d]" % (where, n))
            if d:
                return d
        return None
    if type(stored) is bool or type(sent) is bool:
        return None if stored is sent else where
    return None if stored == sent else "%s: %r != %r" % (where, stored, sent)


def compare(fetch_documents, lines, label):
    """Check every document of LINES against what the server stored.

    FETCH_DOCUMENTS(repository) -> {path: document text of astpg.document()}.
    Returns a list of failures (empty when each arrived intact).
    """
    sent = [json.loads(line) for line in lines]
    stored = fetch_documents(sent[0]["repository"])
    failures = []
    if len(stored) != len(sent):
        failures.append("%s: %d documents stored, %d sent" % (label, len(stored), len(sent)))
    for doc in sent:
        text = stored.get(doc["path"])
        if text is None:
            failures.append("%s: %r not stored" % (label, doc["path"][:60]))
            continue
        diff = contained(json.loads(text), doc)
        if diff:
            failures.append("%s: %r differs at %s" % (label, doc["path"][:60], diff[:300]))
    return failures


if __name__ == "__main__":
    for line in documents(sys.argv[1] if len(sys.argv) > 1 else "nasty"):
        print(line)
