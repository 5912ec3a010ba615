#!/usr/bin/python3
"""test/questions.py: astpg's four questions against Python's own answers.

astpg.dead_code, astpg.package_coupling, astpg.churn and astpg.trend
(docs/questions.md) are checked against answers this program computes by
itself, with Python's json module, from the documents it loads and the
history it makes:

  - dead code: every function of the documents, less those that another
    function calls in astpg.call_graph (the one input taken from the
    server: which calls resolve is call_graph's own question), each with
    its reason, from the documents: the enclosing class found as astpg
    finds it, base classes resolved as class_hierarchy documents it,
    their ancestors walked, namesakes counted, names and paths matched;
  - package coupling: every import resolved to a file of the documents
    (by module, the lowest file_id, else by path), packages taken from
    paths or modules, ca, ce, instability and the file counts, at depths
    1 to 3, by directory and by module;
  - churn and trend: a random history of versions, unchanged documents
    and deletions of a few paths, each placed at a time of its own over
    ten months (a month boundary, a deletion and a new version at the
    same moment among them), with revisions; the statuses astpg answers
    are checked against the model too, and churn and trend with and
    without since and until, per month and per revision.

Short mode (the default, for CI: a few seconds): the twelve documents of
test/fixtures/stdlib-sample.ndjson and test/fixtures/questions.ndjson,
and a history of 60 operations.  Long mode: --ndjson FILE [--ndjson ...]
adds whole extracted trees (tools/extract-python's output, say the
demo's standard library), and --ops N a longer history.

Connects with the PG* variables, to a database it creates (and drops,
unless --keep).  Prints "ok - ..." / "not ok - ..." lines and "N passed,
N failed"; exits non-zero on any failure.

  test/questions.py [--ndjson FILE]... [--ops 60] [--seed N] [--keep]
"""

import argparse
import collections
import datetime
import decimal
import json
import os
import random
import sys

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
UTC = datetime.timezone.utc
TEST_HOOKS = {
    'setUp', 'tearDown', 'setUpClass', 'tearDownClass', 'setUpModule',
    'tearDownModule', 'asyncSetUp', 'asyncTearDown', 'load_tests',
    'setup_module', 'teardown_module', 'setup_class', 'teardown_class',
    'setup_method', 'teardown_method', 'setup_function', 'teardown_function',
}

passed = failed = 0


def check(ok, what, detail=None):
    global passed, failed
    if ok:
        passed += 1
        print('ok - ' + what)
    else:
        failed += 1
        print('not ok - ' + what)
        if detail:
            for line in detail:
                print('#   ' + str(line))


def compare(server, expected, what):
    """Two collections of rows, as multisets; the differences if any."""
    s = collections.Counter(server)
    e = collections.Counter(expected)
    only_s = list((s - e).elements())
    only_e = list((e - s).elements())
    detail = (['astpg only: %r' % (r,) for r in sorted(only_s, key=repr)[:10]]
              + ['Python only: %r' % (r,) for r in sorted(only_e, key=repr)[:10]])
    check(not only_s and not only_e,
          '%s (%d rows)' % (what, len(expected)), detail)


def read_ndjson(path):
    with open(path, encoding='utf-8') as f:
        return [json.loads(line) for line in f if line.strip()]


def load(cur, docs):
    statuses = []
    for i in range(0, len(docs), 200):
        chunk = [json.dumps(d) for d in docs[i:i + 200]]
        cur.execute('SELECT status FROM astpg.ingest_batch(%s::jsonb[])', (chunk,))
        statuses += [r[0] for r in cur.fetchall()]
    return statuses


#
# Dead code
#

def class_qualified(c):
    if c.get('qualified_name') is not None:
        return c['qualified_name']
    if c.get('parent') is not None:
        return c['parent'] + '.' + c['name']
    return c['name']


def function_qualified(f):
    if f.get('qualified_name') is not None:
        return f['qualified_name']
    if f.get('class') is not None:
        return f['class'] + '.' + f['name']
    return f['name']


def enclosing(classes, f):
    """The class a function's "class" names: of that qualified name,
    containing its first line, the innermost (the first on a tie)."""
    best = None
    for c in classes:
        if (c['qualified_name'] == f['class']
                and c['line_start'] <= f['line_start'] <= c['line_end']):
            size = c['line_end'] - c['line_start']
            if best is None or size < best[0]:
                best = (size, c)
    return best[1]['id'] if best else None


def is_test_path(path):
    parts = path.split('/')
    for d in parts[:-1]:
        if d in ('test', 'tests', '__tests__') or d.endswith('_test') or d.endswith('_tests'):
            return True
    name = parts[-1]
    if name.startswith('test_') or name == 'conftest.py':
        return True
    stem, dot, _ = name.rpartition('.')
    if dot and (stem in ('test', 'tests') or stem.endswith('_test') or stem.endswith('_tests')
                or stem.endswith('.test') or stem.endswith('.spec')):
        return True
    return False


def self_call_name(callee):
    head, dot, rest = callee.partition('.')
    if dot and head in ('self', 'cls', 'this') and rest and '.' not in rest:
        return rest
    return None


def dead_code_expected(docs, called, prefix=''):
    """Rows (path, qualified_name, line, reason) for the functions of the
    documents that no other function calls."""
    classes, functions = [], []
    modules = collections.defaultdict(list)
    for d in docs:
        path = d['path']
        if d.get('module') is not None:
            modules[d['module']].append(path)
        mine = []
        for c in d.get('classes') or []:
            mine.append({'id': len(classes) + len(mine), 'path': path, 'name': c['name'],
                         'qualified_name': class_qualified(c), 'bases': c.get('bases') or [],
                         'line_start': c['line_start'], 'line_end': c['line_end']})
        classes += mine
        for f in d.get('functions') or []:
            functions.append({
                'path': path, 'name': f['name'], 'qualified_name': function_qualified(f),
                'line': f['line_start'], 'decorators': f.get('decorators') or [],
                'class': enclosing(mine, f) if f.get('class') is not None else None,
                'calls': [c['name'] for c in f.get('calls') or []]})

    # base classes, resolved as class_hierarchy says: the first step that
    # finds any class decides, and resolves when it finds exactly one
    in_file = collections.defaultdict(list)
    by_name = collections.defaultdict(list)
    for c in classes:
        in_file[c['path']].append(c)
        by_name[c['name']].append(c)
    bases = collections.defaultdict(list)
    for c in classes:
        for base in c['bases']:
            last = base.split('.')[-1]
            found = {t['id'] for t in in_file[c['path']]
                     if t['qualified_name'] == base or t['name'] == base}
            if not found and '.' in base:
                module = base[:len(base) - len(last) - 1]
                found = {t['id'] for p in modules.get(module, []) for t in in_file[p]
                         if t['qualified_name'] == last}
            if not found:
                found = {t['id'] for t in by_name[last]}
            if len(found) == 1 and c['id'] not in found:
                bases[c['id']].append(found.pop())

    def ancestors(class_id):
        seen, todo = set(), list(bases[class_id])
        while todo:
            a = todo.pop()
            if a != class_id and a not in seen:
                seen.add(a)
                todo += bases[a]
        return seen

    inherited = collections.defaultdict(set)
    for f in functions:
        if f['class'] is not None:
            inherited[f['class']].add(f['name'])
            for callee in f['calls']:
                name = self_call_name(callee)
                if name is not None:
                    inherited[f['class']].add(name)
    namesakes = collections.Counter((f['path'], f['class'], f['name']) for f in functions)

    rows = []
    for f in functions:
        if not f['path'].startswith(prefix):
            continue
        if (f['path'], f['qualified_name'], f['line']) in called:
            continue
        name = f['name']
        if (len(name) > 4 and name.startswith('__') and name.endswith('__')) \
                or (name == 'constructor' and f['class'] is not None):
            reason = 'runtime'
        elif is_test_path(f['path']) or name.startswith('test') or name in TEST_HOOKS:
            reason = 'test'
        elif name in ('main', '_main'):
            reason = 'entry point'
        elif any(d not in ('staticmethod', 'classmethod') for d in f['decorators']):
            reason = 'decorated'
        elif f['class'] is not None and any(name in inherited[a]
                                            for a in ancestors(f['class'])):
            reason = 'override'
        elif '.<locals>.' in f['qualified_name']:
            reason = 'nested'
        elif namesakes[(f['path'], f['class'], name)] > 1:
            reason = 'ambiguous'
        elif name.startswith('_') or name.startswith('#'):
            reason = 'private'
        elif f['class'] is not None:
            reason = 'method'
        else:
            reason = 'public'
        rows.append((f['path'], f['qualified_name'], f['line'], reason))
    return rows


def check_dead_code(cur, repository, docs):
    # which functions call which, as call_graph resolved them: by path,
    # qualified name and line, the functions' names in the documents
    cur.execute("""
        SELECT ef.path, e.qualified_name, e.line_start
          FROM astpg.call_graph g
          JOIN astpg.functions c ON c.function_id = g.caller_id AND c.repo_id = g.repo_id
          JOIN astpg.files cf ON cf.file_id = c.file_id AND cf.repo_id = c.repo_id
          JOIN astpg.functions e ON e.function_id = g.callee_id AND e.repo_id = g.repo_id
          JOIN astpg.files ef ON ef.file_id = e.file_id AND ef.repo_id = e.repo_id
         WHERE g.repo_id = astpg.repo_id(%s)
           AND (cf.path, c.qualified_name, c.line_start)
               IS DISTINCT FROM (ef.path, e.qualified_name, e.line_start)""", (repository,))
    called = set(cur.fetchall())
    if repository != 'qpaths':
        check(len(called) > 0, '%s: call_graph has edges (%d functions called)'
              % (repository, len(called)))
    keys = collections.Counter((d['path'], function_qualified(f), f['line_start'])
                               for d in docs for f in d.get('functions') or [])
    # two functions of one path, name and line cannot be told apart here
    ambiguous_keys = {k for k, n in keys.items() if n > 1}
    for prefix in sorted({''} | {d['path'].split('/')[0] + '/' for d in docs
                                 if '/' in d['path']})[:4]:
        cur.execute('SELECT path, qualified_name, line, reason FROM astpg.dead_code(%s, %s)',
                    (repository, prefix))
        server = [r for r in cur.fetchall() if r[:3] not in ambiguous_keys]
        expected = [r for r in dead_code_expected(docs, called, prefix)
                    if r[:3] not in ambiguous_keys]
        compare(server, expected, '%s: dead_code(path_prefix %r)' % (repository, prefix))
        if prefix == '':
            reasons = collections.Counter(r[3] for r in expected)
            print('# %s: %s' % (repository, ', '.join('%s %d' % kv for kv in sorted(reasons.items()))))


#
# Package coupling
#

def package_of(path, module, depth, by):
    if by == 'module':
        return '.'.join(module.split('.')[:depth])
    dirs = path.split('/')[:-1]
    return '/'.join(dirs[:depth]) or '.'


def coupling_expected(docs, file_ids, depth, by):
    by_module = {}
    by_path = {}
    for d in docs:
        fid = file_ids[d['path']]
        if d.get('module') is not None:
            if d['module'] not in by_module or fid < by_module[d['module']]:
                by_module[d['module']] = fid
        by_path[d['path']] = fid
    package = {}
    for d in docs:
        if by == 'module' and d.get('module') is None:
            continue
        package[file_ids[d['path']]] = package_of(d['path'], d.get('module'), depth, by)
    crossing = set()
    for d in docs:
        source = file_ids[d['path']]
        for dep in d.get('dependencies') or []:
            target = by_module.get(dep['target'], by_path.get(dep['target']))
            if target is None or source not in package or target not in package:
                continue
            if package[source] != package[target]:
                crossing.add((package[source], source, package[target]))
    rows = []
    for p in sorted(set(package.values())):
        files = sum(1 for q in package.values() if q == p)
        ca = len({s for s, _, t in crossing if t == p})
        ce = len({t for s, _, t in crossing if s == p})
        afferent = len({f for s, f, t in crossing if t == p})
        efferent = len({f for s, f, t in crossing if s == p})
        instability = None
        if ca + ce:
            instability = (decimal.Decimal(ce) / decimal.Decimal(ca + ce)).quantize(
                decimal.Decimal('0.001'), rounding=decimal.ROUND_HALF_UP)
        rows.append((p, files, ca, ce, instability, afferent, efferent))
    return rows


def check_coupling(cur, repository, docs):
    cur.execute('SELECT path, file_id FROM astpg.files WHERE repo_id = astpg.repo_id(%s)'
                ' AND repository = %s', (repository, repository))
    file_ids = dict(cur.fetchall())
    for by in ('directory', 'module'):
        for depth in (1, 2, 3):
            cur.execute('SELECT * FROM astpg.package_coupling(%s, %s, %s)',
                        (repository, depth, by))
            compare(cur.fetchall(), coupling_expected(docs, file_ids, depth, by),
                    '%s: package_coupling(depth %d, %s)' % (repository, depth, by))


#
# Churn and trend
#

def month_start(t):
    return datetime.datetime(t.year, t.month, 1, tzinfo=UTC)


def next_month(m):
    return datetime.datetime(m.year + m.month // 12, m.month % 12 + 1, 1, tzinfo=UTC)


def make_history(cur, rng, repository, ops):
    """A random history of a few paths, each operation at a time of its
    own; returns the events astpg must have logged, as the model says."""
    paths = ['h/a.py', 'h/b.py', 'h/sub/c.py', 'd.py', 'w/e.js']
    start = datetime.datetime(2023, 9, 1, tzinfo=UTC)
    times = sorted(start + datetime.timedelta(seconds=rng.randrange(300 * 86400))
                   for _ in range(ops))
    # a new version at a month boundary, exactly
    boundary = datetime.datetime(2024, 1, 1, tzinfo=UTC)
    times[len(times) // 2] = boundary
    times.sort()
    stored = {}          # path -> content_hash
    events = []          # (time, path, status, revision, figures)
    revision_no = 0
    tie_done = False
    i = 0
    while i < len(times):
        t = times[i]
        path = rng.choice(paths)
        if rng.random() < 0.25:
            revision_no += 1
        revision = None if rng.random() < 0.1 else 'r%02d' % (
            revision_no if rng.random() < 0.9 else rng.randint(0, revision_no))
        plan = []
        if t == boundary:
            plan.append(('store', None))
        elif path in stored and rng.random() < 0.2:
            plan.append(('delete', None))
            if not tie_done:
                # stored again at the same moment: the deletion comes first
                plan.append(('store', None))
                tie_done = True
        elif path in stored and rng.random() < 0.15:
            plan.append(('store', stored[path]))          # unchanged
        else:
            plan.append(('store', None))
        for action, same_hash in plan:
            if action == 'delete':
                cur.execute('SELECT astpg.delete_file(%s, %s)', (repository, path))
                deleted = cur.fetchone()[0]
                check(deleted == (path in stored), 'delete_file(%s) at %s' % (path, t))
                if deleted:
                    del stored[path]
                    events.append((t, path, 'deleted', None, None))
            else:
                n = rng.randint(0, 4)
                functions = [{'name': 'f%d' % k, 'line_start': k + 1, 'line_end': k + 1}
                             for k in range(n)]
                for f in functions:
                    if rng.random() < 0.8:
                        f['complexity'] = rng.randint(1, 9)
                doc = {'repository': repository, 'path': path,
                       'language': 'javascript' if path.endswith('.js') else 'python',
                       'functions': functions,
                       'classes': [{'name': 'C%d' % k, 'line_start': 1, 'line_end': 9}
                                   for k in range(rng.randint(0, 2))]}
                if rng.random() < 0.8:
                    doc['metrics'] = {'loc': rng.randint(1, 500)}
                if revision is not None:
                    doc['revision'] = revision
                doc['content_hash'] = same_hash or 'h%d' % rng.randrange(10 ** 9)
                expected = ('unchanged' if stored.get(path) == doc['content_hash']
                            else 'replaced' if path in stored else 'inserted')
                cur.execute('SELECT status FROM astpg.ingest(%s::jsonb)', (json.dumps(doc),))
                status = cur.fetchone()[0]
                if status != expected:
                    check(False, 'ingest(%s) at %s: %s' % (path, t, expected), [status])
                stored[path] = doc['content_hash']
                figures = None
                if status != 'unchanged':
                    figures = (len(doc['classes']), len(functions),
                               sum(f.get('complexity', 0) for f in functions),
                               doc.get('metrics', {}).get('loc'))
                events.append((t, path, status, revision, figures))
            # this operation's rows, to its time
            cur.execute("UPDATE astpg.ingests SET ingested_at = %s"
                        " WHERE repository = %s AND ingested_at > '2025-01-01'",
                        (t, repository))
            cur.execute("UPDATE astpg.metric_history SET ingested_at = %s"
                        " WHERE repository = %s AND ingested_at > '2025-01-01'",
                        (t, repository))
        i += 1
    return events


def churn_expected(events, since, until):
    rows = collections.defaultdict(lambda: [0, 0, 0, 0])
    for t, path, status, _, _ in events:
        if status == 'unchanged' or (since and t < since) or (until and t >= until):
            continue
        r = rows[(path, month_start(t).date())]
        if status in ('inserted', 'replaced'):
            r[0] += 1
        r[{'inserted': 1, 'replaced': 2, 'deleted': 3}[status]] += 1
    return [k + tuple(v) for k, v in rows.items()]


def totals_at(events, as_of):
    """Files, classes, functions, complexity and loc at as_of: each path at
    its last event before it (a deletion before a version at one moment)."""
    last = {}
    for e in sorted(events, key=lambda e: (e[0], e[2] != 'deleted')):
        if e[0] < as_of and e[2] != 'unchanged':
            last[e[1]] = e
    versions = [e for e in last.values() if e[2] != 'deleted']
    locs = [e[4][3] for e in versions if e[4][3] is not None]
    return (len(versions), sum(e[4][0] for e in versions), sum(e[4][1] for e in versions),
            sum(e[4][2] for e in versions), sum(locs) if locs else None)


def trend_expected(events, per, since, until, now):
    upto = until or now
    events = [e for e in events if e[0] < upto]
    if not [e for e in events if e[2] != 'unchanged']:
        return []
    points = []
    if per == 'month':
        m = month_start(since or min(e[0] for e in events if e[2] != 'unchanged'))
        while m < upto:
            points.append((m.strftime('%Y-%m'), max(m, since) if since else m,
                           min(next_month(m), upto)))
            m = next_month(m)
    else:
        # a revision begins at its first row in the audit log, a file
        # found unchanged included
        first = {}
        for t, _, status, revision, _ in events:
            if status != 'deleted' and revision is not None:
                first[revision] = min(first.get(revision, t), t)
        order = sorted(first.items(), key=lambda kv: (kv[1], kv[0]))
        for k, (revision, t) in enumerate(order):
            as_of = order[k + 1][1] if k + 1 < len(order) else upto
            if since is None or t >= since:
                points.append((revision, t, min(as_of, upto)))
    rows = []
    for point, starts, as_of in points:
        versions = sum(1 for e in events
                       if e[2] in ('inserted', 'replaced') and starts <= e[0] < as_of)
        deleted = sum(1 for e in events if e[2] == 'deleted' and starts <= e[0] < as_of)
        rows.append((point, as_of) + totals_at(events, as_of) + (versions, deleted))
    return rows


def check_history(conn, cur, rng, ops):
    repository = 'qrand'
    events = make_history(cur, rng, repository, ops)
    conn.commit()
    statuses = collections.Counter(e[2] for e in events)
    print('# history: %d operations, %s' % (ops, ', '.join(
        '%s %d' % kv for kv in sorted(statuses.items()))))
    cur.execute('SELECT status, count(*) FROM astpg.ingests WHERE repository = %s'
                ' GROUP BY 1', (repository,))
    check(dict(cur.fetchall()) == dict(statuses), 'the audit log holds the model\'s events')

    d = lambda *a: datetime.datetime(*a, tzinfo=UTC)
    windows = [(None, None), (d(2023, 11, 15, 12), None), (None, d(2024, 3, 1)),
               (d(2023, 12, 1), d(2024, 2, 10, 6)), (d(2024, 1, 1), d(2024, 1, 1, 0, 0, 1)),
               (None, d(2024, 1, 1))]
    for since, until in windows:
        cur.execute('SELECT * FROM astpg.churn(%s, %s, %s)', (repository, since, until))
        compare(cur.fetchall(), churn_expected(events, since, until),
                'churn(since %s, until %s)' % (since, until))
    for per in ('month', 'revision'):
        for since, until in windows + [(None, d(2024, 8, 1)), (d(2024, 2, 29), d(2024, 8, 1))]:
            # now() is the transaction's: read it in the same one
            cur.execute('SELECT now()')
            now = cur.fetchone()[0]
            cur.execute('SELECT * FROM astpg.trend(%s, %s, %s, %s)',
                        (repository, per, since, until))
            server = cur.fetchall()
            expected = trend_expected(events, per, since, until, now)
            check(server == expected, 'trend(%s, since %s, until %s) (%d rows)'
                  % (per, since, until, len(expected)),
                  ['astpg:  %r' % (r,) for r in server if r not in expected][:5]
                  + ['Python: %r' % (r,) for r in expected if r not in server][:5])
            conn.commit()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--ndjson', action='append', default=[],
                    help='more documents (extracted trees): long mode')
    ap.add_argument('--ops', type=int, default=60, help='operations of the random history')
    ap.add_argument('--seed', type=int, default=None)
    ap.add_argument('--keep', action='store_true', help='keep the database')
    ap.add_argument('--dbname', default='astpg_questions')
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(10 ** 6)
    print('# seed %d' % seed)
    rng = random.Random(seed)

    admin = psycopg2.connect(dbname=os.environ.get('PGDATABASE', 'postgres'))
    admin.autocommit = True
    admin.cursor().execute('DROP DATABASE IF EXISTS ' + args.dbname)
    admin.cursor().execute('CREATE DATABASE ' + args.dbname)
    conn = psycopg2.connect(dbname=args.dbname)
    cur = conn.cursor()
    cur.execute('SET client_min_messages = warning')
    cur.execute('CREATE EXTENSION astpg CASCADE')

    # paths that are test files or not, one uncalled function each
    paths = ['test/a.py', 'tests/a.py', 'a/tests/b.py', '__tests__/x.js', 'idle_test/x.py',
             'foo_tests/x.py', 'testing/x.py', 'contest/x.py', 'a/b_test/c.py', 'test_a.py',
             'a/test_b.py', 'atest_b.py', 'a_test.py', 'a_tests.py', 'a_test.b.py', 'a.test.js',
             'a.spec.ts', 'a.test.b.js', 'a.tests.js', '.test.js', 'test.py', 'tests.py', 'test',
             'test.foo.py', 'conftest.py', 'myconftest.py', 'latest.py', 'protest_x.py', 'x_test',
             'a/test/../b.py', 'tested/x.py', 'x_test/y', 'a.spec']
    repositories_paths = [{'repository': 'qpaths', 'path': p, 'language': 'python',
                           'functions': [{'name': 'f', 'line_start': 1, 'line_end': 1}]}
                          for p in paths]
    sample = [dict(d, repository='sample') for d in
              read_ndjson(os.path.join(HERE, 'fixtures', 'stdlib-sample.ndjson'))]
    fixture = read_ndjson(os.path.join(HERE, 'fixtures', 'questions.ndjson'))
    repositories = {'sample': sample, 'qx': fixture, 'qpaths': repositories_paths}
    for path in args.ndjson:
        for d in read_ndjson(path):
            repositories.setdefault('long:' + d.get('repository', ''), []).append(
                dict(d, repository='long:' + d.get('repository', '')))
    for name, docs in repositories.items():
        statuses = collections.Counter(load(cur, docs))
        check(statuses == {'inserted': len(docs)}, '%s: %d documents stored' % (name, len(docs)),
              [dict(statuses)])
    cur.execute('ANALYZE')
    cur.execute('SELECT count(*) FROM astpg.refresh_analytics(false)')
    conn.commit()

    for name, docs in repositories.items():
        check_dead_code(cur, name, docs)
        check_coupling(cur, name, docs)
    conn.commit()
    check_history(conn, cur, rng, args.ops)

    cur.close()
    conn.close()
    if not args.keep:
        admin.cursor().execute('DROP DATABASE ' + args.dbname)
    admin.close()
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
