//! Prints the first events of a run and times generating n of them (payload JSON included):
//! `cargo run --release -p datagen --example sample -- [n] [seed]`.

use std::time::Instant;

use datagen::{Generator, GeneratorConfig, World};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(42);
    let start = Instant::now();
    let mut bytes = 0usize;
    let mut json = Vec::with_capacity(512);
    let mut generator = Generator::new(GeneratorConfig::new(n, seed), World::empty())?;
    for event in generator.by_ref() {
        let event = event?;
        json.clear();
        event.payload.write_json(&mut json);
        bytes += json.len();
        if event.seq <= 6 {
            println!(
                "{:>2} {:<17} {}",
                event.seq,
                event.event_type(),
                String::from_utf8_lossy(&json)
            );
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{n} events ({:?} per type, {} deviations), {:.0} bytes of payload on average: {:.2} s, {:.0} events/s",
        generator.produced(),
        generator.deviations(),
        bytes as f64 / n as f64,
        secs,
        n as f64 / secs
    );
    Ok(())
}
