//! ts/core/records.generated.ts, written from this crate: the record layout, the kinds, the
//! syscall names and the types of the stats objects, so JS and Rust name the same numbers.
//! `cargo run -p zerosock-wire --example write-ts-records` (`npm run gen:records`) writes it;
//! `tests/ts_records.rs` fails while the committed copy differs from [`render`].

use crate::cache_block::{CACHE_HEAD, CACHE_PAIRS};
use crate::records::{
    EventKind, SubmitKind, EVENT_RECORDS, OWES_SUBMIT_INT, RECORD_INTS, REPLY_INTS, SUBMIT_RECORDS,
};
use crate::stats::{Stat, DEBT_STATS, ENGINE_STATS, POOL_STATS};
use crate::syscall::Syscall;
use std::fmt::Write;

/// Where the file lives, relative to the repository root.
pub const PATH: &str = "ts/core/records.generated.ts";

/// The file's text.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "// Generated from crates/wire/src by `npm run gen:records` (zerosock_wire::ts::render).\n\
         // Do not edit: `cargo test -p zerosock-wire` fails while this file is stale. Record\n\
         // layouts are documented in crates/wire/src/records.rs.\n\n",
    );
    let constants: [(&str, &str, usize); 7] = [
        (
            "RECORD_INTS",
            "Ints per record, in both directions.",
            RECORD_INTS,
        ),
        (
            "REPLY_INTS",
            "Reply ints before the first submission record.",
            REPLY_INTS,
        ),
        (
            "OWES_SUBMIT_INT",
            "Reply int that is 1 while native holds work only a flush hands to the kernel.",
            OWES_SUBMIT_INT,
        ),
        (
            "EVENT_RECORDS",
            "Event records per dispatch.",
            EVENT_RECORDS,
        ),
        (
            "SUBMIT_RECORDS",
            "Submission records per flush.",
            SUBMIT_RECORDS,
        ),
        (
            "CACHE_HEAD",
            "Ints before the first `[index, generation]` pair of a pool's cache block.",
            CACHE_HEAD,
        ),
        (
            "CACHE_PAIRS",
            "Most `[index, generation]` pairs a pool's cache block holds.",
            CACHE_PAIRS,
        ),
    ];
    // A const enum: tsc writes the numbers into the code that uses them, so the hot paths
    // (record offsets per event, cache slots per acquire) read no module property.
    out.push_str("/** The numbers of the record layout (inlined by tsc where they are used). */\n");
    out.push_str("export const enum Layout {\n");
    for (name, doc, value) in constants {
        let member: String = name
            .split('_')
            .map(|w| pascal(&w.to_ascii_lowercase()))
            .collect();
        let _ = writeln!(out, "  /** {doc} */\n  {member} = {value},");
    }
    out.push_str("}\n");
    let events = EventKind::ALL.map(|k| (format!("{k:?}"), k as i32));
    enumeration(&mut out, "Ev", "Event kinds (native → JS).", &events);
    for kind in EventKind::ALL {
        if kind.fields().is_empty() {
            continue;
        }
        let members: Vec<(String, i32)> = kind
            .fields()
            .iter()
            .map(|f| (pascal(f), kind.offset_of(f).unwrap() as i32))
            .collect();
        let doc = format!("Where the fields of a `{kind:?}` event record are (int offsets).");
        enumeration(&mut out, &format!("{kind:?}At"), &doc, &members);
    }
    let submits = SubmitKind::ALL.map(|k| (format!("{k:?}"), k as i32));
    enumeration(&mut out, "Sub", "Submission kinds (JS → native).", &submits);
    out.push_str("\n/** System call names of error records, by index. */\nexport const SYSCALL_NAMES: readonly string[] = [\n");
    for name in Syscall::names() {
        let _ = writeln!(out, "  '{name}',");
    }
    out.push_str("];\n");
    interface(
        &mut out,
        "NativeEngineStats",
        "An engine's `stats()`.",
        ENGINE_STATS,
    );
    interface(
        &mut out,
        "NativeSubmitDebt",
        "What an engine owes a submit (`submitDebt()`).",
        DEBT_STATS,
    );
    interface(
        &mut out,
        "NativeBufferPoolStats",
        "A buffer pool's `stats()`.",
        POOL_STATS,
    );
    out
}

/// `byteOffset` -> `ByteOffset`.
fn pascal(field: &str) -> String {
    let mut c = field.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

fn enumeration(out: &mut String, name: &str, doc: &str, members: &[(String, i32)]) {
    let _ = writeln!(out, "\n/** {doc} */\nexport const enum {name} {{");
    for (member, value) in members {
        let _ = writeln!(out, "  {member} = {value},");
    }
    out.push_str("}\n");
}

fn interface<S>(out: &mut String, name: &str, doc: &str, table: &[Stat<S>]) {
    let _ = writeln!(out, "\n/** {doc} */\nexport interface {name} {{");
    for s in table {
        let _ = writeln!(out, "  /** {} */\n  {}: number;", s.doc, s.name);
    }
    out.push_str("}\n");
}
