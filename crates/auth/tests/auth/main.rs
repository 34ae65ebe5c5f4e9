//! Integration tests of `tenantry-auth`, with real keys from `tests/fixtures` and real
//! signatures. One test binary (modules below) to keep link times down.

mod admin_key;
mod cache;
mod loading;
mod mint;
mod support;
mod verify;
