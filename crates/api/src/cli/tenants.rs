//! `tenantry tenants ...`: create, list, show, update, suspend, resume and delete tenants, straight on
//! the catalog through the provisioner, with the admin API's validation and lifecycle rules.

use super::error::CliCode;
use clap::{Args, Subcommand, ValueEnum};
use tenancy::catalog::TenantFilter;
use tenancy::clusters::DEFAULT_CLUSTER;
use tenancy::lifecycle::Created;
use tenancy::{
    Isolation, Plan, TenancyError, Tenant, TenantAuth, TenantId, TenantName, TenantPatch,
    TenantSpec, TenantStatus,
};
use tenantry_api::http::ProblemCode;

use super::output::Output;
use super::{CliError, tenant_id};
use tenantry_api::Config;
use tenantry_api::platform::Platform;

/// Tenants fetched per catalog round trip by `list`.
const PAGE: u32 = 200;

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Provision a tenant: record it, claim its domains, create and migrate its database.
    ///
    /// Repeating the same create is not an error (the tenant "already exists"); a create with
    /// other settings for an existing id fails with tenant_exists.
    #[command(
        after_help = "Example:\n  tenantry tenants create --id acme --name 'Acme Inc.' \
                            --plan pro --domain shop.acme.com"
    )]
    Create(CreateArgs),
    /// List tenants, ordered by id (all of them, or those of one status).
    List(ListArgs),
    /// Show every field of one tenant.
    Show(IdArg),
    /// Documents per collection and projection progress of one tenant (requests and pools are
    /// per server instance: GET /admin/tenants/{id}/stats).
    Stats(IdArg),
    /// Change a tenant's name, plan, limits, custom domains or identity provider (as PATCH
    /// /admin/tenants/{id}).
    #[command(
        after_help = "Examples:\n  tenantry tenants update acme --plan enterprise \
                            --requests-per-second 200 --domain shop.acme.com\n  \
                            tenantry tenants update acme --issuer https://login.acme.com \
                            --audience tenantry"
    )]
    Update(UpdateArgs),
    /// Suspend a tenant: every instance answers its requests 403 tenant_suspended.
    Suspend(IdArg),
    /// Resume a suspended tenant.
    Resume(IdArg),
    /// Delete a tenant and drop its database. Irreversible: requires --yes.
    Delete(DeleteArgs),
    /// Write a tenant's data to standard output as NDJSON (MongoDB Extended JSON v2), every
    /// collection as of one point in time; read models and metadata are left out.
    #[command(after_help = "Example:\n  tenantry tenants export acme > acme.ndjson")]
    Export(super::transfer::ExportArgs),
    /// Load an export into a tenant that has no data yet, then rebuild its read models.
    /// Commands to the tenant wait meanwhile; a failed import can be run again.
    #[command(
        after_help = "Example:\n  tenantry tenants create --id acme-copy --name 'Acme' \\\n    && tenantry tenants import acme-copy < acme.ndjson"
    )]
    Import(super::transfer::ImportArgs),
    /// Move a tenant's database to another cluster while it keeps serving: copy, catch up,
    /// then a brief hold of its writes while the copy is verified and the placement switched.
    #[command(after_help = "Example:\n  tenantry tenants move acme --to eu")]
    Move(super::moves::MoveArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Tenant id: 3 to 32 of [a-z0-9-], starting and ending with a letter or digit, not a
    /// reserved word. Its database is named <TENANTRY_DB_PREFIX><ID>.
    #[arg(long, value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// Display name, 1 to 200 characters.
    #[arg(long, value_parser = TenantName::parse)]
    name: TenantName,
    /// Plan label, 1 to 64 of [A-Za-z0-9_-].
    #[arg(long, default_value = Plan::DEFAULT, value_parser = Plan::parse)]
    plan: Plan,
    /// Cluster holding the tenant's database: `default` (TENANTRY_MONGODB_URI) or a name from
    /// TENANTRY_CLUSTERS.
    #[arg(long, default_value = DEFAULT_CLUSTER)]
    cluster: String,
    /// Connection pooling: `shared` uses the cluster's pool under a per-tenant budget,
    /// `dedicated` gives the tenant a small pool of its own.
    #[arg(long, value_enum, default_value_t = IsolationArg::Shared)]
    isolation: IsolationArg,
    /// A custom domain selecting this tenant (repeat for several).
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = tenancy::parse_domain)]
    domains: Vec<String>,
    #[command(flatten)]
    auth: IssuerArgs,
}

/// The tenant's own identity provider: its tokens act for this tenant only.
#[derive(Debug, Args)]
pub struct IssuerArgs {
    /// Issuer URL of the tenant's own identity provider (https; its tokens' `iss`).
    #[arg(long, value_name = "URL", requires = "audience")]
    issuer: Option<String>,
    /// The `aud` the tenant's identity provider puts in its tokens (with --issuer).
    #[arg(long, value_name = "AUDIENCE", requires = "issuer")]
    audience: Option<String>,
}

impl IssuerArgs {
    fn parse(self) -> Result<Option<TenantAuth>, CliError> {
        match (self.issuer, self.audience) {
            (Some(issuer), Some(audience)) => TenantAuth::parse(&issuer, &audience)
                .map(Some)
                .map_err(|message| {
                    CliError::invalid(
                        ProblemCode::ValidationFailed,
                        format!("--issuer: {message}"),
                    )
                }),
            _ => Ok(None),
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum IsolationArg {
    Shared,
    Dedicated,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only tenants in this status.
    #[arg(long, value_enum)]
    status: Option<StatusArg>,
    /// Only tenants whose id starts with, or whose name contains (ignoring case), this text.
    #[arg(long)]
    search: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum StatusArg {
    Provisioning,
    Active,
    Suspended,
    Deleting,
}

#[derive(Debug, Args)]
pub struct IdArg {
    /// Tenant id.
    #[arg(value_name = "ID", value_parser = tenant_id)]
    pub id: TenantId,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Tenant id.
    #[arg(value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// New display name, 1 to 200 characters.
    #[arg(long, value_parser = TenantName::parse)]
    name: Option<TenantName>,
    /// New plan label, 1 to 64 of [A-Za-z0-9_-].
    #[arg(long, value_parser = Plan::parse)]
    plan: Option<Plan>,
    /// Concurrent database operations the tenant may hold (its budget on the cluster's pool).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_requests: Option<u32>,
    /// Requests per second the tenant may send (429 beyond).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    requests_per_second: Option<u32>,
    /// The tenant's custom domains, replacing the current ones (repeat for several).
    #[arg(long = "domain", value_name = "DOMAIN", value_parser = tenancy::parse_domain,
          conflicts_with = "no_domains")]
    domains: Vec<String>,
    /// Remove every custom domain.
    #[arg(long)]
    no_domains: bool,
    #[command(flatten)]
    auth: IssuerArgs,
    /// Remove the tenant's own identity provider.
    #[arg(long, conflicts_with_all = ["issuer", "audience"])]
    no_issuer: bool,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Tenant id.
    #[arg(value_name = "ID", value_parser = tenant_id)]
    id: TenantId,
    /// Confirm the deletion: the tenant's database is dropped and cannot be recovered.
    #[arg(long)]
    yes: bool,
}

pub async fn run(command: TenantsCommand, config: &Config, out: Output) -> Result<(), CliError> {
    match command {
        TenantsCommand::Create(args) => create(args, config, out).await,
        TenantsCommand::List(args) => list(args, config, out).await,
        TenantsCommand::Show(IdArg { id }) => {
            let platform = Platform::connect(config).await?;
            out.tenant(&platform.store().require(&id).await?)
        }
        TenantsCommand::Suspend(IdArg { id }) => {
            let platform = Platform::connect(config).await?;
            let tenant = platform.provisioner.suspend(&id).await?;
            changed(&tenant, "suspended", out)
        }
        TenantsCommand::Resume(IdArg { id }) => {
            let platform = Platform::connect(config).await?;
            let tenant = platform.provisioner.resume(&id).await?;
            changed(&tenant, "resumed", out)
        }
        TenantsCommand::Stats(IdArg { id }) => super::stats::run(id, config, out).await,
        TenantsCommand::Update(args) => update(args, config, out).await,
        TenantsCommand::Delete(args) => delete(args, config, out).await,
        TenantsCommand::Export(args) => super::transfer::export(args, config).await,
        TenantsCommand::Import(args) => super::transfer::import(args, config, out).await,
        TenantsCommand::Move(args) => super::moves::move_tenant(args, config, out).await,
    }
}

async fn update(args: UpdateArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let limited = args.max_concurrent_requests.is_some() || args.requests_per_second.is_some();
    let domains = match (args.domains.is_empty(), args.no_domains) {
        (false, _) => Some(args.domains),
        (true, true) => Some(Vec::new()),
        (true, false) => None,
    };
    let auth = match (args.auth.parse()?, args.no_issuer) {
        (Some(auth), _) => Some(Some(auth)),
        (None, true) => Some(None),
        (None, false) => None,
    };
    if args.name.is_none() && args.plan.is_none() && !limited && domains.is_none() && auth.is_none()
    {
        return Err(CliError::invalid(
            ProblemCode::ValidationFailed,
            "nothing to change: give --name, --plan, a limit, --domain, --no-domains, \
             --issuer/--audience or --no-issuer",
        ));
    }
    let platform = Platform::connect(config).await?;
    // A limit given replaces that one limit; the other keeps its value.
    let limits = if limited {
        let mut limits = platform.store().require(&args.id).await?.limits;
        limits.max_concurrent_requests = args
            .max_concurrent_requests
            .or(limits.max_concurrent_requests);
        limits.requests_per_second = args.requests_per_second.or(limits.requests_per_second);
        Some(limits)
    } else {
        None
    };
    let patch = TenantPatch {
        name: args.name,
        plan: args.plan,
        limits,
        domains,
        auth,
    };
    let tenant = platform.provisioner.update(&args.id, &patch).await?;
    changed(&tenant, "updated", out)
}

async fn create(args: CreateArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let spec = spec_of(args)?;
    let platform = Platform::connect(config).await?;
    if platform.pools.cluster(&spec.cluster).is_err() {
        let known: Vec<&str> = platform.pools.clusters().map(|c| c.name.as_str()).collect();
        return Err(CliError::invalid(
            ProblemCode::ValidationFailed,
            format!(
                "--cluster: unknown cluster '{}' (configured: {})",
                spec.cluster,
                known.join(", ")
            ),
        ));
    }
    let (tenant, created) = platform
        .provisioner
        .create(&spec)
        .await
        .map_err(|e| match e {
            TenancyError::Migration { .. } | TenancyError::Database(_) => CliError::from(e)
                .context(format!(
                    "tenant {} is not fully provisioned; repeat the same command to finish",
                    spec.id
                )),
            other => other.into(),
        })?;
    match created {
        Created::New => out.note(&format!("tenant {} created", tenant.id))?,
        Created::Existing => {
            out.note(&format!("tenant {} already exists (unchanged)", tenant.id))?
        }
    }
    out.tenant(&tenant)
}

/// The create arguments as the provisioner's spec; a domain given twice is refused, as the
/// admin API refuses it.
fn spec_of(args: CreateArgs) -> Result<TenantSpec, CliError> {
    let mut domains: Vec<String> = Vec::new();
    for domain in args.domains {
        if domains.contains(&domain) {
            return Err(CliError::invalid(
                ProblemCode::ValidationFailed,
                format!("--domain: '{domain}' is given twice"),
            ));
        }
        domains.push(domain);
    }
    let auth = args.auth.parse()?;
    Ok(TenantSpec {
        id: args.id,
        name: args.name,
        plan: args.plan,
        cluster: args.cluster,
        isolation: match args.isolation {
            IsolationArg::Shared => Isolation::Shared,
            IsolationArg::Dedicated => Isolation::Dedicated,
        },
        domains,
        auth,
    })
}

async fn list(args: ListArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let filter = TenantFilter {
        status: args.status.map(|s| match s {
            StatusArg::Provisioning => TenantStatus::Provisioning,
            StatusArg::Active => TenantStatus::Active,
            StatusArg::Suspended => TenantStatus::Suspended,
            StatusArg::Deleting => TenantStatus::Deleting,
        }),
        search: args.search,
    };
    let platform = Platform::connect(config).await?;
    let mut tenants = Vec::new();
    let mut after: Option<TenantId> = None;
    loop {
        let page = platform.store().list(&filter, after.as_ref(), PAGE).await?;
        tenants.extend(page.tenants);
        match page.next_after {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    out.tenants(&tenants)
}

/// After a status change: one line for people, the tenant in JSON.
fn changed(tenant: &Tenant, what: &str, out: Output) -> Result<(), CliError> {
    if out.json {
        out.tenant(tenant)
    } else {
        out.line(&format!("tenant {} {what}", tenant.id))
    }
}

async fn delete(args: DeleteArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let id = args.id;
    if !args.yes {
        return Err(CliError::invalid(
            CliCode::ConfirmationRequired,
            format!(
                "refusing to delete tenant {id} without --yes: its database is dropped and cannot be recovered"
            ),
        ));
    }
    let platform = Platform::connect(config).await?;
    let tenant = platform.provisioner.begin_deletion(&id).await?;
    platform
        .provisioner
        .finish_deletion(&tenant.key())
        .await
        .map_err(|e| {
            CliError::from(e).context(format!(
                "tenant {id} is marked deleting but its database {} was not dropped; \
                 run this command again (or start the server) to finish",
                tenant.database
            ))
        })?;
    if out.json {
        out.json(&serde_json::json!({
            "id": tenant.id,
            "database": tenant.database,
            "deleted": true,
        }))
    } else {
        out.line(&format!(
            "tenant {id} deleted (database {} dropped)",
            tenant.database
        ))
    }
}
