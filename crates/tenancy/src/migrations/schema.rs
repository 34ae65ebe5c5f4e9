//! The schema of a tenant database, as ordered migrations contributed by each component that
//! owns collections (the CQRS library: outbox, checkpoints; a domain: its write model and read
//! models). Tenancy only runs them and keeps the ledger; it declares nothing of its own here.

use futures::future::BoxFuture;
use mongodb::Database;

/// One schema step of a tenant database. `apply` must be safe to run twice (create-if-missing):
/// a crash between a migration and its ledger entry runs it again.
pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub apply: for<'a> fn(&'a Database) -> BoxFuture<'a, mongodb::error::Result<()>>,
}

/// The migrations of one component, versions 1, 2, 3, ... in order.
pub struct Component {
    pub name: &'static str,
    pub migrations: &'static [Migration],
}

/// Every component's migrations, applied component by component in the order given.
#[derive(Clone)]
pub struct Schema {
    components: Vec<&'static Component>,
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.components.iter().map(|c| c.name).collect();
        f.debug_struct("Schema")
            .field("components", &names)
            .finish()
    }
}

/// A component whose versions do not run 1, 2, 3, ...
#[derive(Debug, thiserror::Error)]
#[error(
    "migrations of '{component}' must be numbered 1, 2, 3, ...: found {found} at position {position}"
)]
pub struct BadNumbering {
    pub component: &'static str,
    pub position: usize,
    pub found: u32,
}

impl Schema {
    pub fn new(components: Vec<&'static Component>) -> Result<Schema, BadNumbering> {
        for component in &components {
            for (i, m) in component.migrations.iter().enumerate() {
                if m.version as usize != i + 1 {
                    return Err(BadNumbering {
                        component: component.name,
                        position: i + 1,
                        found: m.version,
                    });
                }
            }
        }
        Ok(Schema { components })
    }

    /// Every migration with its component, in application order.
    pub fn steps(&self) -> impl Iterator<Item = (&'static str, &'static Migration)> + '_ {
        self.components
            .iter()
            .flat_map(|c| c.migrations.iter().map(move |m| (c.name, m)))
    }

    /// The schema version of a fully migrated tenant: the number of migrations. Components only
    /// ever append migrations, so the number grows with every release that adds one.
    pub fn latest_version(&self) -> u32 {
        self.steps().count() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop(_: &Database) -> BoxFuture<'_, mongodb::error::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    static GOOD: Component = Component {
        name: "good",
        migrations: &[
            Migration {
                version: 1,
                name: "a",
                apply: noop,
            },
            Migration {
                version: 2,
                name: "b",
                apply: noop,
            },
        ],
    };
    static BAD: Component = Component {
        name: "bad",
        migrations: &[Migration {
            version: 2,
            name: "skips",
            apply: noop,
        }],
    };

    #[test]
    fn versions_must_run_from_one() {
        let schema = Schema::new(vec![&GOOD]).unwrap();
        assert_eq!(schema.latest_version(), 2);
        let err = Schema::new(vec![&GOOD, &BAD]).unwrap_err();
        assert_eq!((err.component, err.found), ("bad", 2));
    }
}
