//! AFL++ harness of the `event_records` target (see zerosock_fuzz::event_records).
fn main() {
    afl::fuzz!(|data: &[u8]| zerosock_fuzz::event_records::run(data));
}
