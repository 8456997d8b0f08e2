//! `vodfarm`: parse the command line, set up logging, dispatch, and print any error
//! as one line with its causes.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use clap::Parser;
use vodfarm::cli::{Cli, Cmd, LadderCmd, OcaCmd};
use vodfarm::commands::{events, farm, ladder, place, run, sample, serve, status};
use vodfarm::config::{Backends, Config};
use workers::store::ObjectStore;

fn main() {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("VODFARM_LOG")
        .unwrap_or_else(|_| "warn".into());
    // Colour only for a person at a terminal, never into a file or a pipe.
    let log = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if cli.log_json {
        log.json().init();
    } else {
        log.init();
    }
    // After the logger (its warning must be seen), before any thread starts.
    vodfarm::heap::return_pictures_to_the_system();
    vodfarm::signals::quiet_on_closed_stdout();
    if let Err(e) = dispatch(cli) {
        // Each cause once (an error that already prints its source is not followed by it).
        eprintln!("error: {}", workers::error::one_line(e.as_ref()));
        std::process::exit(1);
    }
}

fn dispatch(cli: Cli) -> Result<()> {
    let config = cli.config.clone();
    let load = |dir: &Path| Config::load(config.as_deref(), dir);
    let open = |dir: &Path| -> Result<Backends> { Ok(load(dir)?.open()?) };
    // Commands that only read a store must not make an empty one by mistake.
    let existing =
        |dir: &Path| -> Result<Arc<dyn ObjectStore>> { Ok(load(dir)?.open_existing_store()?) };
    match cli.cmd {
        // `run` always uses the embedded backends in --store; only `[events]` is read.
        Cmd::Run(args) => {
            let events = load(&args.store)?.events;
            run::run(args, &events)
        }
        Cmd::Submit(args) => farm::submit(open(&args.store)?, args),
        Cmd::Retry { title, store } => {
            // A mistyped --store must not leave an empty store behind.
            existing(&store)?;
            farm::retry(open(&store)?, &title)
        }
        Cmd::Worker {
            stages,
            concurrency,
            scratch,
            metrics,
            store,
        } => farm::worker(open(&store)?, &stages, concurrency, scratch, metrics),
        Cmd::Serve {
            listen,
            token,
            store,
        } => {
            existing(&store)?;
            serve::serve(open(&store)?, listen, token)
        }
        Cmd::Init { store } => {
            load(&store)?.init()?;
            println!("backends ready");
            Ok(())
        }
        Cmd::Status { title, json, store } => {
            status::show(existing(&store)?.as_ref(), title.as_deref(), json)
        }
        Cmd::Events {
            title,
            follow,
            store,
        } => events::print(existing(&store)?.as_ref(), title.as_deref(), follow),
        Cmd::Place {
            fleet,
            stats,
            store,
        } => place::place(
            fleet.as_deref(),
            stats.as_deref(),
            load(&store)?.open_store()?.as_ref(),
        ),
        Cmd::Oca(OcaCmd::Fill {
            appliance,
            cache,
            now,
            rate,
            store,
        }) => place::oca_fill(&appliance, &cache, now, rate, existing(&store)?.as_ref()),
        Cmd::Oca(OcaCmd::Serve { cache, listen }) => place::oca_serve(&cache, listen),
        Cmd::Steer {
            title,
            site,
            manifest,
            origin_url,
            listen,
            store,
        } => place::steer(
            title,
            site,
            manifest,
            origin_url,
            listen,
            &store,
            existing(&store)?,
        ),
        Cmd::Ladder(LadderCmd::Analyze {
            master,
            policy,
            svg,
            json,
            segment_seconds,
            threads,
        }) => ladder::analyze(&master, &policy, svg, json, segment_seconds, threads),
        Cmd::Ladder(LadderCmd::Compare {
            master,
            store,
            anchor,
            test,
            subsample,
            json,
        }) => ladder::compare(&master, &store, &anchor, &test, subsample, json),
        Cmd::Sample {
            out,
            seconds,
            width,
            height,
            content,
        } => sample::write(&out, seconds, width, height, content.as_deref()),
    }
}
