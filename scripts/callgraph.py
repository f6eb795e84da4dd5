#!/usr/bin/env python3
"""Which file calls which file's functions, among a set of C files.

Usage: scripts/callgraph.py FILE.c...   (e.g. scripts/callgraph.py agent/engine*.c)

Prints one line per file: the files whose functions it calls, then any
cycle among them (exit 1 when there is one). A function is a definition at
the start of a line (`type name(` not ending in `;`); a call is `name(`
anywhere else. Comments and strings are stripped first. Good enough for
this repository's formatting, not a C parser.
"""
import re
import sys


def strip(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", " ", src)
    return re.sub(r'"(\\.|[^"\\])*"', '""', src)


def main(files):
    defs, text = {}, {}
    for f in files:
        with open(f) as fh:
            text[f] = strip(fh.read())
        for m in re.finditer(r"^[A-Za-z][^;{}()=]*?\b([A-Za-z_]\w*)\(([^;{]|\n)*?\)\s*\{",
                             text[f], flags=re.M):
            if m.group(0).lstrip().startswith("static"):
                continue
            defs.setdefault(m.group(1), f)
    edges = {f: {} for f in files}
    for f in files:
        for m in re.finditer(r"\b([A-Za-z_]\w*)\s*\(", text[f]):
            g = defs.get(m.group(1))
            if g and g != f:
                edges[f].setdefault(g, set()).add(m.group(1))
    for f in files:
        outs = ", ".join("%s (%s)" % (g, " ".join(sorted(fs))) for g, fs in sorted(edges[f].items()))
        print("%s -> %s" % (f, outs or "-"))
    # Cycles: depth-first search over the file graph.
    state, stack, cycles = {}, [], []

    def dfs(f):
        state[f] = 1
        stack.append(f)
        for g in edges[f]:
            if state.get(g) == 1:
                cycles.append(stack[stack.index(g):] + [g])
            elif not state.get(g):
                dfs(g)
        stack.pop()
        state[f] = 2

    for f in files:
        if not state.get(f):
            dfs(f)
    for c in cycles:
        print("cycle: " + " -> ".join(c))
    print("cycles: %d" % len(cycles))
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
