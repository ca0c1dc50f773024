//! Every syscall name the engine crates put into a `SysError` has its own index in
//! `Syscall` (none reaches JS as "unknown"). Scans their sources for the names passed to
//! `SysError::new` / `SysError::last` and to helpers that take a syscall name.

use std::path::Path;
use zerosock_wire::Syscall;

/// The string literals passed as a syscall name in `src`.
fn syscall_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    for call in ["SysError::new(", "SysError::last(", "name_of(fd, "] {
        for (at, _) in src.match_indices(call) {
            let args = &src[at + call.len()..];
            let args = &args[..args.find(')').unwrap_or(args.len())];
            if let Some(start) = args.find('"') {
                let rest = &args[start + 1..];
                names.push(rest[..rest.find('"').unwrap()].to_string());
            }
        }
    }
    names
}

fn scan(dir: &Path, names: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan(&path, names);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let src = std::fs::read_to_string(&path).unwrap();
            for n in syscall_names(&src) {
                names.push((n, path.display().to_string()));
            }
        }
    }
}

#[test]
fn every_syscall_the_engine_names_has_an_index() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut names = Vec::new();
    for c in ["uring/src", "pool/src"] {
        scan(&crates.join(c), &mut names);
    }
    assert!(names.len() > 20, "the scan found too few calls: {names:?}");
    let unknown: Vec<_> = names
        .iter()
        .filter(|(n, _)| Syscall::from_name(n) == Syscall::Unknown)
        .collect();
    assert!(unknown.is_empty(), "syscalls without an index: {unknown:?}");
}
