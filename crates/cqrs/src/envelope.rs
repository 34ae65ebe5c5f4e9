//! `Envelope`: a message with its tenant, correlation id and actor. There is no way to dispatch a
//! message without a `TenantContext`, so no handler can run without a tenant.

use tenancy::{TenantContext, TenantId};

#[derive(Debug, Clone)]
pub struct Envelope<M> {
    ctx: TenantContext,
    correlation_id: String,
    message: M,
}

impl<M> Envelope<M> {
    pub fn new(ctx: TenantContext, correlation_id: impl Into<String>, message: M) -> Envelope<M> {
        Envelope {
            ctx,
            correlation_id: correlation_id.into(),
            message,
        }
    }

    /// The same message for the tenant as the catalog has it now (a command that followed
    /// its tenant's move).
    pub fn relocated(self, ctx: TenantContext) -> Envelope<M> {
        Envelope { ctx, ..self }
    }

    pub fn ctx(&self) -> &TenantContext {
        &self.ctx
    }

    pub fn tenant_id(&self) -> &TenantId {
        self.ctx.tenant_id()
    }

    /// The request id of the HTTP request that caused this message.
    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// Who acts (the token's `sub`).
    pub fn actor(&self) -> &str {
        self.ctx.actor()
    }

    pub fn message(&self) -> &M {
        &self.message
    }
}
