//! AFL++ harness of the `byte_ring` target (see zerosock_fuzz::byte_ring).
fn main() {
    afl::fuzz!(|data: &[u8]| zerosock_fuzz::byte_ring::run(data));
}
