//! Cost of sealing at rest: seal and open of a release's env serialised as
//! JSON, at 1 KiB (a typical env) and 32 KiB (the largest a release accepts).
//! Prints µs per operation and the size a value grows by.
//!
//! `cargo bench -p slipway-core --bench seal`

use std::hint::black_box;
use std::time::Instant;

use slipway_core::seal::{Keyring, Purpose};

const ROUNDS: usize = 20_000;

fn main() {
    let keyring = Keyring::generate().expect("a generated key");
    println!("| env size | seal | open | stored size |");
    println!("| --- | --- | --- | --- |");
    for size in [1024, 32 * 1024] {
        let env = env_json(size);
        let sealed = keyring.seal(Purpose::RELEASE_ENV, env.as_bytes()).unwrap();

        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(
                keyring
                    .seal(Purpose::RELEASE_ENV, black_box(env.as_bytes()))
                    .unwrap(),
            );
        }
        let seal = start.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;

        let start = Instant::now();
        for _ in 0..ROUNDS {
            black_box(
                keyring
                    .open(Purpose::RELEASE_ENV, black_box(&sealed))
                    .unwrap(),
            );
        }
        let open = start.elapsed().as_secs_f64() * 1e6 / ROUNDS as f64;

        println!(
            "| {} KiB | {seal:.2} µs | {open:.2} µs | {} → {} bytes |",
            size / 1024,
            env.len(),
            sealed.len()
        );
    }
}

/// A JSON object of `KEY_n: value` pairs of about `size` bytes.
fn env_json(size: usize) -> String {
    let mut env = serde_json::Map::new();
    let mut n = 0;
    while serde_json::to_string(&env).unwrap().len() < size - 48 {
        env.insert(format!("KEY_{n}"), format!("value-{n:0>24}").into());
        n += 1;
    }
    serde_json::to_string(&env).unwrap()
}
