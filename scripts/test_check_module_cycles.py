#!/usr/bin/env python3
"""Self-test of scripts/check_module_cycles.py on tiny fake crates built in a temp dir.

Run: python3 scripts/test_check_module_cycles.py   (or python3 -m unittest scripts/test_check_module_cycles.py)
"""

import contextlib
import importlib.util
import io
import sys
import tempfile
import textwrap
import unittest
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("check_module_cycles", _HERE / "check_module_cycles.py")
cmc = importlib.util.module_from_spec(_spec)
sys.modules["check_module_cycles"] = cmc  # dataclasses look their module up here
_spec.loader.exec_module(cmc)


class FakeWorkspace:
    def __init__(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.root = Path(self._tmp.name)

    def crate(self, name: str, files: dict) -> None:
        d = self.root / "crates" / name
        (d / "src").mkdir(parents=True, exist_ok=True)
        (d / "Cargo.toml").write_text(f'[package]\nname = "{name}"\nversion = "0.1.0"\n')
        for rel, text in files.items():
            p = d / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(textwrap.dedent(text))

    def run(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            rc = cmc.main(["--root", str(self.root), *args])
        return rc, out.getvalue()

    def edges(self, name: str, target: int = 0):
        _, targets = cmc.analyse_crate(self.root / "crates" / name, self.root)
        c = targets[target]
        src = self.root / "crates" / name / "src"
        return {
            (str(a.relative_to(src.resolve())), str(b.relative_to(src.resolve())))
            for a, b in c.edges
        }

    def close(self):
        self._tmp.cleanup()


class CheckerTest(unittest.TestCase):
    def setUp(self):
        self.ws = FakeWorkspace()

    def tearDown(self):
        self.ws.close()

    def test_cycle_through_a_reexport_is_found_and_points_at_the_defining_file(self):
        self.ws.crate(
            "reexp",
            {
                "src/lib.rs": """
                    mod a;
                    mod b;
                    pub use b::Thing;
                """,
                "src/a.rs": """
                    use crate::Thing;
                    pub fn helper() -> Thing { Thing }
                """,
                "src/b.rs": """
                    pub struct Thing;
                    pub fn f() { crate::a::helper(); }
                """,
            },
        )
        edges = self.ws.edges("reexp")
        self.assertIn(("a.rs", "b.rs"), edges)  # through lib.rs's `pub use`, not to lib.rs
        self.assertIn(("b.rs", "a.rs"), edges)
        self.assertNotIn(("a.rs", "lib.rs"), edges)
        rc, out = self.ws.run("--crate", "reexp")
        self.assertEqual(rc, 1, out)
        self.assertIn("crates/reexp/src/a.rs -> crates/reexp/src/b.rs -> crates/reexp/src/a.rs", out)
        self.assertIn("crates/reexp/src/a.rs:2: use crate::Thing;", out)
        self.assertIn("crates/reexp/src/b.rs:3: pub fn f() { crate::a::helper(); }", out)
        self.assertIn("a -> b -> a", out)  # rule 2 as well

    def test_parent_child_cycle_via_super(self):
        self.ws.crate(
            "parent",
            {
                "src/lib.rs": "mod p;\n",
                "src/p/mod.rs": """
                    mod c;
                    pub struct S;
                    pub fn f() { c::g(); }
                """,
                "src/p/c.rs": """
                    use super::S;
                    pub fn g() -> Option<S> { None }
                """,
            },
        )
        rc, out = self.ws.run("--crate", "parent")
        self.assertEqual(rc, 1, out)
        self.assertIn("crates/parent/src/p/c.rs -> crates/parent/src/p/mod.rs -> crates/parent/src/p/c.rs", out)
        self.assertIn("rule 2 (top-level modules): no cycles", out)

    def test_group_imports_are_parsed(self):
        self.ws.crate(
            "groups",
            {
                "src/lib.rs": "mod a;\nmod b;\nmod c;\nmod n;\n",
                "src/a.rs": """
                    use crate::{
                        b::X,
                        c::{self, Y},
                    };
                    pub struct A;
                    fn f(_: X, _: Y) { c::go(); }
                """,
                "src/b.rs": "pub struct X;\n",
                "src/c.rs": "pub struct Y;\npub fn go() {}\n",
                "src/n/mod.rs": "mod x;\nmod y;\nmod z;\npub struct N;\n",
                "src/n/x.rs": "pub fn x() {}\n",
                "src/n/y.rs": "pub struct Z;\n",
                "src/n/z.rs": "use super::{x, y::Z};\nfn f(_: Z) { x::x() }\n",
            },
        )
        edges = self.ws.edges("groups")
        self.assertIn(("a.rs", "b.rs"), edges)
        self.assertIn(("a.rs", "c.rs"), edges)
        self.assertIn(("n/z.rs", "n/x.rs"), edges)
        self.assertIn(("n/z.rs", "n/y.rs"), edges)
        self.assertNotIn(("n/z.rs", "n/mod.rs"), edges)
        rc, out = self.ws.run("--crate", "groups")
        self.assertEqual(rc, 0, out)
        # close a cycle through the group import: c now uses a
        (self.ws.root / "crates/groups/src/c.rs").write_text("pub struct Y;\npub fn go() { let _ = crate::a::A; }\n")
        rc, out = self.ws.run("--crate", "groups")
        self.assertEqual(rc, 1, out)
        self.assertIn("crates/groups/src/a.rs -> crates/groups/src/c.rs -> crates/groups/src/a.rs", out)
        self.assertIn("crates/groups/src/a.rs:4: c::{self, Y},", out)

    def test_acyclic_tree_with_tests_comments_and_strings_passes(self):
        self.ws.crate(
            "tree",
            {
                "src/lib.rs": """
                    //! Docs mention [`crate::leaf::Leaf`] and crate::mid::Mid.
                    pub mod leaf;
                    pub mod mid;
                    pub use mid::Mid;
                    /// Top-level type used by everyone.
                    pub struct Root;
                """,
                "src/leaf.rs": """
                    use crate::Root;
                    pub struct Leaf(pub Root);
                    // crate::mid::Mid would be a cycle if comments counted
                    /* and so would super::mid::Mid /* nested */ here */
                    pub const S: &str = "crate::mid::Mid";
                    pub const R: &str = r#"super::mid::Mid "quoted""#;
                    pub const C: char = '"';
                    fn life<'a>(x: &'a str) -> &'a str { x }
                    #[cfg(test)]
                    mod tests {
                        use super::*;
                        #[test]
                        fn t() { let _ = super::Leaf(crate::Root); }
                    }
                """,
                "src/mid.rs": """
                    use crate::leaf::{self, Leaf};
                    pub struct Mid(pub Leaf);
                    pub fn f() -> &'static str { leaf::S }
                    #[cfg(test)]
                    mod tests {
                        use super::*; // the file itself, not lib.rs
                    }
                """,
                "src/bin/tool/main.rs": """
                    mod helper;
                    fn main() { helper::run(); }
                """,
                "src/bin/tool/helper.rs": "pub fn run() {}\n",
                "src/bin/other.rs": "fn main() { crate::go(); }\nfn go() {}\n",
            },
        )
        edges = self.ws.edges("tree")
        self.assertEqual(edges, {("leaf.rs", "lib.rs"), ("mid.rs", "leaf.rs")})
        rc, out = self.ws.run("--crate", "tree")
        self.assertEqual(rc, 0, out)
        self.assertIn("tree [lib]", out)
        self.assertIn("tree [bin tool] (crates/tree/src/bin/tool/main.rs): 2 modules, 1 edges", out)
        self.assertIn("tree [bin other] (crates/tree/src/bin/other.rs): 1 modules, 0 edges", out)
        self.assertNotIn("cycle(s)", out)
        self.assertIn("no module cycles", out)

    def test_top_level_only_cycle(self):
        self.ws.crate(
            "top",
            {
                "src/lib.rs": "mod a;\nmod b;\n",
                "src/a/mod.rs": "mod inner;\npub struct A;\n",
                "src/a/inner.rs": "use crate::b::B;\npub fn f(_: B) {}\n",
                "src/b.rs": "pub struct B(pub crate::a::A);\n",
            },
        )
        rc, out = self.ws.run("--crate", "top")
        self.assertEqual(rc, 1, out)
        self.assertIn("rule 1 (module files): no cycles", out)
        self.assertIn("rule 2 (top-level modules): 1 cycle(s)", out)
        self.assertIn("    a -> b -> a", out)
        self.assertIn("crates/top/src/a/inner.rs:1: use crate::b::B;", out)

    def test_path_attribute_and_dot_output(self):
        self.ws.crate(
            "pathattr",
            {
                "src/lib.rs": "mod log;\npub use log::Log;\n",
                "src/log.rs": """
                    pub struct Log;
                    #[path = "log_replica.rs"]
                    mod replica;
                    fn f() { replica::follow(); }
                """,
                "src/log_replica.rs": "use super::Log;\npub fn follow() -> Option<Log> { None }\n",
            },
        )
        self.assertEqual(self.ws.edges("pathattr"), {("log.rs", "log_replica.rs"), ("log_replica.rs", "log.rs")})
        rc, out = self.ws.run("--crate", "pathattr", "--dot")
        self.assertEqual(rc, 1)
        self.assertTrue(out.startswith("digraph modules {"), out)
        self.assertIn('"pathattr:lib:crates/pathattr/src/log.rs" -> "pathattr:lib:crates/pathattr/src/log_replica.rs";', out)

    def test_unknown_crate_is_a_usage_error(self):
        self.ws.crate("one", {"src/lib.rs": "pub fn f() {}\n"})
        rc, _ = self.ws.run("--crate", "nope")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()
