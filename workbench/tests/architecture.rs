//! The layering docs/ARCHITECTURE.md promises, checked on the source: every `crate::`
//! (or `super::` reaching the crate root) path in `workbench/src` names a module of a
//! lower layer, or of the same layer without a cycle; only `cli/` knows clap; nothing
//! but `commands/` and `main.rs` imports `cli/` or `commands/`; the window engine is
//! built and driven only by `pipeline/driver.rs`; the engine reads no clock and does no
//! I/O; `main.rs` stays small.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers, lowest first. A module may import modules of lower layers, and of its own
/// layer as long as no cycle forms.
const LAYERS: &[&[&str]] = &[
    &["progress", "logging"],
    &["engine"],
    &["simulate", "labels", "table"],
    &["pipeline"],
    &["eval"],
    &["model"],
    &["http", "report", "datasets", "alert"],
    &["experiment", "train"],
    &["live", "stack", "kpi"],
    &["cli", "commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn src_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file under `src` (`a/b.rs` → [a, b]; `a/mod.rs` → [a]).
fn module_path(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Top-level modules a line of code names through `crate::` or enough `super::`s.
fn referenced(line: &str, depth: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident_at(item.trim());
                if !name.is_empty() {
                    out.push(name);
                }
            }
        } else {
            out.push(ident_at(after));
        }
        rest = after;
    }
    // `super::super::x` from depth 2 names crate::x.
    let mut rest = line;
    while let Some(i) = rest.find("super::") {
        let boundary = rest[..i]
            .chars()
            .last()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'));
        let mut after = &rest[i..];
        let mut ups = 0;
        while let Some(a) = after.strip_prefix("super::") {
            ups += 1;
            after = a;
        }
        if boundary && ups >= depth {
            out.push(ident_at(after));
        }
        rest = after;
    }
    out.retain(|n| !n.is_empty() && n != "self");
    out
}

struct Source {
    rel: PathBuf,
    module: Vec<String>,
    text: String,
}

fn sources() -> Vec<Source> {
    let src = src_dir();
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap().to_path_buf();
            Source {
                module: module_path(&rel),
                text: std::fs::read_to_string(&p).unwrap(),
                rel,
            }
        })
        .collect()
}

/// Code lines (comments dropped), without the `#[cfg(test)]` tail of a file.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let end = text.find("#[cfg(test)]\nmod tests").unwrap_or(text.len());
    text[..end]
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

/// Edges between top-level modules: (from, to) → where.
fn edges() -> BTreeMap<(String, String), Vec<String>> {
    let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for s in sources() {
        let Some(top) = s.module.first().cloned() else {
            continue;
        };
        if top == "lib" || top == "main" {
            continue;
        }
        for (n, line) in code_lines(&s.text) {
            for to in referenced(line, s.module.len()) {
                if to != top && layer_of(&to).is_some() {
                    out.entry((top.clone(), to))
                        .or_default()
                        .push(format!("{}:{n}", s.rel.display()));
                }
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let mut missing = BTreeSet::new();
    for s in sources() {
        let top = &s.module[0];
        if top != "lib" && top != "main" && layer_of(top).is_none() {
            missing.insert(top.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "modules without a layer (add them to LAYERS and docs/ARCHITECTURE.md): {missing:?}"
    );
}

#[test]
fn imports_point_down_the_layers() {
    let mut up = Vec::new();
    for ((from, to), at) in edges() {
        let (lf, lt) = (layer_of(&from).unwrap(), layer_of(&to).unwrap());
        if lt > lf {
            up.push(format!("{from} → {to} at {}", at.join(", ")));
        }
    }
    assert!(
        up.is_empty(),
        "imports running up a layer:\n{}",
        up.join("\n")
    );
}

#[test]
fn no_cycle_spans_two_modules() {
    let e = edges();
    let graph: BTreeMap<&str, BTreeSet<&str>> = e.keys().fold(BTreeMap::new(), |mut g, (a, b)| {
        g.entry(a.as_str()).or_default().insert(b.as_str());
        g
    });
    // Depth-first search for a back edge.
    fn visit<'a>(
        n: &'a str,
        g: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        state: &mut BTreeMap<&'a str, u8>,
        path: &mut Vec<&'a str>,
    ) -> Option<Vec<&'a str>> {
        state.insert(n, 1);
        path.push(n);
        for &m in g.get(n).into_iter().flatten() {
            match state.get(m) {
                Some(1) => {
                    let at = path.iter().position(|&p| p == m).unwrap_or(0);
                    let mut cycle = path[at..].to_vec();
                    cycle.push(m);
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n, 2);
        None
    }
    let mut state = BTreeMap::new();
    for &n in graph.keys() {
        if !state.contains_key(n) {
            if let Some(c) = visit(n, &graph, &mut state, &mut Vec::new()) {
                panic!("import cycle: {}", c.join(" → "));
            }
        }
    }
}

#[test]
fn only_the_command_line_knows_clap_and_only_main_and_commands_import_it() {
    for s in sources() {
        let top = s.module[0].as_str();
        for (n, line) in code_lines(&s.text) {
            let at = format!("{}:{n}", s.rel.display());
            if top != "cli"
                && top != "main"
                && (line.contains("clap::") || line.contains("use clap"))
            {
                panic!("{at}: clap outside cli/: {line}");
            }
            let names = referenced(line, s.module.len());
            if !matches!(top, "commands" | "cli" | "main" | "lib")
                && names.iter().any(|m| m == "cli" || m == "commands")
            {
                panic!("{at}: only main.rs and commands/ may import cli/ or commands/: {line}");
            }
            if top == "cli" && names.iter().any(|m| m == "commands") {
                panic!("{at}: cli/ must not import commands/: {line}");
            }
        }
    }
}

#[test]
fn the_engine_is_built_and_driven_only_by_the_pipeline_driver() {
    for s in sources() {
        let rel = s.rel.to_string_lossy().replace('\\', "/");
        if rel.starts_with("engine/") || rel == "pipeline/driver.rs" {
            continue;
        }
        for (n, line) in code_lines(&s.text) {
            assert!(
                !line.contains("WindowEngine"),
                "{rel}:{n}: the engine is used outside pipeline/driver.rs: {line}"
            );
        }
    }
}

#[test]
fn the_engine_does_no_io_and_reads_no_clock() {
    let forbidden = [
        "std::fs",
        "std::net::Tcp",
        "std::net::Udp",
        "Instant::now",
        "SystemTime::now",
        "println!",
        "eprintln!",
        "std::io::stdout",
        "std::thread",
        "tokio",
    ];
    for s in sources() {
        if s.module[0] != "engine" {
            continue;
        }
        for (n, line) in code_lines(&s.text) {
            for f in forbidden {
                assert!(
                    !line.contains(f),
                    "{}:{n}: the engine must not use {f}: {line}",
                    s.rel.display()
                );
            }
        }
    }
}

#[test]
fn main_only_parses_and_dispatches() {
    let main = std::fs::read_to_string(src_dir().join("main.rs")).unwrap();
    assert!(
        main.lines().count() <= 150,
        "main.rs has {} lines",
        main.lines().count()
    );
}

#[test]
fn the_scanner_sees_groups_and_supers() {
    assert_eq!(
        referenced("use crate::{engine::F, eval::Scorer};", 1),
        ["engine", "eval"]
    );
    assert_eq!(referenced("use super::super::model::x;", 2), ["model"]);
    assert!(referenced("use super::tree::Node;", 2).is_empty());
    assert_eq!(referenced("use super::tree::Node;", 1), ["tree"]);
}
