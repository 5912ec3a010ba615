#!/usr/bin/env python3
"""test/check_links.py: every relative link of the tree's Markdown files
resolves.

A link [text](target) whose target is not a URL must name a file or
directory that exists, relative to the file it is in; a #fragment must
name a heading of the target (GitHub's slugs: lower case, punctuation
dropped, spaces as hyphens). Links inside code (fenced blocks and `inline
code`) are not links. The Markdown files are those git tracks, and any new
ones not ignored (git ls-files --cached --others --exclude-standard).
Prints each broken link as FILE:LINE: TARGET (why) and exits 1 if there is
one; 0 and a count otherwise.

    python3 test/check_links.py                 the whole tree
    python3 test/check_links.py README.md docs/analytics.md

Not part of test/run: documentation is checked when it is written.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
INLINE_CODE = re.compile(r"(`+).*?\1")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def markdown_files():
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                          "*.md"], cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return sorted(set(line for line in out.splitlines()
                      if line and os.path.exists(os.path.join(ROOT, line))))


def prose_lines(path):
    """(number, line) of the lines outside fenced code, inline code blanked."""
    fenced = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if FENCE.match(line):
                fenced = not fenced
                continue
            if not fenced:
                yield n, INLINE_CODE.sub("", line)


def slug(heading):
    """GitHub's anchor for a heading."""
    text = re.sub(r"`|\*\*|__", "", heading).strip().lower()
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path):
    found, seen = set(), {}
    for _, line in prose_lines(path):
        m = HEADING.match(line)
        if m:
            s = slug(m.group(1))
            n = seen.get(s, 0)
            seen[s] = n + 1
            found.add(s if n == 0 else "%s-%d" % (s, n))
    return found


def check(rel):
    path = os.path.join(ROOT, rel)
    broken = []
    for n, line in prose_lines(path):
        for m in LINK.finditer(line):
            target = m.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):
                continue            # http:, https:, mailto:
            file_part, _, fragment = target.partition("#")
            dest = path if not file_part else \
                os.path.normpath(os.path.join(os.path.dirname(path), file_part))
            if not os.path.exists(dest):
                broken.append((rel, n, target, "no such file"))
            elif fragment and dest.endswith(".md") and fragment not in anchors(dest):
                broken.append((rel, n, target, "no such heading"))
    return broken


def main(args):
    files = args or markdown_files()
    broken, links = [], 0
    for rel in files:
        broken += check(rel)
        links += sum(len(LINK.findall(l)) for _, l in prose_lines(os.path.join(ROOT, rel)))
    for rel, n, target, why in broken:
        print("%s:%d: %s (%s)" % (rel, n, target, why))
    if broken:
        print("%d of %d links broken" % (len(broken), links))
        return 1
    print("%d links in %d files, none broken" % (links, len(files)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
