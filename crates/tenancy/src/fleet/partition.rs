//! Partitions of the tenant space: projection work is leased per partition, not per tenant, so
//! the lease table has a fixed size (`PARTITIONS` documents) however many tenants there are.
//!
//! The mapping is part of the protocol between instances: every instance of a fleet must agree
//! on it, so both the function (FNV-1a, fixed) and the count are constants, never settings.

use crate::TenantId;

/// Number of partitions. Far more than instances, so work can be balanced finely.
pub const PARTITIONS: u16 = 256;

/// A partition of the tenant space.
pub type Partition = u16;

/// The partition of a tenant: FNV-1a (32-bit) of its id, modulo `PARTITIONS`.
pub fn partition_of(id: &TenantId) -> Partition {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in id.as_str().bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % u32::from(PARTITIONS)) as Partition
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mapping_is_stable_and_spread() {
        // Fixed values: changing the function would split a running fleet's view of ownership.
        assert_eq!(partition_of(&TenantId::parse("acme").unwrap()), 175);
        let mut seen = std::collections::HashSet::new();
        for i in 0..5000 {
            let id = TenantId::parse(&format!("tenant-{i}")).unwrap();
            let p = partition_of(&id);
            assert!(p < PARTITIONS);
            seen.insert(p);
        }
        assert_eq!(seen.len(), usize::from(PARTITIONS));
    }
}
