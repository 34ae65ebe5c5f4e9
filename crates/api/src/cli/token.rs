//! `tenantry token`: mints a tenant-scoped HS256 token with `TENANTRY_JWT_SECRET`, issuer and
//! audience, as `POST /admin/tenants/{id}/tokens` does; for development and service accounts.

use clap::Args;
use tenancy::TenantId;
use tenantry_api::Config;
use tenantry_api::http::ProblemCode;
use tenantry_auth::{MintRequest, Role, TokenMinter};

use super::output::{Output, rfc3339};
use super::{CliError, tenant_id};
use tenantry_api::platform::Platform;

/// The longest lifetime a minted token may have: 30 days, as the admin API allows.
const MAX_TTL_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Debug, Args)]
#[command(after_help = "Prints only the token, so that it can be captured:\n  \
                        TOKEN=$(tenantry token --tenant acme --role viewer)")]
pub struct TokenArgs {
    /// The tenant the token acts for (its `tid` claim); it must exist in the catalog.
    #[arg(long, value_name = "ID", value_parser = tenant_id)]
    tenant: TenantId,
    /// A role within the tenant: viewer, member or admin (repeat for several).
    #[arg(long = "role", value_name = "ROLE", required = true, value_parser = role)]
    roles: Vec<Role>,
    /// Subject (`sub` claim): who the token speaks for, 1 to 256 characters.
    #[arg(long, default_value = "cli", value_parser = subject)]
    sub: String,
    /// Lifetime in seconds, 1 to 2592000 (30 days).
    #[arg(long, value_name = "SECONDS", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=MAX_TTL_SECONDS))]
    ttl: u64,
}

pub async fn run(args: TokenArgs, config: &Config, out: Output) -> Result<(), CliError> {
    let Some(secret) = &config.jwt_secret else {
        return Err(CliError::invalid(
            ProblemCode::TokenSigningDisabled,
            "TENANTRY_JWT_SECRET is not set: tokens cannot be signed (use the secret the servers verify with)",
        ));
    };
    let minter = TokenMinter::new(secret.expose(), &config.jwt_issuer, &config.jwt_audience);
    let platform = Platform::connect(config).await?;
    let tenant = platform.store().require(&args.tenant).await?;
    let mut roles: Vec<String> = Vec::new();
    for role in args.roles {
        if !roles.iter().any(|r| r == role.as_str()) {
            roles.push(role.as_str().to_string());
        }
    }
    let request = MintRequest {
        sub: args.sub,
        tenant_id: Some(tenant.id.to_string()),
        incarnation: Some(tenant.incarnation.to_string()),
        roles,
        ttl_seconds: args.ttl,
    };
    let minted = minter
        .mint(&request)
        .map_err(|e| CliError::failed(ProblemCode::Internal, e).context("cannot sign the token"))?;
    if out.json {
        let expires_at =
            mongodb::bson::DateTime::from_millis(minted.expires_at.saturating_mul(1000));
        out.json(&serde_json::json!({
            "token": minted.token,
            "expires_at": rfc3339(expires_at),
        }))
    } else {
        out.line(&minted.token)
    }
}

fn role(raw: &str) -> Result<Role, String> {
    raw.parse()
        .map_err(|_| "a role is viewer, member or admin".to_string())
}

fn subject(raw: &str) -> Result<String, String> {
    if raw.trim().is_empty() || raw.len() > 256 {
        return Err("a subject has 1 to 256 characters".to_string());
    }
    Ok(raw.to_string())
}
