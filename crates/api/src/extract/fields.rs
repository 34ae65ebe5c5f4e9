//! `Fields`: reads a JSON object field by field, collecting one error per bad field (wrong type,
//! missing, invalid value, unknown field) so a 400 lists them all at once.
//!
//! ```ignore
//! let mut f = Fields::new(body);
//! let name: Option<String> = f.required("name");
//! let plan: Option<String> = f.optional("plan");
//! f.finish()?; // unknown fields and every error so far → 400 validation_failed
//! ```

use serde_json::{Map, Value};

use super::JsonObject;
use crate::http::{ApiError, FieldError};

/// A JSON value that a field can hold.
pub trait FieldValue: Sized {
    /// Converts, or says what the field must be.
    fn from_json(value: Value) -> Result<Self, &'static str>;
}

impl FieldValue for String {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::String(s) => Ok(s),
            _ => Err("must be a string"),
        }
    }
}

impl FieldValue for u64 {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        value.as_u64().ok_or("must be a non-negative integer")
    }
}

impl FieldValue for i64 {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        value.as_i64().ok_or("must be an integer")
    }
}

impl FieldValue for Vec<Value> {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::Array(items) => Ok(items),
            _ => Err("must be an array"),
        }
    }
}

impl FieldValue for u32 {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or("must be a non-negative integer below 2^32")
    }
}

impl FieldValue for Vec<String> {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        let Value::Array(items) = value else {
            return Err("must be an array of strings");
        };
        items
            .into_iter()
            .map(String::from_json)
            .collect::<Result<_, _>>()
            .map_err(|_| "must be an array of strings")
    }
}

impl FieldValue for Map<String, Value> {
    fn from_json(value: Value) -> Result<Self, &'static str> {
        match value {
            Value::Object(map) => Ok(map),
            _ => Err("must be an object"),
        }
    }
}

pub struct Fields {
    map: Map<String, Value>,
    prefix: String,
    errors: Vec<FieldError>,
}

impl Fields {
    pub fn new(body: JsonObject) -> Fields {
        Fields::nested(body.0, "")
    }

    /// Fields of an object found at `prefix` (e.g. `limits`).
    pub fn nested(map: Map<String, Value>, prefix: &str) -> Fields {
        Fields {
            map,
            prefix: prefix.to_string(),
            errors: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// A field that must be present (and not null).
    pub fn required<T: FieldValue>(&mut self, name: &str) -> Option<T> {
        let value = self.optional(name);
        if value.is_none() && !self.errors.iter().any(|e| e.field == self.path(name)) {
            self.reject(name, "is required");
        }
        value
    }

    /// A field that may be absent or null.
    pub fn optional<T: FieldValue>(&mut self, name: &str) -> Option<T> {
        match self.map.remove(name) {
            None | Some(Value::Null) => None,
            Some(value) => match T::from_json(value) {
                Ok(v) => Some(v),
                Err(message) => {
                    self.reject(name, message);
                    None
                }
            },
        }
    }

    /// A field that may be absent (`None`), null (`Some(None)`: cleared) or set.
    pub fn nullable<T: FieldValue>(&mut self, name: &str) -> Option<Option<T>> {
        match self.map.get(name) {
            None => None,
            Some(Value::Null) => {
                self.map.remove(name);
                Some(None)
            }
            Some(_) => self.optional(name).map(Some),
        }
    }

    /// Records a semantic error on a field.
    pub fn reject(&mut self, name: &str, message: impl Into<String>) {
        let field = self.path(name);
        self.errors.push(FieldError {
            field,
            message: message.into(),
        });
    }

    /// Moves the errors of a nested reader into this one.
    pub fn absorb(&mut self, nested: Fields) {
        let mut nested = nested;
        nested.flag_unknown();
        self.errors.extend(nested.errors);
    }

    fn flag_unknown(&mut self) {
        let unknown: Vec<String> = self.map.keys().cloned().collect();
        for name in unknown {
            self.reject(&name, "is not a known field");
        }
        self.map.clear();
    }

    /// Fails with every error collected, unknown fields included.
    pub fn finish(mut self) -> Result<(), ApiError> {
        self.flag_unknown();
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        match v {
            Value::Object(map) => Fields::new(JsonObject(map)),
            _ => unreachable!(),
        }
    }

    #[test]
    fn collects_every_bad_field() {
        let mut f = fields(json!({"name": 5, "plan": "pro", "extra": true, "limits": {"x": 1}}));
        let name: Option<String> = f.required("name");
        let id: Option<String> = f.required("id");
        let plan: Option<String> = f.optional("plan");
        let limits: Option<Map<String, Value>> = f.optional("limits");
        let mut nested = Fields::nested(limits.unwrap(), "limits");
        let _: Option<u32> = nested.optional("max");
        f.absorb(nested);
        assert_eq!((name, id, plan.as_deref()), (None, None, Some("pro")));
        let err = f.finish().unwrap_err();
        let mut got: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        got.sort();
        assert_eq!(got, ["extra", "id", "limits.x", "name"]);
    }

    #[test]
    fn null_is_absent() {
        let mut f = fields(json!({"plan": null}));
        assert_eq!(f.optional::<String>("plan"), None);
        assert!(f.finish().is_ok());
    }
}
