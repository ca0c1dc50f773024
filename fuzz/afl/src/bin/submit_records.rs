//! AFL++ harness of the `submit_records` target (see zerosock_fuzz::submit_records).
fn main() {
    afl::fuzz!(|data: &[u8]| zerosock_fuzz::submit_records::run(data));
}
