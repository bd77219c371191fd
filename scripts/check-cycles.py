#!/usr/bin/env python3
"""Report import cycles between the source files of Rust crates.

Usage: scripts/check-cycles.py [CRATE_DIR ...]   (default: every crates/*)
       scripts/check-cycles.py --self-test

A file depends on another when it names something defined there: a `use`
path, or a `crate::`/`super::`/`self::`/child-module path in code. Declaring
`mod child;` is not a dependency (the parent only owns the file), but a child
naming its parent (`use super::*`, `crate::parent::Item`) is, and so is a
parent naming its child's items (`use child::Item`, `child::f()`). A path
through a re-export (`pub use`) is followed to the file that defines the
item, so `crate::PoolError` counts as a use of error.rs, not of lib.rs.
Test-only code (`#[cfg(test)]` items, tests.rs files) is left out: a test
module importing its parent is no design problem.

Every strongly-connected component of more than one file is printed with the
edges inside it (file:line of each path). Exit status: 1 if any crate has a
cycle, 0 otherwise. This is a lexer plus a few rules, not a Rust parser:
macros' bodies are scanned like code, `#[path]` attributes are not followed,
and a name brought in by a glob is looked up one level deep only.
"""
import os
from collections import defaultdict
import re
import sys
import tempfile
from pathlib import Path

TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<line>//[^\n]*) | (?P<block>/\*)
  | (?P<str>b?r(?P<h>\#*)"(?:.|\n)*?"(?P=h) | [bc]?"(?:\\.|[^"\\])*")
  | (?P<char>b?'(?:\\(?:u\{[0-9a-fA-F]+\}|x..|.)|[^'\\\n])')
  | (?P<ident>(?:r\#)?[A-Za-z_][A-Za-z0-9_]*) | (?P<num>[0-9][0-9A-Za-z_]*)
  | (?P<punct>::|.)""", re.VERBOSE | re.DOTALL)


def tokens(src):
    """(text, line) pairs of identifiers and punctuation; comments, strings
    and chars dropped, so that doc links and text never look like paths."""
    out, pos, line = [], 0, 1
    while pos < len(src):
        m = TOKEN.match(src, pos)
        kind, text = m.lastgroup, m.group()
        if kind == "block":  # block comments nest in Rust, so count depth
            depth, end = 1, pos + 2
            while depth and end < len(src):
                two = src[end:end + 2]
                depth += {"/*": 1, "*/": -1}.get(two, 0)
                end += 2 if two in ("/*", "*/") else 1
            text = src[pos:end]
        elif kind in ("ident", "punct"):
            out.append((text.removeprefix("r#"), line))
        line += text.count("\n")
        pos += len(text)
    return out


def close_bracket(toks, i):
    """Index just past the `[ ... ]` group opening at i."""
    depth = 0
    for j in range(i, len(toks)):
        depth += {"[": 1, "]": -1}.get(toks[j][0], 0)
        if depth == 0:
            return j + 1
    return len(toks)


def skip_item(toks, i):
    """Index just past the item starting at i: its `;` or its outer `}`."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j][0]
        depth += {"{": 1, "}": -1}.get(t, 0)
        if (t == ";" and depth == 0) or (t == "}" and depth == 0):
            return j + 1
    return len(toks)


def use_tree(toks, i, prefix, out):
    """Parse one use-tree at i, appending (segments, alias, line); returns
    the index after it. Groups `{a, b::c}` recurse with the shared prefix."""
    segs = list(prefix)
    while i < len(toks):
        t, line = toks[i]
        if t == "{":
            i += 1
            while toks[i][0] != "}":
                i = use_tree(toks, i, segs, out)
                i += toks[i][0] == ","
            return i + 1
        if t == "::":
            i += 1
            continue
        if t != "self" or not segs:  # `a::{self, b}` names `a` itself
            segs.append(t)
        i += 1
        if t != "*" and toks[i][0] == "as":
            out.append((segs, toks[i + 1][0], line))
            return i + 2
        if toks[i][0] != "::":
            out.append((segs, segs[-1], line))
            return i


class Crate:
    def __init__(self, root):
        self.root = Path(root)
        self.file = {}  # module path (a tuple) -> the file that holds it
        self.children = defaultdict(set)  # module path -> child names
        self.imports = defaultdict(dict)  # module path -> {name: (scope, segs)}
        self.globs = defaultdict(list)  # module path -> [(scope, segs)]
        self.refs = []  # (file, line, scope, segs, in_code), resolved later
        src = self.root / "src"
        lib = src / "lib.rs" if (src / "lib.rs").exists() else src / "main.rs"
        self.load(lib, (), src)

    def load(self, path, mod, mod_dir):
        """Read one module file, then the files of the modules it declares."""
        name = str(path.relative_to(self.root))
        toks = tokens(path.read_text())
        scopes = [(mod, mod_dir, 0)]  # inline `mod x { }` blocks open scopes
        self.file[mod] = name
        depth, i = 0, 0
        while i < len(toks):
            t, line = toks[i]
            scope, sdir, base = scopes[-1]
            if t == "#":  # attribute: drop the next item if it is test-only
                bang = toks[i + 1][0] == "!"
                j = close_bracket(toks, i + 1 + bang)
                attr = "".join(x for x, _ in toks[i:j])
                i = j
                if attr in ("#[cfg(test)]", "#![cfg(test)]"):
                    i = len(toks) if bang else skip_item(toks, i)
                continue
            if t == "mod" and toks[i + 2][0] in ";{":
                child = toks[i + 1][0]
                self.children[scope].add(child)
                if toks[i + 2][0] == ";" and child != "tests":
                    d = sdir / child
                    f = d.with_suffix(".rs") if d.with_suffix(".rs").exists() else d / "mod.rs"
                    self.load(f, scope + (child,), d)
                elif toks[i + 2][0] == "{":
                    depth += 1
                    scopes.append((scope + (child,), sdir / child, depth))
                    self.file[scope + (child,)] = name
                i += 3
                continue
            if t == "use":
                found = []
                i = use_tree(toks, i + 1, [], found)
                for segs, alias, ln in found:
                    self.refs.append((name, ln, scope, segs, False))
                    if depth == base:  # fn-local uses name nothing for others
                        if segs[-1] == "*":
                            self.globs[scope].append((scope, segs[:-1]))
                        else:
                            self.imports[scope][alias] = (scope, segs)
                continue
            if t == "{":
                depth += 1
            elif t == "}":
                if depth == base and len(scopes) > 1:
                    scopes.pop()
                depth -= 1
            elif self.path_starts(toks, i):
                segs = [t]  # a path in code: a::b::c (turbofish ends it)
                while i + 2 < len(toks) and toks[i + 1][0] == "::" and re.match(r"\w", toks[i + 2][0]):
                    segs.append(toks[i + 2][0])
                    i += 2
                self.refs.append((name, line, scope, segs, True))
            i += 1

    @staticmethod
    def path_starts(toks, i):
        """Whether a path in code starts at i (but not `pub(in crate::x)`)."""
        before = [t for t, _ in toks[max(i - 2, 0) : i]]
        return toks[i + 1 : i + 2] and toks[i + 1][0] == "::" and before[-1:] != ["::"] and before != ["(", "in"]

    def glob_module(self, scope, name):
        return any(name in self.children[self.absolute(s, g) or ()] for s, g in self.globs[scope])

    def absolute(self, scope, segs, seen=0):
        """Segments as a path from the crate root, or None (another crate)."""
        if seen > 8:  # a `use` loop; rustc would reject it anyway
            return None
        if not segs:
            return tuple(scope)
        head, rest = segs[0], list(segs[1:])
        if head == "crate":
            return tuple(rest)
        if head == "self":
            return tuple(scope) + tuple(rest)
        if head == "super":
            return self.absolute(scope[:-1], ["self"] + rest, seen + 1)
        if head in self.children[scope]:
            return tuple(scope) + (head,) + tuple(rest)
        if head in self.imports[scope]:
            s, target = self.imports[scope][head]
            base = self.absolute(s, target, seen + 1)
            return None if base is None else base + tuple(rest)
        for s, g in self.globs[scope]:  # one level of glob lookup
            mod = self.absolute(s, g, seen + 1)
            if mod is not None and (head in self.children[mod] or head in self.imports[mod]):
                return self.absolute(mod, segs, seen + 1)
        return None

    def defining_file(self, path, seen=0):
        """The file defining what `path` names, seen through re-exports."""
        mod = ()
        for k, seg in enumerate(path):
            if mod + (seg,) in self.file:
                mod += (seg,)
            elif seg in self.imports[mod] and seen < 8 and seg != "*":
                s, target = self.imports[mod][seg]
                full = self.absolute(s, target)
                if full is None:  # re-export of another crate's item
                    return self.file[mod]
                return self.defining_file(full + tuple(path[k + 1:]), seen + 1)
            else:
                break
        return self.file[mod]

    def edges(self):
        """(from, to, line, paths): one per line and target file."""
        out = {}
        for name, line, scope, segs, in_code in self.refs:
            # In code, only module paths count: other names (types, enum
            # variants, locals) were brought in by a `use` already counted.
            head = segs[0]
            if in_code and head not in ("crate", "super", "self") and head not in self.children[scope]:
                if not self.glob_module(scope, head):
                    continue
            path = self.absolute(scope, segs)
            if path is not None:
                target = self.defining_file(path)
                if target != name and not target.endswith("tests.rs"):
                    out.setdefault((name, line, target), []).append("::".join(segs))
        return [(a, b, line, ", ".join(dict.fromkeys(p))) for (a, line, b), p in sorted(out.items())]


def cycles(edges):
    """Strongly-connected components with more than one file (Tarjan)."""
    graph = {}
    for a, b, *_ in edges:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set())
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while not comp or comp[-1] != v:
                comp.append(stack.pop())
                on.discard(comp[-1])
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def check(crate_dir, out=sys.stdout):
    """Print the crate's cycles; return how many there are."""
    crate = Crate(crate_dir)
    edges = crate.edges()
    comps = cycles(edges)
    print(f"{crate_dir}: {len(crate.file)} modules, {len(comps)} cycle(s)", file=out)
    for n, comp in enumerate(comps, 1):
        print(f"  cycle {n}: {' <-> '.join(comp)}", file=out)
        for a, b, line, path in edges:
            if a in comp and b in comp:
                print(f"    {a}:{line} -> {b}  ({path})", file=out)
    return len(comps)


def self_test():
    """A 2-file cycle is reported; a crate whose only back-edge is a test
    module importing its parent, or a mod.rs declaring children, is not."""
    import io
    files = {
        "cyclic/src/lib.rs": "mod a;\nmod b;\npub use a::A;\n",
        "cyclic/src/a.rs": "use crate::b::B;\npub struct A;\n",
        "cyclic/src/b.rs": "pub struct B;\nfn f() { let _ = crate::A; }\n",
        "clean/src/lib.rs": "mod a;\nmod d;\n/// [`crate::d::x`]\npub struct Top;\n",
        "clean/src/a.rs": 'use crate::d::x;\nconst S: &str = "crate::d::y";\nfn f() { crate::Top; }\n'
                          "#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
        "clean/src/d/mod.rs": "mod x;\nmod inner { pub fn g() {} }\n#[cfg(test)]\nmod tests;\n",
        "clean/src/d/x.rs": "pub fn x() { super::inner::g() }\n",
        "clean/src/d/tests.rs": "use super::x::x;\nuse crate::a;\n",
    }
    with tempfile.TemporaryDirectory() as tmp:
        for rel, text in files.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(text)
        report = io.StringIO()
        assert check(Path(tmp) / "cyclic", report) == 1, report.getvalue()
        assert "src/a.rs:1 -> src/b.rs" in report.getvalue(), report.getvalue()
        assert "src/b.rs:2 -> src/a.rs  (crate::A)" in report.getvalue(), report.getvalue()
        assert check(Path(tmp) / "clean", report) == 0, report.getvalue()
        clean = {(a, b) for a, b, *_ in Crate(Path(tmp) / "clean").edges()}
        assert clean == {("src/a.rs", "src/d/x.rs"), ("src/a.rs", "src/lib.rs"), ("src/d/x.rs", "src/d/mod.rs")}, clean
    print("self-test passed")


def main(args):
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    if args[:1] == ["--self-test"]:
        self_test()
        return 0
    if not args:  # run from the workspace root so that names stay short
        os.chdir(Path(__file__).resolve().parent.parent)
        args = sorted(str(p.parent) for p in Path("crates").glob("*/src"))
    return 1 if sum([check(d) for d in args]) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
