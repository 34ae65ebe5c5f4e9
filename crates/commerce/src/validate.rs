//! Field rules shared by commands and queries.

use cqrs::Invalid;

pub const MAX_NAME: usize = 200;
pub const MAX_SKU: usize = 64;
/// Prices and quantities stay far below i64 overflow when multiplied and summed.
pub const MAX_PRICE_CENTS: i64 = 100_000_000_000;
pub const MAX_STOCK: i64 = 1_000_000_000;

#[derive(Default)]
pub struct Checks(Vec<Invalid>);

impl Checks {
    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: &str) -> &mut Self {
        if !ok {
            self.0.push(Invalid::new(field, message));
        }
        self
    }

    pub fn name(&mut self, field: &str, value: &str) -> &mut Self {
        let ok = !value.trim().is_empty() && value.chars().count() <= MAX_NAME;
        self.check(ok, field, "must have 1 to 200 characters")
    }

    pub fn sku(&mut self, value: &str) -> &mut Self {
        let ok = (1..=MAX_SKU).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        self.check(ok, "sku", "must be 1 to 64 characters of [A-Za-z0-9._-]")
    }

    pub fn price(&mut self, value: i64) -> &mut Self {
        self.check(
            (0..=MAX_PRICE_CENTS).contains(&value),
            "price_cents",
            "must be from 0 to 100000000000",
        )
    }

    pub fn stock(&mut self, value: i64) -> &mut Self {
        self.check(
            (0..=MAX_STOCK).contains(&value),
            "stock",
            "must be from 0 to 1000000000",
        )
    }

    pub fn finish(&mut self) -> Result<(), Vec<Invalid>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(std::mem::take(&mut self.0))
        }
    }
}
