//! AFL++ harness of the `record_ring` target (see zerosock_fuzz::record_ring).
fn main() {
    afl::fuzz!(|data: &[u8]| zerosock_fuzz::record_ring::run(data));
}
