//! Inspect a master and print the inspection as JSON: `cargo run -p media --release
//! --example inspect -- FILE [IDET_EVERY IDET_RUN]`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: inspect FILE [IDET_EVERY IDET_RUN]");
        std::process::exit(2);
    };
    let mut opts = media::InspectOptions::default();
    if let (Some(e), Some(r)) = (args.get(1), args.get(2)) {
        opts.idet_every = e.parse().expect("IDET_EVERY is a number");
        opts.idet_run = r.parse().expect("IDET_RUN is a number");
    }
    match media::inspect(std::path::Path::new(path), &opts) {
        Ok(i) => {
            println!(
                "{}",
                serde_json::to_string_pretty(&i).expect("serialisable")
            );
            match i.truncated() {
                Some(t) => eprintln!("{t}"),
                None => eprintln!("{}", i.summary()),
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
