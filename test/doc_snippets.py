"""test/doc_snippets.py: take the tested code blocks out of a Markdown file.

A block is tested when its info string has a second word, its tag:
```python psycopg2 ... ```.  The blocks of one tag are joined in order of
the file, so that a tag's code is exactly what the page shows.

    python3 test/doc_snippets.py docs/clients.md TAG > FILE
    python3 test/doc_snippets.py docs/clients.md        the tags, one a line

prepare(workdir) writes the programs of docs/clients.md into WORKDIR, ready
to run (the Python ones importable from there, node-postgres installed from
test/clients/package-lock.json, the Java ones compiled), for
test/copy_ways.py and test/clients.py.
"""
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DOC = os.path.join(HERE, "..", "docs", "clients.md")
NODE_DIR = os.path.join(HERE, "clients")
JDBC_JAR = "/usr/share/java/postgresql.jar"

FENCE = re.compile(r"^```(\S+)[ \t]+(\S+)[ \t]*\n(.*?)^```[ \t]*$", re.M | re.S)


def snippets(path):
    """{tag: code} of the tagged blocks of the Markdown file PATH."""
    out = {}
    with open(path, encoding="utf-8") as f:
        text = f.read()
    for m in FENCE.finditer(text):
        tag = m.group(2)
        out[tag] = out.get(tag, "") + ("\n\n" if tag in out else "") + m.group(3)
    return out


class Programs:
    """Where prepare() put each program, and how to run it."""

    def __init__(self, workdir):
        self.dir = workdir
        self.node_env = dict(os.environ, NODE_PATH=os.path.join(NODE_DIR, "node_modules"))
        self.java_cp = os.path.join(workdir, "java") + os.pathsep + JDBC_JAR

    def python(self, tag):
        """The module of a Python snippet (psycopg2, psycopg3, asyncpg)."""
        if self.dir not in sys.path:
            sys.path.insert(0, self.dir)
        return __import__("astpg_" + tag)

    def path(self, name):
        return os.path.join(self.dir, name)


def jdbc_url(dbname, host=None, port=None):
    """A JDBC URL for the server the PG* variables name (over TCP: JDBC
    has no Unix sockets; a socket directory in PGHOST means localhost)."""
    host = host or os.environ.get("PGHOST") or "localhost"
    if host.startswith("/"):
        host = "localhost"
    url = "jdbc:postgresql://%s:%s/%s?user=%s" % (
        host, port or os.environ.get("PGPORT", "5432"), dbname,
        os.environ.get("PGUSER") or os.environ.get("USER", "postgres"))
    if os.environ.get("PGPASSWORD"):
        url += "&password=" + urllib.parse.quote(os.environ["PGPASSWORD"], safe="")
    return url


def prepare(workdir):
    """Write every tagged program of docs/clients.md into WORKDIR."""
    blocks = snippets(DOC)
    for tag in ("psql-file", "psql-pipe"):
        with open(os.path.join(workdir, tag + ".sh"), "w") as f:
            f.write("set -euo pipefail\n" + blocks[tag])
    for tag in ("psycopg2", "psycopg3", "asyncpg"):
        with open(os.path.join(workdir, "astpg_%s.py" % tag), "w") as f:
            f.write(blocks[tag])
    with open(os.path.join(workdir, "astpg.js"), "w") as f:
        f.write(blocks["node"])
    # node-postgres, as package-lock.json pins it
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "pg-copy-streams")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=NODE_DIR, check=True, stdout=sys.stderr)
    java = os.path.join(workdir, "java")
    os.makedirs(java, exist_ok=True)
    with open(os.path.join(java, "AstpgClient.java"), "w") as f:
        f.write(blocks["jdbc"])
    shutil.copy(os.path.join(NODE_DIR, "Harness.java"), java)
    subprocess.run(["javac", "-nowarn", "-d", java, "-cp", JDBC_JAR,
                    os.path.join(java, "AstpgClient.java"), os.path.join(java, "Harness.java")],
                   check=True)
    return Programs(workdir)


if __name__ == "__main__":
    blocks = snippets(sys.argv[1])
    if len(sys.argv) > 2:
        sys.stdout.write(blocks[sys.argv[2]])
    else:
        print("\n".join(blocks))
