//! `TenantContext`: the resolved tenant of one request, passed explicitly to everything that
//! touches tenant data. There is no ambient "current tenant" anywhere in Tenantry.

use std::sync::Arc;

use crate::{Tenant, TenantId};

/// The tenant a request acts for, and who is acting.
///
/// Produced only by the resolution middleware (after authentication, authorisation and a catalog
/// lookup) or by platform jobs that hold a catalog record. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TenantContext {
    tenant: Arc<Tenant>,
    actor: String,
}

impl TenantContext {
    pub fn new(tenant: Arc<Tenant>, actor: impl Into<String>) -> TenantContext {
        TenantContext {
            tenant,
            actor: actor.into(),
        }
    }

    pub fn tenant_id(&self) -> &TenantId {
        &self.tenant.id
    }

    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// The token subject acting for the tenant.
    pub fn actor(&self) -> &str {
        &self.actor
    }
}
