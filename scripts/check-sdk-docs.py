#!/usr/bin/env python3
"""Fails when an SDK exports a name its README does not mention.

- JavaScript: every `export const|function|class NAME` of sdk/js/subnet-sdk.js, and every
  member of its exported objects (`random.below` as `below`), in sdk/js/README.md;
- Python: every public name of each module of sdk/python/subnet_sdk (its `__all__`, else the
  module-level functions, classes and constants not starting with `_`), in sdk/python/README.md;
- C: every function, type and macro `subnet_sdk.h` and `subnet_json.h` declare, in
  sdk/c/README.md.

The Rust SDK's reference is its rustdoc (`#![warn(missing_docs)]`), not checked here.
"""

import ast
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def js_names():
    source = read("sdk", "js", "subnet-sdk.js")
    names = set(re.findall(r"^export (?:const|function|class|async function) (\w+)", source, re.M))
    # Members of exported objects: `export const random = { below(bound) {`, `unit: () =>`.
    for block in re.finditer(r"^export const (\w+) = \{\n(.*?)^\};", source, re.M | re.S):
        for member in re.findall(r"^  (?:async )?(\w+)(?:\(|: )", block.group(2), re.M):
            names.add(member)
    return names


def is_type_var(value):
    return isinstance(value, ast.Call) and getattr(value.func, "id", "") == "TypeVar"


def python_names():
    names = set()
    package = os.path.join(ROOT, "sdk", "python", "subnet_sdk")
    for file in sorted(os.listdir(package)):
        if not file.endswith(".py") or file.startswith("_") and file != "__init__.py":
            continue
        tree = ast.parse(read("sdk", "python", "subnet_sdk", file))
        exported = None
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
                exported = {elt.value for elt in node.value.elts if isinstance(elt, ast.Constant)}
        if exported is None:
            exported = set()
            for node in tree.body:
                if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                    exported.add(node.name)
                elif isinstance(node, ast.Assign) and not is_type_var(node.value):
                    exported.update(t.id for t in node.targets if isinstance(t, ast.Name) and t.id.isupper())
        names.update(n for n in exported if not n.startswith("_"))
    return names


def c_names():
    names = set()
    for file in ("subnet_sdk.h", "subnet_json.h"):
        header = read("sdk", "c", file)
        header = re.sub(r"/\*.*?\*/", "", header, flags=re.S)
        names.update(re.findall(r"\b(subnet_\w+)\s*\(", header))
        names.update(re.findall(r"}\s*(subnet_\w+_t)\s*;", header))
        # Enumerators and typedef'd opaque types.
        names.update(re.findall(r"^\s*(SUBNET_[A-Z0-9_]+),?\s*$", header, re.M))
        names.update(re.findall(r"typedef struct \w+ (subnet_\w+_t);", header))
        guard = file.upper().replace(".", "_")
        names.update(n for n in re.findall(r"#define (SUBNET_\w+)", header) if n != guard)
    return names


def main():
    problems = []
    for language, names, readme in [
        ("JavaScript", js_names(), ("sdk", "js", "README.md")),
        ("Python", python_names(), ("sdk", "python", "README.md")),
        ("C", c_names(), ("sdk", "c", "README.md")),
    ]:
        text = read(*readme)
        missing = sorted(n for n in names if not re.search(r"(?<![\w])" + re.escape(n) + r"(?![\w])", text))
        if missing:
            problems.append(f"{'/'.join(readme)} does not mention these {language} SDK exports: {', '.join(missing)}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 1
    print("sdk docs: every export is documented")
    return 0


if __name__ == "__main__":
    sys.exit(main())
