//! The server's modules in layers: no module of `server/src` uses one that
//! uses it back (read from the `crate::` and `super::` paths in the code),
//! each file opens with a doc comment saying what it holds and what it may
//! use, and no source file of the three crates runs past about 600 lines.
//! A failure names the files to look at.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which module uses which, by name.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// A file of `server/src`: its module and the modules it names.
struct SourceFile {
    module: Vec<String>,
    uses: Vec<Vec<String>>,
    path: PathBuf,
}

/// Past this many lines a file is two files (the brief's rule).
const MAX_LINES: usize = 620;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace")
        .to_path_buf()
}

/// Every `.rs` file under `dir`.
fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("source directory readable") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `pipeline/consumer/mod.rs` → `["pipeline", "consumer"]`; `main.rs` → `[]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("file under src");
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap_or_default();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "main" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The paths a file names: `crate::a::b` and `super::a` (resolved against
/// the file's own module), each as module segments. `use crate::a::{b, c}`
/// counts as `a::b` and `a::c`, over several lines too.
fn named_paths(text: &str, own: &[String], is_mod_file: bool) -> Vec<Vec<String>> {
    // Comments out (a `//` inside a string literal cuts a line short, which
    // at worst hides a path written in that literal).
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let starts = code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
        .map(|(at, _)| at);
    for at in starts {
        // Not the tail of a longer word (`my_crate::`) or of `super::super`.
        if code[..at]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
        {
            continue;
        }
        let mut rest = &code[at..];
        let mut base = Vec::new();
        if let Some(r) = rest.strip_prefix("crate::") {
            rest = r;
        } else {
            // `super` of `a/b.rs` (module a::b) is a; of `a/b/mod.rs`
            // (module a::b as well) it is a too.
            base = own.to_vec();
            let _ = is_mod_file;
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
        }
        let (words, rest) = segments(rest);
        let mut path = base;
        path.extend(words);
        match rest.trim_start().strip_prefix('{') {
            Some(list) => {
                let list = &list[..matching_brace(list)];
                for item in top_level_items(list) {
                    let (inner, _) = segments(item.trim());
                    let mut full = path.clone();
                    full.extend(inner.into_iter().filter(|s| s != "self"));
                    found.push(full);
                }
            }
            None => found.push(path),
        }
    }
    found
}

/// The `a::b::c` words at the start of `text`, and what follows them.
fn segments(text: &str) -> (Vec<String>, &str) {
    let mut words = Vec::new();
    let mut rest = text;
    loop {
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            return (words, rest);
        }
        words.push(rest[..end].to_string());
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(r) if r.starts_with(|c: char| c.is_alphanumeric() || c == '_') => rest = r,
            Some(r) => return (words, r),
            None => return (words, rest),
        }
    }
}

/// Where the `}` closing a list that starts right after its `{` is.
fn matching_brace(list: &str) -> usize {
    let mut depth = 0i32;
    for (i, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return i,
            '}' => depth -= 1,
            _ => {}
        }
    }
    list.len()
}

/// The comma-separated items of a `{...}` list, nested lists kept whole.
fn top_level_items(list: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(&list[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&list[start..]);
    items.into_iter().filter(|i| !i.trim().is_empty()).collect()
}

/// The longest prefix of `path` that is a module.
fn resolve(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// Strongly connected components of more than one node.
fn cycles(edges: &Graph) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = edges.keys().collect();
    let reaches = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut pending = vec![from.clone()];
        while let Some(n) = pending.pop() {
            for next in edges.get(&n).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    pending.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> = nodes.iter().map(|n| (*n, reaches(n))).collect();
    let mut found: Vec<Vec<String>> = Vec::new();
    for n in &nodes {
        let mut group: Vec<String> = nodes
            .iter()
            .filter(|m| *m != n && reach[n].contains(**m) && reach[*m].contains(*n))
            .map(|m| m.to_string())
            .collect();
        if !group.is_empty() {
            group.push(n.to_string());
            group.sort();
            if !found.contains(&group) {
                found.push(group);
            }
        }
    }
    found
}

/// Edges between the modules one level under `parent` (files of `parent`
/// itself left out: a `mod.rs` declares its children, and they use what it
/// defines), each edge with a file that makes it.
fn level_edges(
    files: &[SourceFile],
    parent: &[String],
) -> (Graph, BTreeMap<(String, String), PathBuf>) {
    let mut edges = Graph::new();
    let mut witness = BTreeMap::new();
    for SourceFile {
        module: own,
        uses,
        path: file,
    } in files
    {
        if own.len() <= parent.len() || own[..parent.len()] != *parent {
            continue;
        }
        let from = own[parent.len()].clone();
        for used in uses {
            if used.len() <= parent.len() || used[..parent.len()] != *parent {
                continue;
            }
            let to = used[parent.len()].clone();
            if to != from {
                edges.entry(from.clone()).or_default().insert(to.clone());
                edges.entry(to.clone()).or_default();
                witness
                    .entry((from.clone(), to))
                    .or_insert_with(|| file.clone());
            }
        }
    }
    (edges, witness)
}

#[test]
fn server_modules_form_layers_without_cycles() {
    let src = workspace().join("server/src");
    let paths = sources(&src);
    let modules: BTreeSet<Vec<String>> = paths.iter().map(|p| module_path(&src, p)).collect();
    let files: Vec<SourceFile> = paths
        .iter()
        .map(|p| {
            let own = module_path(&src, p);
            let text = std::fs::read_to_string(p).expect("source readable");
            let is_mod = p.file_name().is_some_and(|n| n == "mod.rs");
            let uses = named_paths(&text, &own, is_mod)
                .iter()
                .filter_map(|path| resolve(path, &modules))
                .collect();
            SourceFile {
                module: own,
                uses,
                path: p.clone(),
            }
        })
        .collect();
    // Every directory's children, the crate root's first.
    let parents: BTreeSet<Vec<String>> = modules
        .iter()
        .filter(|m| !m.is_empty())
        .map(|m| m[..m.len() - 1].to_vec())
        .collect();
    let mut problems = Vec::new();
    for parent in &parents {
        let (edges, witness) = level_edges(&files, parent);
        for cycle in cycles(&edges) {
            let mut why = Vec::new();
            for a in &cycle {
                for b in &cycle {
                    if let Some(file) = witness.get(&(a.clone(), b.clone())) {
                        why.push(format!(
                            "{a} uses {b} ({})",
                            file.strip_prefix(&src).unwrap_or(file).display()
                        ));
                    }
                }
            }
            problems.push(format!(
                "in crate::{}: {} use each other: {}",
                parent.join("::"),
                cycle.join(", "),
                why.join("; ")
            ));
        }
    }
    assert!(problems.is_empty(), "import cycles:\n{}", problems.join("\n"));
}

#[test]
fn every_server_module_says_what_it_holds() {
    let src = workspace().join("server/src");
    let missing: Vec<String> = sources(&src)
        .into_iter()
        .filter(|p| {
            let text = std::fs::read_to_string(p).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|p| p.strip_prefix(&src).unwrap_or(&p).display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a `//!` doc comment at the top: {missing:?}"
    );
}

#[test]
fn no_source_file_is_two_files() {
    let root = workspace();
    let mut long = Vec::new();
    for krate in ["server/src", "planner/src", "catalog/src", "tests/src", "tests/tests"] {
        for path in sources(&root.join(krate)) {
            let lines = std::fs::read_to_string(&path).unwrap_or_default().lines().count();
            if lines > MAX_LINES {
                long.push(format!(
                    "{} ({lines} lines)",
                    path.strip_prefix(&root).unwrap_or(&path).display()
                ));
            }
        }
    }
    assert!(long.is_empty(), "files past {MAX_LINES} lines: {long:?}");
}

#[test]
fn the_reader_sees_uses_and_cycles() {
    // The checks above fail only if this reading works: a cycle made up
    // here must be found.
    let own = vec!["pipeline".to_string(), "sink".to_string()];
    let paths = named_paths(
        "use crate::executor::{\n    a,\n    b::{c, self},\n};\nuse super::decode::X; // crate::ignored\nlet x = my_crate::no;",
        &own,
        false,
    );
    assert_eq!(
        paths,
        vec![
            vec!["executor".to_string(), "a".to_string()],
            vec!["executor".to_string(), "b".to_string()],
            vec!["pipeline".to_string(), "decode".to_string(), "X".to_string()],
        ]
    );
    let mut edges = Graph::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    edges.entry("c".into()).or_default().insert("a".into());
    edges.entry("d".into()).or_default().insert("a".into());
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".into(), "c".into()]]);
}
