//! ts/core/records.generated.ts is what `zerosock_wire::ts::render` writes now.

#[test]
fn generated_ts_records_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let committed = std::fs::read_to_string(root.join(zerosock_wire::ts::PATH)).unwrap_or_default();
    assert!(
        committed == zerosock_wire::ts::render(),
        "{} is stale: run `npm run gen:records` and commit it",
        zerosock_wire::ts::PATH
    );
}
