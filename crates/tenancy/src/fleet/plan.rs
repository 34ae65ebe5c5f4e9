//! The balancing plan: which live instance should own each partition.
//!
//! A pure, deterministic function of what every instance reads from the catalog (live
//! instances, current owners, tenants per partition), so instances that read the same table
//! agree without talking to each other. It is sticky (a partition stays with its owner unless
//! moving it evens the load), and it balances *tenants*, not partitions: a partition weighs its
//! tenant count (plus a little, so empty partitions are spread too).

use std::collections::BTreeMap;

use super::partition::{PARTITIONS, Partition};

/// The weight of a partition: its tenants, scaled, plus one so empty partitions count a bit.
fn weight(tenants: u64) -> u64 {
    tenants * 1000 + 1
}

/// Desired owner of every partition, given the live instances (any order), the partitions'
/// current live owners and the number of tenants in each partition (`tenants[p]`).
pub fn plan(
    instances: &[String],
    owners: &BTreeMap<Partition, String>,
    tenants: &[u64],
) -> BTreeMap<Partition, String> {
    let mut live: Vec<&String> = instances.iter().collect();
    live.sort();
    live.dedup();
    if live.is_empty() {
        return BTreeMap::new();
    }
    let w = |p: Partition| weight(tenants.get(usize::from(p)).copied().unwrap_or(0));
    let mut load: BTreeMap<&String, u64> = live.iter().map(|i| (*i, 0)).collect();
    let mut assigned: BTreeMap<Partition, &String> = BTreeMap::new();
    for (p, owner) in owners {
        if let Some((&instance, _)) = load.get_key_value(owner) {
            *load.entry(instance).or_default() += w(*p);
            assigned.insert(*p, instance);
        }
    }
    // Unowned partitions, heaviest first, each to the least loaded instance.
    let mut free: Vec<Partition> = (0..PARTITIONS)
        .filter(|p| !assigned.contains_key(p))
        .collect();
    free.sort_by_key(|p| (std::cmp::Reverse(w(*p)), *p));
    for p in free {
        let least = least_loaded(&load);
        *load.entry(least).or_default() += w(p);
        assigned.insert(p, least);
    }
    // Then move partitions from the most to the least loaded instance while that narrows the gap.
    for _ in 0..PARTITIONS {
        let (most, least) = (most_loaded(&load), least_loaded(&load));
        let gap = load[most] - load[least];
        let candidate = assigned
            .iter()
            .filter(|(p, owner)| **owner == most && w(**p) < gap)
            .map(|(p, _)| *p)
            .min_by_key(|p| (gap.abs_diff(2 * w(*p)), *p));
        let Some(p) = candidate else { break };
        *load.entry(most).or_default() -= w(p);
        *load.entry(least).or_default() += w(p);
        assigned.insert(p, least);
    }
    assigned.into_iter().map(|(p, i)| (p, i.clone())).collect()
}

fn least_loaded<'a>(load: &BTreeMap<&'a String, u64>) -> &'a String {
    load.iter()
        .min_by_key(|(i, l)| (**l, **i))
        .map(|(i, _)| *i)
        .unwrap_or_else(|| unreachable!("plan() returns early without instances"))
}

fn most_loaded<'a>(load: &BTreeMap<&'a String, u64>) -> &'a String {
    load.iter()
        .max_by_key(|(i, l)| (**l, std::cmp::Reverse(**i)))
        .map(|(i, _)| *i)
        .unwrap_or_else(|| unreachable!("plan() returns early without instances"))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn tenants_per_instance(
        plan: &BTreeMap<Partition, String>,
        tenants: &[u64],
    ) -> BTreeMap<String, u64> {
        let mut per: BTreeMap<String, u64> = BTreeMap::new();
        for (p, i) in plan {
            *per.entry(i.clone()).or_default() += tenants[usize::from(*p)];
        }
        per
    }

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("i{i}")).collect()
    }

    #[test]
    fn a_lone_instance_owns_everything() {
        let plan = plan(&names(1), &BTreeMap::new(), &[1; 256]);
        assert_eq!(plan.len(), usize::from(PARTITIONS));
        assert!(plan.values().all(|i| i == "i0"));
    }

    #[test]
    fn a_new_instance_takes_a_share_and_the_rest_stays_put() {
        let tenants = vec![4u64; 256];
        let before = plan(&names(2), &BTreeMap::new(), &tenants);
        let after = plan(&names(3), &before, &tenants);
        let per = tenants_per_instance(&after, &tenants);
        assert!(per.values().all(|t| (320..=364).contains(t)), "{per:?}");
        // Only partitions that went to the newcomer moved.
        for (p, owner) in &after {
            assert!(
                owner == "i2" || before[p] == *owner,
                "partition {p} moved between old instances"
            );
        }
    }

    #[test]
    fn dead_owners_partitions_are_taken_over() {
        let tenants = vec![1u64; 256];
        let three = plan(&names(3), &BTreeMap::new(), &tenants);
        let survivors: BTreeMap<Partition, String> = three
            .iter()
            .filter(|(_, i)| *i != "i1")
            .map(|(p, i)| (*p, i.clone()))
            .collect();
        let two = plan(&["i0".into(), "i2".into()], &survivors, &tenants);
        assert_eq!(two.len(), 256);
        assert!(two.values().all(|i| i != "i1"));
    }

    proptest! {
        /// Within ±20 % of the mean number of tenants per instance whenever the tenants are
        /// spread over many more partitions than instances.
        #[test]
        fn tenants_are_balanced(n in 1usize..8, seed in any::<u64>(), per in 2u64..50) {
            let mut x = seed | 1;
            let tenants: Vec<u64> = (0..256).map(|_| {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                x % (2 * per)
            }).collect();
            let total: u64 = tenants.iter().sum();
            prop_assume!(total > 0);
            let plan = plan(&names(n), &BTreeMap::new(), &tenants);
            let loads = tenants_per_instance(&plan, &tenants);
            let mean = total as f64 / n as f64;
            for load in loads.values() {
                prop_assert!((*load as f64 - mean).abs() <= 0.2 * mean + 1.0, "{loads:?} mean {mean}");
            }
        }
    }
}
