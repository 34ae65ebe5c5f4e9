//! The `tenantry` command line.
//!
//! `serve` runs the HTTP server. The operator commands (`tenants`, `projections`, `migrate`,
//! `token`, `instances`) read the same configuration and work on the tenant catalog directly through the tenancy crate — no
//! server needs to run, and running servers see their changes at once (change streams).
//!
//! Exit status: 0 done; 1 the operation failed (not found, conflict, database); 2 invalid input,
//! configuration or usage. Results go to stdout (`--json`: one JSON document), diagnostics and
//! logs to stderr.

mod admin_key;
mod completions;
mod error;
mod instances;
mod logging;
mod migrate;
mod moves;
mod output;
mod projections;
mod serve;
mod settings;
mod stats;
mod tenants;
mod token;
mod transfer;

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tenancy::TenantId;
use tenantry_api::Config;
use tenantry_api::config::LogFormat;
use tokio::runtime::Runtime;

use error::CliError;
use output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "tenantry",
    version,
    about = "Multi-tenant REST API server: database-per-tenant on MongoDB, CQRS.",
    long_about = "Multi-tenant REST API server: database-per-tenant on MongoDB, CQRS.\n\n\
                  `tenantry serve` runs the server; the other commands operate on the tenant \
                  catalog directly, with the server's configuration.",
    after_help = "Configuration: TENANTRY_* environment variables over an optional TOML file \
                  (--config or TENANTRY_CONFIG), the same for every command.\n\
                  Exit status: 0 done, 1 the operation failed, 2 invalid input, configuration or usage."
)]
pub struct Cli {
    /// TOML configuration file (environment variables override it). Also TENANTRY_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Machine-readable output: one JSON document on stdout; a failing command's error as
    /// {"error": code, "message": ...} on stderr.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server until SIGINT/SIGTERM (then drain in-flight requests).
    Serve,
    /// Manage tenants: create, list, show, stats, update, suspend, resume, delete.
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
    /// Rebuild a tenant's read models from its outbox.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Apply pending schema migrations to every tenant database (or one), reporting per tenant.
    Migrate(migrate::MigrateArgs),
    /// Mint an HS256 token for a tenant, signed with TENANTRY_JWT_SECRET.
    Token(token::TokenArgs),
    /// The live server instances sharing this catalog and the tenants each one projects.
    Instances,
    /// The effective configuration: every setting, its value and source, secrets masked.
    Config,
    /// Generate an admin key and print it with the SHA-256 to configure.
    AdminKey,
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

/// Loads the configuration, starts the runtime and runs the command; returns the exit status.
pub fn main(cli: Cli) -> ExitCode {
    let out = Output { json: cli.json };
    // Commands that need neither a valid configuration nor a runtime.
    let command = match cli.command {
        Command::Config => return finish(settings::run(cli.config.as_deref(), out), out),
        Command::AdminKey => return finish(admin_key::run(out), out),
        Command::Completions(args) => return finish(completions::run(args), out),
        command => command,
    };
    let config = match Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tenantry: invalid configuration: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tenantry: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let format = config.log_format;
    match command {
        Command::Serve => serve::main(&runtime, config),
        Command::Tenants(command) => {
            operate(runtime, format, out, tenants::run(command, &config, out))
        }
        Command::Migrate(args) => operate(runtime, format, out, migrate::run(args, &config, out)),
        Command::Projections(command) => operate(
            runtime,
            format,
            out,
            projections::run(command, &config, out),
        ),
        Command::Token(args) => operate(runtime, format, out, token::run(args, &config, out)),
        Command::Instances => operate(runtime, format, out, instances::run(&config, out)),
        // Answered above, before the configuration is loaded.
        Command::Config | Command::AdminKey | Command::Completions(_) => ExitCode::SUCCESS,
    }
}

/// Runs an operator command with logging on stderr; reports its error and maps it to the status.
/// The runtime (the driver's monitors, the catalog's tasks) is shut down first, so nothing logs
/// after the error: `--json` callers find it on the last line.
fn operate(
    runtime: Runtime,
    format: LogFormat,
    out: Output,
    command: impl Future<Output = Result<(), CliError>>,
) -> ExitCode {
    logging::init(format);
    let result = runtime.block_on(command);
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    finish(result, out)
}

/// Reports a command's error and maps it to the exit status.
fn finish(result: Result<(), CliError>, out: Output) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            e.report(out.json);
            e.exit_code()
        }
    }
}

/// clap value parser of tenant ids: an invalid id is a usage error (exit 2), before any I/O.
fn tenant_id(raw: &str) -> Result<TenantId, tenancy::InvalidTenantId> {
    TenantId::parse(raw)
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn invalid_input_is_refused_by_the_parser() {
        for args in [
            &[
                "tenantry", "tenants", "create", "--id", "Acme", "--name", "A",
            ][..],
            &[
                "tenantry", "tenants", "create", "--id", "admin", "--name", "A",
            ],
            &[
                "tenantry", "tenants", "create", "--id", "acme", "--name", " ",
            ],
            &[
                "tenantry", "tenants", "create", "--id", "acme", "--name", "A", "--domain", "x",
            ],
            &[
                "tenantry",
                "tenants",
                "create",
                "--id",
                "acme",
                "--name",
                "A",
                "--isolation",
                "x",
            ],
            &["tenantry", "tenants", "list", "--status", "gone"],
            &["tenantry", "token", "--tenant", "acme", "--role", "root"],
            &["tenantry", "token", "--tenant", "acme"],
            &[
                "tenantry", "token", "--tenant", "acme", "--role", "admin", "--ttl", "0",
            ],
        ] {
            let err = Cli::try_parse_from(args).expect_err(&args.join(" "));
            assert_eq!(err.exit_code(), 2, "{}", args.join(" "));
        }
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = Cli::try_parse_from(["tenantry", "tenants", "list", "--json"]).unwrap();
        assert!(cli.json);
        let cli =
            Cli::try_parse_from(["tenantry", "--json", "migrate", "--tenant", "acme"]).unwrap();
        assert!(cli.json && matches!(cli.command, Command::Migrate(_)));
    }
}
