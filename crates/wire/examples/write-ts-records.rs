//! Writes ts/core/records.generated.ts (`npm run gen:records`).

fn main() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let path = root.join(zerosock_wire::ts::PATH);
    std::fs::write(&path, zerosock_wire::ts::render()).expect("write the generated TS");
    println!("wrote {}", path.display());
}
