//! `tenantry`: the multi-tenant API server and its operator commands (see `cli`).

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Allocation-heavy request handling (hyper, BSON, JSON) is markedly cheaper with mimalloc than
/// with glibc malloc (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main(cli::Cli::parse())
}
