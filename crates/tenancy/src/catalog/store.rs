//! `CatalogStore`: reads and writes tenant records (`tenants`) and custom-domain claims
//! (`domains`, `_id` = domain) in the catalog database. No caching here; see `cache`.

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc, to_bson};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TenancyError, is_duplicate_key};
use crate::{Incarnation, Tenant, TenantId, TenantKey, TenantPatch, TenantStatus};

pub(crate) const TENANTS: &str = "tenants";
pub(crate) const DOMAINS: &str = "domains";

/// A claim of a custom domain by one incarnation of a tenant.
#[derive(Debug, Serialize, Deserialize)]
struct DomainClaim {
    #[serde(rename = "_id")]
    domain: String,
    tenant_id: TenantId,
    incarnation: Incarnation,
}

/// One page of tenants, ordered by id.
#[derive(Debug)]
pub struct TenantPage {
    pub tenants: Vec<Tenant>,
    /// The id to continue after, when there may be more.
    pub next_after: Option<TenantId>,
}

#[derive(Clone, Debug)]
pub struct CatalogStore {
    db: Database,
    tenants: Collection<Tenant>,
    domains: Collection<DomainClaim>,
}

impl CatalogStore {
    pub fn new(db: Database) -> CatalogStore {
        CatalogStore {
            tenants: db.collection(TENANTS),
            domains: db.collection(DOMAINS),
            db,
        }
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Creates the catalog's indexes; idempotent, run at start-up.
    pub async fn ensure_indexes(&self) -> Result<()> {
        let by_status = mongodb::IndexModel::builder()
            .keys(doc! {"status": 1, "_id": 1})
            .build();
        self.tenants.create_index(by_status).await?;
        let by_tenant = mongodb::IndexModel::builder()
            .keys(doc! {"tenant_id": 1})
            .build();
        self.domains.create_index(by_tenant).await?;
        let by_cluster = mongodb::IndexModel::builder()
            .keys(doc! {"cluster": 1, "status": 1})
            .build();
        self.tenants.create_index(by_cluster).await?;
        Ok(())
    }

    /// Inserts a new record; `Ok(false)` when a tenant with this id already exists.
    pub async fn insert(&self, tenant: &Tenant) -> Result<bool> {
        match self.tenants.insert_one(tenant).await {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate_key(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get(&self, id: &TenantId) -> Result<Option<Tenant>> {
        Ok(self.tenants.find_one(doc! {"_id": id.as_str()}).await?)
    }

    pub async fn require(&self, id: &TenantId) -> Result<Tenant> {
        self.get(id)
            .await?
            .ok_or_else(|| TenancyError::NotFound(id.clone()))
    }

    /// The tenant that claimed a custom domain, if any.
    pub async fn tenant_of_domain(&self, domain: &str) -> Result<Option<TenantId>> {
        Ok(self
            .domains
            .find_one(doc! {"_id": domain})
            .await?
            .map(|c| c.tenant_id))
    }

    /// Tenants ordered by id, after `after`, optionally of one status.
    pub async fn list(
        &self,
        status: Option<TenantStatus>,
        after: Option<&TenantId>,
        limit: u32,
    ) -> Result<TenantPage> {
        let mut filter = Document::new();
        if let Some(status) = status {
            filter.insert("status", status.as_str());
        }
        if let Some(after) = after {
            filter.insert("_id", doc! {"$gt": after.as_str()});
        }
        let tenants: Vec<Tenant> = self
            .tenants
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(i64::from(limit) + 1)
            .await?
            .try_collect()
            .await?;
        Ok(page_of(tenants, limit as usize))
    }

    /// Every tenant in one of `statuses`, ordered by id (`tenantry migrate --status`).
    pub async fn with_status(&self, statuses: &[TenantStatus]) -> Result<Vec<Tenant>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let cursor = self
            .tenants
            .find(doc! {"status": {"$in": names}})
            .sort(doc! {"_id": 1})
            .await?;
        Ok(cursor.try_collect().await?)
    }

    /// Every tenant id in one status (used by background sweeps and the migration runner).
    pub async fn ids_with_status(&self, statuses: &[TenantStatus]) -> Result<Vec<TenantId>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let cursor = self
            .tenants
            .clone_with_type::<IdOnly>()
            .find(doc! {"status": {"$in": names}})
            .projection(doc! {"_id": 1})
            .sort(doc! {"_id": 1})
            .await?;
        let ids: Vec<IdOnly> = cursor.try_collect().await?;
        Ok(ids.into_iter().map(|i| i.id).collect())
    }

    /// Ids of the tenants placed on `cluster` in one of `statuses` (the projector's sweep).
    pub async fn ids_on_cluster(
        &self,
        cluster: &str,
        statuses: &[TenantStatus],
    ) -> Result<Vec<TenantId>> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let cursor = self
            .tenants
            .clone_with_type::<IdOnly>()
            .find(doc! {"cluster": cluster, "status": {"$in": names}})
            .projection(doc! {"_id": 1})
            .await?;
        let ids: Vec<IdOnly> = cursor.try_collect().await?;
        Ok(ids.into_iter().map(|i| i.id).collect())
    }

    /// How many tenants are in one of `statuses`.
    pub async fn count_with_status(&self, statuses: &[TenantStatus]) -> Result<u64> {
        let names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        Ok(self
            .tenants
            .count_documents(doc! {"status": {"$in": names}})
            .await?)
    }

    pub async fn count(&self) -> Result<u64> {
        Ok(self.tenants.count_documents(doc! {}).await?)
    }

    /// Moves `from` → `to` only if this incarnation is in one of the `from` states.
    pub async fn transition(
        &self,
        key: &TenantKey,
        from: &[TenantStatus],
        to: TenantStatus,
    ) -> Result<Option<Tenant>> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        let filter = doc! {"_id": key.id.as_str(), "incarnation": key.incarnation.as_str(), "status": {"$in": from}};
        let update = doc! {"$set": {"status": to.as_str(), "updated_at": DateTime::now()}};
        Ok(self
            .tenants
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await?)
    }

    /// Records the schema version reached by this incarnation (nothing if it is gone).
    pub async fn set_schema_version(
        &self,
        key: &TenantKey,
        version: u32,
    ) -> Result<Option<Tenant>> {
        let filter = doc! {"_id": key.id.as_str(), "incarnation": key.incarnation.as_str()};
        let update = doc! {"$set": {"schema_version": version, "updated_at": DateTime::now()}};
        Ok(self
            .tenants
            .find_one_and_update(filter, update)
            .return_document(ReturnDocument::After)
            .await?)
    }

    /// Applies a patch of settings. Domains must already be claimed (see `claim_domains`).
    pub async fn apply_patch(&self, id: &TenantId, patch: &TenantPatch) -> Result<Option<Tenant>> {
        let mut set = Document::new();
        if let Some(name) = &patch.name {
            set.insert("name", name);
        }
        if let Some(plan) = &patch.plan {
            set.insert("plan", plan);
        }
        if let Some(limits) = &patch.limits {
            set.insert("limits", to_bson(limits)?);
        }
        if let Some(domains) = &patch.domains {
            set.insert("domains", domains);
        }
        self.update(id, set).await
    }

    async fn update(&self, id: &TenantId, mut set: Document) -> Result<Option<Tenant>> {
        set.insert("updated_at", DateTime::now());
        Ok(self
            .tenants
            .find_one_and_update(doc! {"_id": id.as_str()}, doc! {"$set": set})
            .return_document(ReturnDocument::After)
            .await?)
    }

    /// Removes this incarnation's record and domain claims (a later incarnation's are kept).
    pub async fn remove(&self, key: &TenantKey) -> Result<()> {
        let this = doc! {"incarnation": key.incarnation.as_str()};
        let mut record = this.clone();
        record.insert("_id", key.id.as_str());
        self.tenants.delete_one(record).await?;
        let mut claims = this;
        claims.insert("tenant_id", key.id.as_str());
        self.domains.delete_many(claims).await?;
        Ok(())
    }

    /// Claims custom domains for a tenant. A domain claimed by another tenant fails the whole
    /// call with `DomainTaken` (claims made by this call are released). A claim left behind by a
    /// crash (its tenant no longer lists the domain) is taken over.
    pub async fn claim_domains(&self, key: &TenantKey, domains: &[String]) -> Result<()> {
        let mut claimed = Vec::new();
        for domain in domains {
            match self.claim_domain(key, domain).await {
                Ok(true) => claimed.push(domain.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.release(key, &claimed).await?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `Ok(true)` when newly claimed, `Ok(false)` when this incarnation already held it.
    async fn claim_domain(&self, key: &TenantKey, domain: &str) -> Result<bool> {
        let claim = DomainClaim {
            domain: domain.to_string(),
            tenant_id: key.id.clone(),
            incarnation: key.incarnation.clone(),
        };
        match self.domains.insert_one(&claim).await {
            Ok(_) => return Ok(true),
            Err(e) if !is_duplicate_key(&e) => return Err(e.into()),
            Err(_) => {}
        }
        let Some(owner) = self.domains.find_one(doc! {"_id": domain}).await? else {
            return Box::pin(self.claim_domain(key, domain)).await;
        };
        if owner.tenant_id == key.id && owner.incarnation == key.incarnation {
            return Ok(false);
        }
        let owner_holds_it = self.get(&owner.tenant_id).await?.is_some_and(|t| {
            t.incarnation == owner.incarnation && t.domains.iter().any(|d| d == domain)
        });
        if owner_holds_it {
            return Err(TenancyError::DomainTaken(domain.to_string()));
        }
        // A stale claim (a crash, or an earlier incarnation): take it over only if it is still
        // the stale one.
        let taken = self
            .domains
            .update_one(
                doc! {"_id": domain, "tenant_id": owner.tenant_id.as_str(), "incarnation": owner.incarnation.as_str()},
                doc! {"$set": {"tenant_id": key.id.as_str(), "incarnation": key.incarnation.as_str()}},
            )
            .await?;
        if taken.modified_count == 1 {
            Ok(true)
        } else {
            Err(TenancyError::DomainTaken(domain.to_string()))
        }
    }

    /// Releases this incarnation's claims on `domains`.
    pub async fn release(&self, key: &TenantKey, domains: &[String]) -> Result<()> {
        if domains.is_empty() {
            return Ok(());
        }
        let filter = doc! {"_id": {"$in": domains}, "tenant_id": key.id.as_str(), "incarnation": key.incarnation.as_str()};
        self.domains.delete_many(filter).await?;
        Ok(())
    }
}

#[derive(Debug, Deserialize)]
struct IdOnly {
    #[serde(rename = "_id")]
    id: TenantId,
}

fn page_of(mut tenants: Vec<Tenant>, limit: usize) -> TenantPage {
    let more = tenants.len() > limit;
    tenants.truncate(limit);
    let next_after = if more {
        tenants.last().map(|t| t.id.clone())
    } else {
        None
    };
    TenantPage {
        tenants,
        next_after,
    }
}
