#!/usr/bin/env python3
"""Check that no crate under crates/ has a module import cycle.

Two rules, for every crate (every target root: src/lib.rs, src/main.rs, src/bin/*.rs):

1. No cycle among the modules (files) of the crate.
2. No cycle among the top-level modules of the crate, each top-level module collapsed with all
   its descendants into one node (the crate root file is a node of its own).

Model
-----
* A node is a module file: lib.rs / main.rs is the crate root, `foo.rs` or `foo/mod.rs` is module
  `foo`, `foo/bar.rs` is `foo::bar`; `#[path = "..."] mod x;` maps to the file named. Inline
  `mod x { ... }` blocks are modules of their own for path resolution but belong to their file.
* An edge A -> B means code in A refers to an item whose *defining* module is B, through
  `use crate::..` / `use super::..` / `use self::..` / `use child::..` (group imports included) or
  an inline path `crate::x`, `super::x`, `self::x`, `child::x` (comments and string literals are
  stripped first). A path resolves to the longest prefix naming a module; when the next segment is
  an item that module re-exports with `pub use`, the re-export is followed (recursively) to the
  module defining the item. `mod x;` declarations and `pub use` re-exports are not edges, and a
  file's references to itself (e.g. `use super::*` in an inline `mod tests`) are not edges.

Usage: scripts/check_module_cycles.py [--crate NAME]... [--dot] [--edges] [--root DIR] [--max-cycles N]
  --crate NAME  check only this crate (package name or directory name; repeatable)
  --dot         print the module graph in Graphviz form instead of the report
  --edges       also list every edge with the line that created it
Exit status: 0 when no cycle is found, 1 otherwise (2 on usage errors).
Self-test: python3 scripts/test_check_module_cycles.py
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
KEYWORDS_NOT_MODULES = {"crate", "super", "self", "Self"}


# --------------------------------------------------------------------------------------------
# Lexing: strip comments (and optionally string/char literals), keeping offsets and newlines.
# --------------------------------------------------------------------------------------------


def strip_source(text: str, strip_strings: bool = True) -> str:
    """Blank out comments (and string/char literal contents when `strip_strings`) with spaces,
    preserving newlines so byte offsets and line numbers stay valid."""
    out = list(text)
    n = len(text)
    i = 0

    def blank(a: int, b: int) -> None:
        for k in range(a, min(b, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "*":
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j)
            i = j
        elif c in "rb" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            # raw strings r"..", r#".."#, br"..", byte strings b"..", byte chars b'x'
            m = re.compile(r'(b?r)(#*)"').match(text, i)
            if m:
                end_delim = '"' + m.group(2)
                j = text.find(end_delim, m.end())
                j = n if j < 0 else j + len(end_delim)
                if strip_strings:
                    blank(m.end(), j - len(end_delim))
                i = j
            elif text.startswith('b"', i) or text.startswith("b'", i):
                i += 1  # handled as a normal string/char on the next iteration
            else:
                i += 1
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if strip_strings:
                blank(i + 1, j)
            i = j + 1
        elif c == "'":
            # char literal or lifetime / label
            if i + 1 < n and text[i + 1] == "\\":
                j = i + 2
                while j < n and text[j] != "'":
                    j += 2 if text[j] == "\\" else 1
                if strip_strings:
                    blank(i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                if strip_strings:
                    blank(i + 1, i + 2)
                i += 3
            else:
                i += 1
        else:
            i += 1
    return "".join(out)


def line_of(text: str, pos: int, cache: dict) -> int:
    starts = cache.get("starts")
    if starts is None:
        starts = [0] + [m.end() for m in re.finditer("\n", text)]
        cache["starts"] = starts
    lo, hi = 0, len(starts) - 1
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if starts[mid] <= pos:
            lo = mid
        else:
            hi = mid - 1
    return lo + 1


def matching_brace(code: str, open_pos: int) -> int:
    depth = 0
    for k in range(open_pos, len(code)):
        ch = code[k]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


# --------------------------------------------------------------------------------------------
# Use-tree parsing
# --------------------------------------------------------------------------------------------

TOKEN_RE = re.compile(r"\s*(::|\{|\}|,|\*|" + IDENT + r"|\$crate|.)", re.S)


def tokenize(s: str, base: int):
    """Tokens of a use tree with their absolute offsets."""
    toks, i = [], 0
    while i < len(s):
        m = TOKEN_RE.match(s, i)
        if not m or not m.group(1):
            break
        toks.append((m.group(1), base + m.start(1)))
        i = m.end()
    return toks


def parse_use_tree(toks):
    """Expand a use tree into leaves: (segments, alias_or_None, is_glob, offset).
    `a::{self, b as c}` gives (['a'], None), (['a','b'], 'c'); `self` in a group names the prefix."""
    leaves = []
    pos = 0

    def tree(prefix):
        nonlocal pos
        segs = list(prefix)
        start_off = toks[pos][1] if pos < len(toks) else 0
        while pos < len(toks):
            t, off = toks[pos]
            if t == "::":
                pos += 1
                continue
            if t == "{":
                pos += 1
                while pos < len(toks) and toks[pos][0] != "}":
                    if toks[pos][0] == ",":
                        pos += 1
                        continue
                    tree(segs)
                pos += 1  # skip '}'
                return
            if t == "*":
                leaves.append((segs, None, True, off))
                pos += 1
                return
            if t in (",", "}"):
                break
            if re.fullmatch(IDENT, t) or t == "$crate":
                if t == "self" and segs and len(segs) == len(prefix):
                    pos += 1  # `{self}` / `{self as x}`: the prefix itself
                else:
                    segs.append("crate" if t == "$crate" else t)
                    start_off = off
                    pos += 1
                if pos < len(toks) and toks[pos][0] == "as":
                    alias = toks[pos + 1][0] if pos + 1 < len(toks) else None
                    pos += 2
                    leaves.append((segs, alias, False, start_off))
                    return
                if pos >= len(toks) or toks[pos][0] in (",", "}"):
                    leaves.append((segs, None, False, start_off))
                    return
                continue
            pos += 1  # unexpected token: skip
        if segs != list(prefix):
            leaves.append((segs, None, False, start_off))

    while pos < len(toks):
        if toks[pos][0] == ",":
            pos += 1
            continue
        before = pos
        tree([])
        if pos == before:
            pos += 1
    return leaves


# --------------------------------------------------------------------------------------------
# Module tree
# --------------------------------------------------------------------------------------------


@dataclass
class UseStmt:
    module: tuple  # logical module the statement is in
    leaves: list  # (segments, alias, is_glob, offset)
    public: bool
    start: int
    end: int


@dataclass
class Module:
    path: tuple  # logical path below the crate root
    file: Path  # file the module's code is in
    child_dir: Path  # directory where its `mod x;` children live
    inline: bool = False
    children: dict = field(default_factory=dict)  # name -> logical path
    reexports: dict = field(default_factory=dict)  # name -> segments (relative to this module)
    globs: list = field(default_factory=list)  # segments of `pub use x::*`
    items: set = field(default_factory=set)  # names of items defined here


@dataclass
class FileInfo:
    path: Path
    raw: str
    code: str  # comments and strings blanked
    spans: list = field(default_factory=list)  # (start, end, logical path) for inline modules
    uses: list = field(default_factory=list)
    lines: dict = field(default_factory=dict)


ITEM_RE = re.compile(
    r"\b(?:struct|enum|union|trait|type|fn|const|static|macro_rules\s*!)\s+(" + IDENT + r")"
)
MOD_RE = re.compile(
    r"((?:#\s*\[[^\]]*\]\s*)*)(?:(?<![A-Za-z0-9_])pub\s*(?:\([^)]*\))?\s*)?(?<![A-Za-z0-9_])mod\s+(" + IDENT + r")\s*([;{])"
)
PATH_ATTR_RE = re.compile(r'#\s*\[\s*path\s*=\s*"([^"]*)"\s*\]')
USE_RE = re.compile(r"(?<![A-Za-z0-9_])(pub\s*(?:\([^)]*\))?\s*)?use\s+")
INLINE_PATH_RE = re.compile(
    r"(?<![A-Za-z0-9_:.$])(\$crate|crate|super|self|" + IDENT + r")((?:\s*::\s*" + IDENT + r")+)"
)
VIS_IN_RE = re.compile(r"pub\s*\(\s*in\s+[^)]*\)")


class Crate:
    def __init__(self, name: str, crate_dir: Path, root_file: Path, target: str):
        self.name = name
        self.dir = crate_dir
        self.target = target
        self.modules: dict[tuple, Module] = {}
        self.files: dict[Path, FileInfo] = {}
        self.file_module: dict[Path, tuple] = {}
        self.edges: dict[tuple, tuple] = {}  # (src file, dst file) -> (file, line, text)
        self.root_file = root_file
        self.load(root_file, (), mod_rs=True)

    # ---- loading -------------------------------------------------------------------------
    def load(self, file: Path, mpath: tuple, mod_rs: bool) -> None:
        file = file.resolve()
        if file in self.files or not file.is_file():
            return
        raw = file.read_text(encoding="utf-8", errors="replace")
        no_comments = strip_source(raw, strip_strings=False)
        code = strip_source(raw, strip_strings=True)
        info = FileInfo(file, raw, code)
        self.files[file] = info
        self.file_module[file] = mpath
        child_dir = file.parent if mod_rs else file.parent / file.stem
        self.modules[mpath] = Module(mpath, file, child_dir)
        # inline modules first (so positions can be mapped to logical modules)
        decls = []
        for m in MOD_RE.finditer(code):
            attrs = no_comments[m.start(1) : m.end(1)]
            decls.append((m, PATH_ATTR_RE.search(attrs)))
        for m, _ in decls:
            if m.group(3) == "{":
                open_pos = m.end(3) - 1
                close = matching_brace(code, open_pos)
                info.spans.append((open_pos, close, m.group(2)))
        info.spans.sort()
        resolved_spans = []
        for start, end, name in info.spans:
            parent = self.module_at(info, start, resolved_spans, mpath)
            lp = parent + (name,)
            parent_mod = self.modules[parent]
            parent_mod.children[name] = lp
            self.modules[lp] = Module(lp, file, parent_mod.child_dir / name, inline=True)
            resolved_spans.append((start, end, lp))
        info.spans = resolved_spans
        # items defined in each (logical) module
        for m in ITEM_RE.finditer(code):
            self.modules[self.module_at(info, m.start())].items.add(m.group(1))
        # file modules
        for m, path_attr in decls:
            if m.group(3) != ";":
                continue
            name = m.group(2)
            parent = self.module_at(info, m.start(2))
            pmod = self.modules[parent]
            lp = parent + (name,)
            pmod.children[name] = lp
            if path_attr:
                base = file.parent if not pmod.inline else pmod.child_dir
                target = (base / path_attr.group(1)).resolve()
                self.load(target, lp, mod_rs=True)
            else:
                cand = pmod.child_dir / f"{name}.rs"
                if cand.is_file():
                    self.load(cand, lp, mod_rs=False)
                else:
                    self.load(pmod.child_dir / name / "mod.rs", lp, mod_rs=True)
        # use statements
        for m in USE_RE.finditer(code):
            if m.start() > 0 and code[m.start() - 1] in "$":
                continue
            semi = code.find(";", m.end())
            if semi < 0:
                continue
            body = code[m.end() : semi]
            leaves = parse_use_tree(tokenize(body, m.end()))
            mod_here = self.module_at(info, m.start())
            stmt = UseStmt(mod_here, leaves, bool(m.group(1)), m.start(), semi)
            info.uses.append(stmt)
            if stmt.public:
                mod = self.modules[mod_here]
                for segs, alias, glob, _ in leaves:
                    if glob:
                        mod.globs.append(segs)
                    elif segs:
                        mod.reexports[alias or segs[-1]] = segs

    def module_at(self, info: FileInfo, pos: int, spans=None, default=None) -> tuple:
        spans = info.spans if spans is None else spans
        best = default if default is not None else self.file_module[info.path]
        best_len = -1
        for start, end, lp in spans:
            if start <= pos <= end and len(lp) > best_len:
                best, best_len = lp, len(lp)
        return best

    # ---- resolution ----------------------------------------------------------------------
    def start_of(self, segs: list, here: tuple):
        """Absolute module path where a path's first segment points, and the remaining segments;
        None for paths outside the crate (external crates, std, local names)."""
        if not segs:
            return None
        first = segs[0]
        if first == "crate":
            return (), segs[1:]
        if first in ("self", "super"):
            cur = here
            i = 0
            while i < len(segs) and segs[i] in ("self", "super"):
                if segs[i] == "super":
                    if not cur:
                        return None
                    cur = cur[:-1]
                i += 1
            return cur, segs[i:]
        if first in self.modules.get(here, Module((), Path(), Path())).children:
            return here, segs
        return None

    def resolve(self, segs: list, here: tuple, depth: int = 0):
        """Defining module (logical path) of the item a path names, or None if outside the crate."""
        st = self.start_of(segs, here)
        if st is None or depth > 20:
            return None
        cur, rest = st
        return self.walk(cur, list(rest), depth)

    def walk(self, cur: tuple, rest: list, depth: int):
        while rest:
            mod = self.modules.get(cur)
            if mod is None:
                return cur
            seg = rest[0]
            if seg in mod.children:
                cur = mod.children[seg]
                rest = rest[1:]
                continue
            if seg in mod.reexports:
                target = self.resolve(mod.reexports[seg] + rest[1:], cur, depth + 1)
                return target if target is not None else cur
            for g in mod.globs:
                gst = self.start_of(g, cur)
                if gst is None:
                    continue
                gmod_path = self.walk(gst[0], list(gst[1]), depth + 1)
                gmod = self.modules.get(gmod_path)
                if gmod is not None and gmod_path != cur and (
                    seg in gmod.items or seg in gmod.reexports or seg in gmod.children
                ):
                    return self.walk(gmod_path, rest, depth + 1)
            return cur
        return cur

    # ---- edges ---------------------------------------------------------------------------
    def add_edge(self, info: FileInfo, pos: int, target: tuple | None) -> None:
        if target is None or target not in self.modules:
            return
        dst = self.modules[target].file
        if dst == info.path:
            return
        key = (info.path, dst)
        if key not in self.edges:
            ln = line_of(info.raw, pos, info.lines)
            text = info.raw.splitlines()[ln - 1].strip()
            self.edges[key] = (info.path, ln, text)

    def build_edges(self) -> None:
        for info in self.files.values():
            code = VIS_IN_RE.sub(lambda m: " " * len(m.group(0)), info.code)
            in_use = []
            aliases: dict[tuple, dict] = {}  # module -> alias name -> module path
            for stmt in info.uses:
                in_use.append((stmt.start, stmt.end))
                if stmt.public:
                    continue
                for segs, alias, glob, off in stmt.leaves:
                    target = self.resolve(segs, stmt.module)
                    if target is None:
                        continue
                    whole = self.start_of(segs, stmt.module)
                    names_module = (
                        not glob
                        and whole is not None
                        and self.walk(whole[0], list(whole[1]), 0) == target
                        and self.is_module_path(whole[0], list(whole[1]))
                    )
                    if names_module:
                        # importing a module: edges come from the paths that use the alias
                        name = alias or segs[-1]
                        if name == "self":
                            name = segs[-2] if len(segs) > 1 else name
                        aliases.setdefault(stmt.module, {})[name] = (target, info, off)
                    else:
                        self.add_edge(info, off, target)
            used_alias = set()
            for m in INLINE_PATH_RE.finditer(code):
                pos = m.start()
                if any(a <= pos <= b for a, b in in_use):
                    continue
                segs = [m.group(1)] + [s.strip() for s in m.group(2).split("::") if s.strip()]
                if segs[0] == "$crate":
                    segs[0] = "crate"
                here = self.module_at(info, pos)
                if segs[0] not in KEYWORDS_NOT_MODULES:
                    scope_aliases = self.aliases_in_scope(aliases, here)
                    if segs[0] in scope_aliases:
                        target_mod = scope_aliases[segs[0]][0]
                        used_alias.add((scope_aliases[segs[0]][0], segs[0]))
                        self.add_edge(info, pos, self.walk(target_mod, segs[1:], 0))
                        continue
                    if segs[0] not in self.modules[here].children:
                        continue
                self.add_edge(info, pos, self.resolve(segs, here))
            for mod_aliases in aliases.values():
                for name, (target, finfo, off) in mod_aliases.items():
                    if (target, name) not in used_alias:
                        self.add_edge(finfo, off, target)

    def aliases_in_scope(self, aliases: dict, here: tuple) -> dict:
        # `use` declarations are scoped to the module they are written in
        return aliases.get(here, {})

    def is_module_path(self, cur: tuple, rest: list) -> bool:
        for seg in rest:
            mod = self.modules.get(cur)
            if mod is None or seg not in mod.children:
                return False
            cur = mod.children[seg]
        return True

    # ---- reporting helpers ---------------------------------------------------------------
    def rel(self, f: Path) -> str:
        try:
            return str(f.relative_to(self.workspace_root))
        except ValueError:
            return str(f)

    def top_of(self, f: Path) -> str:
        mp = self.file_module[f]
        return mp[0] if mp else f"(crate root {f.name})"


# --------------------------------------------------------------------------------------------
# Graph algorithms
# --------------------------------------------------------------------------------------------


def sccs(nodes, succ):
    """Tarjan's strongly connected components (iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(succ.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            advanced = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(succ.get(w, ())))))
                    advanced = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == v:
                        break
                out.append(comp)
    return out


def elementary_cycles(nodes, succ, limit):
    """Elementary cycles (Johnson's algorithm; each cycle once, starting at its smallest node),
    at most `limit` of them. Returns (cycles, truncated)."""
    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    order = {n: i for i, n in enumerate(sorted(nodes))}
    cycles: list = []

    class Enough(Exception):
        pass

    for comp in sorted(sccs(sorted(nodes), succ), key=lambda c: min(order[n] for n in c)):
        if len(comp) < 2:
            continue
        remaining = sorted(comp, key=order.get)
        while len(remaining) > 1:
            sub = set(remaining)
            sub_succ = {v: {w for w in succ.get(v, ()) if w in sub} for v in sub}
            # the SCC of the remaining subgraph holding its smallest node
            comps = [c for c in sccs(sorted(sub, key=order.get), sub_succ) if len(c) > 1]
            if not comps:
                break
            scc = min(comps, key=lambda c: min(order[n] for n in c))
            start = min(scc, key=order.get)
            scc_set = set(scc)
            blocked: set = set()
            bmap: dict = {v: set() for v in scc}
            path: list = []

            def unblock(u):
                stack = [u]
                while stack:
                    x = stack.pop()
                    if x in blocked:
                        blocked.discard(x)
                        stack.extend(bmap[x])
                        bmap[x].clear()

            def circuit(v) -> bool:
                found = False
                path.append(v)
                blocked.add(v)
                for w in sorted(sub_succ[v] & scc_set, key=order.get):
                    if w == start:
                        cycles.append(path + [start])
                        if len(cycles) >= limit:
                            raise Enough
                        found = True
                    elif w not in blocked and circuit(w):
                        found = True
                if found:
                    unblock(v)
                else:
                    for w in sub_succ[v] & scc_set:
                        bmap[w].add(v)
                path.pop()
                return found

            try:
                circuit(start)
            except Enough:
                return cycles, True
            remaining = [n for n in remaining if n != start]
    return cycles, False


# --------------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------------


def package_name(crate_dir: Path) -> str:
    toml = crate_dir / "Cargo.toml"
    if toml.is_file():
        in_pkg = False
        for line in toml.read_text(encoding="utf-8", errors="replace").splitlines():
            s = line.strip()
            if s.startswith("["):
                in_pkg = s == "[package]"
            elif in_pkg:
                m = re.match(r'name\s*=\s*"([^"]+)"', s)
                if m:
                    return m.group(1)
    return crate_dir.name


def target_roots(crate_dir: Path):
    src = crate_dir / "src"
    roots = []
    for name in ("lib.rs", "main.rs"):
        if (src / name).is_file():
            roots.append((src / name, name[:-3]))
    bindir = src / "bin"
    if bindir.is_dir():
        for p in sorted(bindir.iterdir()):
            if p.suffix == ".rs" and p.is_file():
                roots.append((p, f"bin {p.stem}"))
            elif p.is_dir() and (p / "main.rs").is_file():
                roots.append((p / "main.rs", f"bin {p.name}"))
    return roots


def analyse_crate(crate_dir: Path, workspace_root: Path):
    name = package_name(crate_dir)
    targets = []
    for root, tname in target_roots(crate_dir):
        c = Crate(name, crate_dir, root, tname)
        c.workspace_root = workspace_root
        c.build_edges()
        targets.append(c)
    return name, targets


def report_cycles(title, cycles, truncated, describe_node, edge_example, out):
    if not cycles:
        out.append(f"  {title}: no cycles")
        return
    more = " (limit reached; more exist)" if truncated else ""
    out.append(f"  {title}: {len(cycles)} cycle(s){more}")
    for cyc in cycles:
        out.append("    " + " -> ".join(describe_node(n) for n in cyc))
        for a, b in zip(cyc, cyc[1:]):
            f, ln, text = edge_example(a, b)
            out.append(f"      {describe_node(a)} -> {describe_node(b)}: {f}:{ln}: {text}")


def check(crate_dirs, workspace_root: Path, max_cycles: int, out: list, edges=False) -> int:
    bad = 0
    for crate_dir in crate_dirs:
        name, targets = analyse_crate(crate_dir, workspace_root)
        if not targets:
            out.append(f"{name}: no src/lib.rs, src/main.rs or src/bin (skipped)")
            continue
        for c in targets:
            nodes = sorted(c.files)
            succ: dict = {}
            for a, b in c.edges:
                succ.setdefault(a, set()).add(b)
            out.append(
                f"{name} [{c.target}] ({c.rel(c.root_file)}): {len(nodes)} modules, {len(c.edges)} edges"
            )
            if edges:
                for (a, b), (f, ln, text) in sorted(c.edges.items()):
                    out.append(f"    edge {c.rel(a)} -> {c.rel(b)}: {c.rel(f)}:{ln}: {text}")
            cycles, trunc = elementary_cycles(nodes, succ, max_cycles)
            report_cycles(
                "rule 1 (module files)",
                cycles,
                trunc,
                c.rel,
                lambda a, b: (lambda e: (c.rel(e[0]), e[1], e[2]))(c.edges[(a, b)]),
                out,
            )
            # rule 2: collapse to top-level modules
            top_edges: dict = {}
            for (a, b), ex in sorted(c.edges.items()):
                ta, tb = c.top_of(a), c.top_of(b)
                if ta != tb:
                    top_edges.setdefault((ta, tb), ex)
            tsucc: dict = {}
            for a, b in top_edges:
                tsucc.setdefault(a, set()).add(b)
            tnodes = sorted({c.top_of(f) for f in nodes})
            tcycles, ttrunc = elementary_cycles(tnodes, tsucc, max_cycles)
            out.append(f"  top-level modules: {len(tnodes)}, edges: {len(top_edges)}")
            report_cycles(
                "rule 2 (top-level modules)",
                tcycles,
                ttrunc,
                str,
                lambda a, b: (lambda e: (c.rel(e[0]), e[1], e[2]))(top_edges[(a, b)]),
                out,
            )
            if cycles or tcycles:
                bad = 1
    return bad


def dot(crate_dirs, workspace_root: Path) -> str:
    lines = ["digraph modules {", "  rankdir=LR;", "  node [shape=box, fontsize=10];"]
    for crate_dir in crate_dirs:
        name, targets = analyse_crate(crate_dir, workspace_root)
        for c in targets:
            prefix = f"{name}:{c.target}:"
            lines.append(f'  subgraph "cluster_{prefix}" {{')
            lines.append(f'    label="{name} [{c.target}]";')
            groups: dict = {}
            for f in sorted(c.files):
                groups.setdefault(c.top_of(f), []).append(f)
            for top, files in sorted(groups.items()):
                inner = len(files) > 1
                if inner:
                    lines.append(f'    subgraph "cluster_{prefix}{top}" {{ label="{top}";')
                for f in files:
                    mp = c.file_module[f]
                    label = "::".join(mp) if mp else f"crate ({f.name})"
                    lines.append(f'      "{prefix}{c.rel(f)}" [label="{label}"];')
                if inner:
                    lines.append("    }")
            for a, b in sorted(c.edges):
                lines.append(f'    "{prefix}{c.rel(a)}" -> "{prefix}{c.rel(b)}";')
            lines.append("  }")
    lines.append("}")
    return "\n".join(lines)


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", type=Path, default=here.parent, help="workspace root (default: repo)")
    ap.add_argument("--crate", action="append", help="check only this crate (package or dir name)")
    ap.add_argument("--dot", action="store_true", help="print the module graph in Graphviz form")
    ap.add_argument("--edges", action="store_true", help="also list every edge with its example line")
    ap.add_argument("--max-cycles", type=int, default=200, help="cycles listed per rule and target")
    args = ap.parse_args(argv)
    root = args.root.resolve()
    crates_dir = root / "crates"
    if not crates_dir.is_dir():
        print(f"no crates/ directory under {root}", file=sys.stderr)
        return 2
    crate_dirs = sorted(
        p for p in crates_dir.iterdir() if p.is_dir() and p.name != "vendor" and (p / "src").is_dir()
    )
    if args.crate:
        wanted = set(args.crate)
        crate_dirs = [p for p in crate_dirs if p.name in wanted or package_name(p) in wanted]
        found = {p.name for p in crate_dirs} | {package_name(p) for p in crate_dirs}
        missing = wanted - found
        if missing:
            print(f"unknown crate(s): {', '.join(sorted(missing))}", file=sys.stderr)
            return 2
    if args.dot:
        print(dot(crate_dirs, root))
        out: list = []
        return check(crate_dirs, root, args.max_cycles, out)
    out = []
    status = check(crate_dirs, root, args.max_cycles, out, args.edges)
    print("\n".join(out))
    print("module cycles found" if status else "no module cycles")
    return status


if __name__ == "__main__":
    sys.exit(main())
