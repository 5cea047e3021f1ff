#!/usr/bin/env python3
"""Structural checks of the repository, run by scripts/test.sh (exit 1 and one line per finding):

- every path in the README's Layout table exists;
- no Rust source file under host/src or host/*/src is over 700 lines (files that do one job);
- no import cycle between the top-level modules of host/src (the library's layers), nor between
  the modules of host/src/cli (the subcommands share only cli/mod.rs).
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_LINES = 700


def layout_paths():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = re.search(r"^## Layout\n(.*?)(?=^## )", text, re.S | re.M)
    if not section:
        return ["README.md has no `## Layout` section"], []
    paths = re.findall(r"^\| `([^`]+)` \|", section.group(1), re.M)
    return [], paths


def check_layout():
    problems, paths = layout_paths()
    if not paths and not problems:
        problems.append("the README's Layout table names no paths")
    for p in paths:
        if not os.path.exists(os.path.join(ROOT, p)):
            problems.append(f"README Layout names `{p}`, which does not exist")
    return problems


def rust_sources():
    host = os.path.join(ROOT, "host")
    roots = [os.path.join(host, "src")]
    for entry in sorted(os.listdir(host)):
        src = os.path.join(host, entry, "src")
        if os.path.isdir(src):
            roots.append(src)
    for root in roots:
        for dirpath, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith(".rs"):
                    yield os.path.join(dirpath, f)


def check_sizes():
    problems = []
    for path in rust_sources():
        with open(path, encoding="utf-8") as fh:
            lines = sum(1 for _ in fh)
        if lines > MAX_LINES:
            problems.append(f"{os.path.relpath(path, ROOT)} has {lines} lines (at most {MAX_LINES}: split it by job)")
    return problems


def module_files(base, name):
    """The files of top-level module `name` of the directory `base`."""
    single = os.path.join(base, name + ".rs")
    if os.path.isfile(single):
        yield single
    directory = os.path.join(base, name)
    if os.path.isdir(directory):
        for dirpath, _, files in os.walk(directory):
            for f in files:
                if f.endswith(".rs"):
                    yield os.path.join(dirpath, f)


def top_modules(base):
    names = set()
    for entry in os.listdir(base):
        if entry.endswith(".rs") and entry not in ("lib.rs", "main.rs", "mod.rs"):
            names.add(entry[:-3])
        elif os.path.isdir(os.path.join(base, entry)):
            names.add(entry)
    return names


def find_cycle(graph):
    state = {}
    stack = []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def check_cycles(base, prefix, label):
    modules = top_modules(base)
    graph = {}
    pattern = re.compile(prefix + r"(\w+)")
    for m in modules:
        used = set()
        for path in module_files(base, m):
            code = "\n".join(line.split("//")[0] for line in open(path, encoding="utf-8"))
            for dep in pattern.findall(code):
                if dep in modules and dep != m:
                    used.add(dep)
        graph[m] = used
    cycle = find_cycle(graph)
    return [f"import cycle in {label}: {' -> '.join(cycle)}"] if cycle else []


def main():
    problems = check_layout() + check_sizes()
    problems += check_cycles(os.path.join(ROOT, "host", "src"), r"crate::", "host/src")
    problems += check_cycles(os.path.join(ROOT, "host", "src", "cli"), r"super::", "host/src/cli")
    for p in problems:
        print(f"structure: {p}")
    if problems:
        sys.exit(1)
    print("structure: ok")


if __name__ == "__main__":
    main()
