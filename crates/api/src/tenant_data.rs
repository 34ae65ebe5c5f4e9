//! What a tenant's database holds — documents per collection and the projections' status —
//! read the same way by `GET /admin/tenants/{id}/stats` and `tenantry tenants stats`.

use std::collections::BTreeMap;

use cqrs::projector::ProjectionStatus;
use mongodb::bson::{Document, doc};
use serde::Serialize;
use tenancy::TenancyError;
use tenancy::clusters::TenantDb;

#[derive(Debug, Clone, Serialize)]
pub struct TenantData {
    /// Estimated documents per collection (internal `_*` and `system.*` collections left out).
    pub documents: BTreeMap<String, u64>,
    pub projections: ProjectionStatus,
}

impl TenantData {
    pub async fn read(db: &TenantDb, projections: &[&'static str]) -> Result<Self, TenancyError> {
        let database = db.database();
        let names = database
            .list_collection_names()
            .filter(doc! {"name": {"$not": {"$regex": "^(_|system\\.)"}}})
            .await?;
        let mut documents = BTreeMap::new();
        for name in names {
            let count = database
                .collection::<Document>(&name)
                .estimated_document_count()
                .await?;
            documents.insert(name, count);
        }
        let projections = cqrs::projector::status(database, projections).await?;
        Ok(TenantData {
            documents,
            projections,
        })
    }
}
