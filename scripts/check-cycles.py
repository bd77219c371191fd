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
macros' bodies are scanned like code, paths inside attributes are not, nor
are `#[path]` attributes followed, and a name brought in by a glob import is
looked up one level deep only.
"""
import io
import os
import re
import signal
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

TOKEN = re.compile(r"""
    (?P<ws>\s+) | (?P<line>//[^\n]*) | (?P<block>/\*)
  | (?P<str>b?r(?P<h>\#*)".*?"(?P=h) | [bc]?"(?:\\.|[^"\\])*")
  | (?P<char>b?'(?:\\(?:u\{[0-9a-fA-F]+\}|x..|.)|[^'\\\n])')
  | (?P<ident>(?:r\#)?[A-Za-z_]\w*) | (?P<num>[0-9]\w*) | (?P<punct>::|.)
""", re.VERBOSE | re.DOTALL)


def tokens(src):
    """(text, line) of each identifier and punctuation mark. Comments and
    literals are dropped, so that doc links and messages never look like
    paths."""
    out, pos, line = [], 0, 1
    while pos < len(src):
        m = TOKEN.match(src, pos)
        kind, end = m.lastgroup, m.end()
        if kind == "block":  # block comments nest in Rust
            depth = 1
            while depth and end < len(src):
                two = src[end:end + 2]
                depth += {"/*": 1, "*/": -1}.get(two, 0)
                end += 2 if two in ("/*", "*/") else 1
        elif kind in ("ident", "punct"):
            out.append((m.group().removeprefix("r#"), line))
        line += src.count("\n", pos, end)
        pos = end
    return out


def skip(toks, i, pair="{}"):
    """Index just past the item or group starting at i: the `;` or closing
    bracket that ends it at its own nesting level."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j][0]
        depth += (t == pair[0]) - (t == pair[1])
        if depth == 0 and t in (";", pair[1]):
            return j + 1
    return len(toks)


def use_tree(toks, i, prefix, out):
    """Parses the use-tree at i into out as (segments, alias, line); returns
    the index after it. A group `{a, b::c}` shares the prefix before it."""
    segs = list(prefix)
    while True:
        t, line = toks[i]
        i += 1
        if t == "{":
            while toks[i][0] != "}":
                i = use_tree(toks, i, segs, out)
                i += toks[i][0] == ","
            return i + 1
        if t != "::" and (t != "self" or not segs):  # `a::{self}` is `a`
            segs.append(t)
        if toks[i][0] == "as":
            out.append((segs, toks[i + 1][0], line))
            return i + 2
        if t != "::" and toks[i][0] != "::":
            out.append((segs, segs[-1], line))
            return i


class Crate:
    def __init__(self, root):
        self.root = Path(root)
        self.file = {}  # module path (a tuple) -> the file that holds it
        self.children = defaultdict(set)  # module path -> child names
        self.imports = defaultdict(dict)  # module -> {name: (scope, segs)}
        self.globs = defaultdict(list)  # module -> [(scope, segs)]
        self.refs = []  # (file, line, scope, segs, in_code), resolved later
        src = self.root / "src"
        self.load(src / "lib.rs" if (src / "lib.rs").exists() else src / "main.rs", (), src)

    def load(self, path, mod, mod_dir):
        """Reads one module's file, and the files of the modules it declares
        as it meets them. Resolving waits until every module is known."""
        name = str(path.relative_to(self.root))
        toks = tokens(path.read_text())
        self.file[mod] = name
        scopes = [(mod, mod_dir, 0)]  # `mod x { ... }` blocks open scopes
        depth, i = 0, 0
        while i < len(toks):
            t, line = toks[i]
            scope, sdir, base = scopes[-1]
            nxt = [x for x, _ in toks[i + 1:i + 3]]
            if t == "#":  # an attribute; `cfg(test)` drops the next item
                j = skip(toks, i + 1 + (nxt[0] == "!"), "[]")
                attr = "".join(x for x, _ in toks[i:j])
                if attr == "#![cfg(test)]":  # the whole file is test code
                    break
                i = skip(toks, j) if attr == "#[cfg(test)]" else j
            elif t == "mod" and nxt[1:] and nxt[1] in (";", "{"):
                child, i = nxt[0], i + 3
                self.children[scope].add(child)
                if nxt[1] == "{":
                    depth += 1
                    scopes.append((scope + (child,), sdir / child, depth))
                    self.file[scope + (child,)] = name
                elif child != "tests":
                    d = sdir / child
                    f = d.with_suffix(".rs") if d.with_suffix(".rs").exists() else d / "mod.rs"
                    if f.exists():  # else a #[path] or generated module
                        self.load(f, scope + (child,), d)
            elif t == "use":
                found = []
                i = use_tree(toks, i + 1, [], found)
                for segs, alias, ln in found:
                    self.refs.append((name, ln, scope, segs, False))
                    if depth == base and segs[-1] == "*":  # not fn-local
                        self.globs[scope].append((scope, segs[:-1]))
                    elif depth == base:
                        self.imports[scope][alias] = (scope, segs)
            else:
                if t == "{":
                    depth += 1
                elif t == "}":
                    if depth == base and len(scopes) > 1:
                        scopes.pop()
                    depth -= 1
                elif nxt[:1] == ["::"] and toks[i - 1][0] != "::" and not (
                    i > 1 and toks[i - 1][0] == "in" and toks[i - 2][0] == "("  # pub(in a::b)
                ):
                    segs = [t]  # a path in code; a turbofish ends it
                    while toks[i + 1:i + 2] and toks[i + 1][0] == "::" and re.match(r"\w", toks[i + 2][0]):
                        segs.append(toks[i + 2][0])
                        i += 2
                    self.refs.append((name, line, scope, segs, True))
                i += 1

    def glob_modules(self, scope, seen=0):
        """The modules that `use ...::*` in scope imports from."""
        return [m for m in (self.absolute(s, g, seen + 1) for s, g in self.globs[scope]) if m is not None]

    def absolute(self, scope, segs, seen=0):
        """Segments as a path from the crate root, or None (another crate)."""
        if seen > 8:  # a loop of imports: rustc rejects it anyway
            return None
        if not segs:
            return tuple(scope)
        head, rest = segs[0], tuple(segs[1:])
        if head == "crate":
            return rest
        if head == "self":
            return tuple(scope) + rest
        if head == "super":
            return self.absolute(scope[:-1], ("self",) + rest, seen + 1)
        if head in self.children[scope]:
            return tuple(scope) + (head,) + rest
        if head in self.imports[scope]:
            base = self.absolute(*self.imports[scope][head], seen + 1)
            return None if base is None else base + rest
        for mod in self.glob_modules(scope, seen):
            if head in self.children[mod] or head in self.imports[mod]:
                return self.absolute(mod, segs, seen + 1)
        return None

    def defining_file(self, path, seen=0):
        """The file that defines what path names, seen through re-exports."""
        mod = ()
        for k, seg in enumerate(path):
            if mod + (seg,) in self.file:
                mod += (seg,)
                continue
            if seg in self.imports[mod] and seen < 8:
                full = self.absolute(*self.imports[mod][seg])
                if full is not None:  # else another crate's item, re-exported
                    return self.defining_file(full + tuple(path[k + 1:]), seen + 1)
            break
        return self.file[mod]

    def edges(self):
        """(from, to, line, paths), one per line and target file."""
        out = defaultdict(list)
        for name, line, scope, segs, in_code in self.refs:
            # In code, only paths that start at a module count: other names
            # (types, variants, locals) came in by a `use`, counted already.
            head = segs[0]
            if in_code and head not in ("crate", "super", "self") and head not in self.children[scope]:
                if not any(head in self.children[m] for m in self.glob_modules(scope)):
                    continue
            path = self.absolute(scope, segs)
            target = None if path is None else self.defining_file(path)
            if target not in (None, name) and not target.endswith("tests.rs"):
                out[name, line, target].append("::".join(segs))
        return [(a, b, line, ", ".join(dict.fromkeys(p))) for (a, line, b), p in sorted(out.items())]


def cycles(edges):
    """Strongly-connected components of more than one file (Tarjan's)."""
    graph = defaultdict(set)
    for a, b, *_ in edges:
        graph[a].add(b)
    index, low, stack, found = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = stack[stack.index(v):]
            del stack[stack.index(v):]
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(set(graph)):
        if v not in index:
            visit(v)
    return sorted(found)


def check(crate_dir, out=sys.stdout):
    """Prints the crate's cycles and returns how many there are."""
    crate = Crate(crate_dir)
    edges = crate.edges()
    comps = cycles(edges)
    print(f"{crate_dir}: {len(crate.file)} modules, {len(comps)} cycle(s)", file=out)
    for n, comp in enumerate(comps, 1):
        print(f"  cycle {n}: {' <-> '.join(comp)}", file=out)
        for a, b, line, paths in edges:
            if a in comp and b in comp:
                print(f"    {a}:{line} -> {b}  ({paths})", file=out)
    return len(comps)


def self_test():
    """A two-file cycle is found; test modules importing their parent, a
    parent declaring children, and paths in comments or strings are not."""
    files = {
        "cyclic/src/lib.rs": "mod a;\nmod b;\npub use a::A;\n",
        "cyclic/src/a.rs": "#[derive(Debug)]\npub struct A(crate::b::B);\n",
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
        assert "src/a.rs:2 -> src/b.rs  (crate::b::B)" in report.getvalue(), report.getvalue()
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
    if not args:  # from the workspace root, so that the names stay short
        os.chdir(Path(__file__).resolve().parent.parent)
        args = sorted(str(p.parent) for p in Path("crates").glob("*/src"))
    return 1 if sum([check(d) for d in args]) else 0


if __name__ == "__main__":
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends us quietly, as it does grep
    sys.exit(main(sys.argv[1:]))
