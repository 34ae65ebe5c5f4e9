//! `CatalogStore`: reads and writes tenant records (`tenants`) and the claims that make a value
//! one tenant's alone: custom domains (`domains`, `_id` = domain) and identity-provider issuers
//! (`issuers`, `_id` = issuer URL), in the catalog database. No caching here; see `cache`.

use futures::TryStreamExt;
use mongodb::bson::{DateTime, Document, doc, to_bson};
use mongodb::options::ReturnDocument;
use mongodb::{Collection, Database};
use serde::{Deserialize, Serialize};

use crate::error::{Result, TenancyError, is_duplicate_key};
use crate::{Incarnation, Tenant, TenantId, TenantKey, TenantPatch, TenantStatus};

pub(crate) const TENANTS: &str = "tenants";
pub(crate) const DOMAINS: &str = "domains";
pub(crate) const ISSUERS: &str = "issuers";

/// A claim of a unique value (a domain, an issuer) by one incarnation of a tenant.
#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    #[serde(rename = "_id")]
    value: String,
    tenant_id: TenantId,
    incarnation: Incarnation,
}

/// What kind of value a claim is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    Domain,
    Issuer,
}

impl Claimed {
    /// Whether `tenant` still lists `value` (a claim it does not is stale, left by a crash).
    fn held_by(self, tenant: &Tenant, value: &str) -> bool {
        match self {
            Claimed::Domain => tenant.domains.iter().any(|d| d == value),
            Claimed::Issuer => tenant.auth.as_ref().is_some_and(|a| a.issuer == value),
        }
    }

    fn taken(self, value: &str) -> TenancyError {
        match self {
            Claimed::Domain => TenancyError::DomainTaken(value.to_string()),
            Claimed::Issuer => TenancyError::IssuerTaken(value.to_string()),
        }
    }
}

/// One page of tenants, ordered by id.
/// Which tenants a list shows: all, or those of one status and/or matching a search text.
#[derive(Clone, Debug, Default)]
pub struct TenantFilter {
    pub status: Option<TenantStatus>,
    /// Tenants whose id starts with it or whose name contains it, ignoring case.
    pub search: Option<String>,
}

impl TenantFilter {
    fn to_document(&self) -> Document {
        let mut filter = Document::new();
        if let Some(status) = self.status {
            filter.insert("status", status.as_str());
        }
        if let Some(text) = self.search.as_deref().filter(|t| !t.is_empty()) {
            // Ids are lower case; names are matched ignoring case.
            let id_prefix = format!("^{}", regex_literal(&text.to_ascii_lowercase()));
            filter.insert(
                "$or",
                vec![
                    doc! {"_id": {"$regex": id_prefix}},
                    doc! {"name": {"$regex": regex_literal(text), "$options": "i"}},
                ],
            );
        }
        filter
    }
}

/// `text` as a regular expression that matches exactly it (ASCII punctuation escaped, which
/// covers every metacharacter).
fn regex_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_punctuation() {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

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
    domains: Collection<Claim>,
    issuers: Collection<Claim>,
}

impl CatalogStore {
    pub fn new(db: Database) -> CatalogStore {
        CatalogStore {
            tenants: db.collection(TENANTS),
            domains: db.collection(DOMAINS),
            issuers: db.collection(ISSUERS),
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
        self.domains.create_index(by_tenant.clone()).await?;
        self.issuers.create_index(by_tenant).await?;
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

    /// The keys (`<id>@<incarnation>`) of the tenants among `ids` that exist, in one read.
    pub async fn keys_of(&self, ids: &[&str]) -> Result<Vec<String>> {
        let found: Vec<Document> = self
            .tenants
            .clone_with_type::<Document>()
            .find(doc! {"_id": {"$in": ids}})
            .projection(doc! {"incarnation": 1})
            .await?
            .try_collect()
            .await?;
        Ok(found
            .iter()
            .filter_map(|t| {
                Some(format!(
                    "{}@{}",
                    t.get_str("_id").ok()?,
                    t.get_str("incarnation").ok()?
                ))
            })
            .collect())
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

    /// The tenant whose own identity provider is `issuer`, if any.
    pub async fn tenant_of_issuer(&self, issuer: &str) -> Result<Option<TenantId>> {
        Ok(self
            .issuers
            .find_one(doc! {"_id": issuer})
            .await?
            .map(|c| c.tenant_id))
    }

    /// Tenants ordered by id, after `after`, those `filter` keeps.
    pub async fn list(
        &self,
        filter: &TenantFilter,
        after: Option<&TenantId>,
        limit: u32,
    ) -> Result<TenantPage> {
        let mut filter = filter.to_document();
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

    /// The live tenants (active or suspended: those migrations apply to) whose schema is older
    /// than `version`: how many, and the first `limit` by id.
    pub async fn behind(&self, version: u32, limit: u32) -> Result<(u64, Vec<Tenant>)> {
        let live = [
            TenantStatus::Active.as_str(),
            TenantStatus::Suspended.as_str(),
        ];
        let filter = doc! {"schema_version": {"$lt": version}, "status": {"$in": live.as_slice()}};
        let count = self.tenants.count_documents(filter.clone()).await?;
        let first: Vec<Tenant> = self
            .tenants
            .find(filter)
            .sort(doc! {"_id": 1})
            .limit(i64::from(limit))
            .await?
            .try_collect()
            .await?;
        Ok((count, first))
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

    /// Applies a patch of settings. Domains and an issuer must already be claimed (`claim`).
    pub async fn apply_patch(&self, id: &TenantId, patch: &TenantPatch) -> Result<Option<Tenant>> {
        let mut set = Document::new();
        if let Some(name) = &patch.name {
            set.insert("name", name.as_str());
        }
        if let Some(plan) = &patch.plan {
            set.insert("plan", plan.as_str());
        }
        if let Some(limits) = &patch.limits {
            set.insert("limits", to_bson(limits)?);
        }
        if let Some(domains) = &patch.domains {
            set.insert("domains", domains);
        }
        match &patch.auth {
            Some(Some(auth)) => {
                set.insert("auth", to_bson(auth)?);
            }
            Some(None) => {
                let unset = doc! {"$unset": {"auth": ""}};
                self.tenants
                    .update_one(doc! {"_id": id.as_str()}, unset)
                    .await?;
            }
            None => {}
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
        self.domains.delete_many(claims.clone()).await?;
        self.issuers.delete_many(claims).await?;
        Ok(())
    }

    fn claims(&self, kind: Claimed) -> &Collection<Claim> {
        match kind {
            Claimed::Domain => &self.domains,
            Claimed::Issuer => &self.issuers,
        }
    }

    /// Claims values of `kind` for a tenant. A value claimed by another tenant fails the whole
    /// call with `DomainTaken`/`IssuerTaken` (claims made by this call are released). A claim
    /// left behind by a crash (its tenant no longer lists the value) is taken over.
    pub async fn claim(&self, kind: Claimed, key: &TenantKey, values: &[String]) -> Result<()> {
        let mut claimed = Vec::new();
        for value in values {
            match self.claim_one(kind, key, value).await {
                Ok(true) => claimed.push(value.clone()),
                Ok(false) => {}
                Err(e) => {
                    self.release(kind, key, &claimed).await?;
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// `Ok(true)` when newly claimed, `Ok(false)` when this incarnation already held it.
    async fn claim_one(&self, kind: Claimed, key: &TenantKey, value: &str) -> Result<bool> {
        let claims = self.claims(kind);
        let claim = Claim {
            value: value.to_string(),
            tenant_id: key.id.clone(),
            incarnation: key.incarnation.clone(),
        };
        match claims.insert_one(&claim).await {
            Ok(_) => return Ok(true),
            Err(e) if !is_duplicate_key(&e) => return Err(e.into()),
            Err(_) => {}
        }
        let Some(owner) = claims.find_one(doc! {"_id": value}).await? else {
            return Box::pin(self.claim_one(kind, key, value)).await;
        };
        if owner.tenant_id == key.id && owner.incarnation == key.incarnation {
            return Ok(false);
        }
        let owner_holds_it = self
            .get(&owner.tenant_id)
            .await?
            .is_some_and(|t| t.incarnation == owner.incarnation && kind.held_by(&t, value));
        if owner_holds_it {
            return Err(kind.taken(value));
        }
        // A stale claim (a crash, or an earlier incarnation): take it over only if it is still
        // the stale one.
        let taken = claims
            .update_one(
                doc! {"_id": value, "tenant_id": owner.tenant_id.as_str(), "incarnation": owner.incarnation.as_str()},
                doc! {"$set": {"tenant_id": key.id.as_str(), "incarnation": key.incarnation.as_str()}},
            )
            .await?;
        if taken.modified_count == 1 {
            Ok(true)
        } else {
            Err(kind.taken(value))
        }
    }

    /// Releases this incarnation's claims on `values`.
    pub async fn release(&self, kind: Claimed, key: &TenantKey, values: &[String]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let filter = doc! {"_id": {"$in": values}, "tenant_id": key.id.as_str(), "incarnation": key.incarnation.as_str()};
        self.claims(kind).delete_many(filter).await?;
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
