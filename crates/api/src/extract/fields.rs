//! `Field`: how a value of a request body is read from JSON, collecting one error per bad field
//! (wrong type, missing, invalid value, unknown field) with its path (`lines[0].qty`), so a 400
//! lists them all at once. `Fields` reads one JSON object; `request_body!` declares a body type
//! whose fields are read this way and documented by the same declaration.

use serde_json::{Map, Value};

use crate::http::FieldError;

/// The errors of one request, each at its path.
pub type Errors = Vec<FieldError>;

/// A value a request body field can hold.
pub trait Field: Sized {
    /// The value of an absent field; `None` when the field is required.
    fn absent() -> Option<Self> {
        None
    }

    /// The value of an explicit `null`; the same as absent unless the type tells them apart.
    fn null() -> Option<Self> {
        Self::absent()
    }

    /// Reads a present, non-null value, recording what is wrong with it at `path`.
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self>;
}

/// Records `message` at `path`.
pub fn reject(errors: &mut Errors, path: &str, message: impl Into<String>) {
    errors.push(FieldError {
        field: path.to_string(),
        message: message.into(),
    });
}

/// Reads a `T` and checks it with `parse` (a parsed type's own rules, e.g. `TenantName::parse`).
pub fn parsed<T: Field, U>(
    value: Value,
    path: &str,
    errors: &mut Errors,
    parse: impl FnOnce(T) -> Result<U, String>,
) -> Option<U> {
    match parse(T::read(value, path, errors)?) {
        Ok(parsed) => Some(parsed),
        Err(message) => {
            reject(errors, path, message);
            None
        }
    }
}

fn scalar<T>(
    value: Value,
    path: &str,
    errors: &mut Errors,
    convert: impl FnOnce(Value) -> Option<T>,
    expected: &str,
) -> Option<T> {
    let converted = convert(value);
    if converted.is_none() {
        reject(errors, path, expected);
    }
    converted
}

impl Field for String {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let string = |v| match v {
            Value::String(s) => Some(s),
            _ => None,
        };
        scalar(value, path, errors, string, "must be a string")
    }
}

/// A JSON number that is an integer, written `3` or `3.0` (JSON Schema's `integer` is both).
pub fn integer(value: &Value) -> Option<i128> {
    if let Some(n) = value.as_i64() {
        return Some(i128::from(n));
    }
    if let Some(n) = value.as_u64() {
        return Some(i128::from(n));
    }
    // Exact below 2^53; an `f64` this side of ±2^63 converts without saturating.
    let f = value.as_f64()?;
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i128)
}

impl Field for i64 {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let int = |v: Value| integer(&v).and_then(|n| i64::try_from(n).ok());
        scalar(value, path, errors, int, "must be an integer")
    }
}

impl Field for u64 {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let int = |v: Value| integer(&v).and_then(|n| u64::try_from(n).ok());
        scalar(value, path, errors, int, "must be a non-negative integer")
    }
}

impl Field for u32 {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let int = |v: Value| integer(&v).and_then(|n| u32::try_from(n).ok());
        let expected = "must be a non-negative integer below 2^32";
        scalar(value, path, errors, int, expected)
    }
}

/// An optional field: absent and `null` are `None`.
impl<T: Field> Field for Option<T> {
    fn absent() -> Option<Self> {
        Some(None)
    }

    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        T::read(value, path, errors).map(Some)
    }
}

/// An array: every bad item is reported at `path[i]`.
impl<T: Field> Field for Vec<T> {
    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        let Value::Array(items) = value else {
            reject(errors, path, "must be an array");
            return None;
        };
        let before = errors.len();
        let read: Vec<Option<T>> = items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Null => {
                    reject(errors, &format!("{path}[{i}]"), "must not be null");
                    None
                }
                item => T::read(item, &format!("{path}[{i}]"), errors),
            })
            .collect();
        if errors.len() > before {
            return None;
        }
        read.into_iter().collect()
    }
}

/// A field of a partial update that can be left as it is (absent), cleared (`null`) or set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Nullable<T> {
    #[default]
    Absent,
    Null,
    Set(T),
}

impl<T> Nullable<T> {
    /// `None`: unchanged; `Some(None)`: cleared; `Some(Some(v))`: set.
    pub fn into_change(self) -> Option<Option<T>> {
        match self {
            Nullable::Absent => None,
            Nullable::Null => Some(None),
            Nullable::Set(value) => Some(Some(value)),
        }
    }
}

impl<T: Field> Field for Nullable<T> {
    fn absent() -> Option<Self> {
        Some(Nullable::Absent)
    }

    fn null() -> Option<Self> {
        Some(Nullable::Null)
    }

    fn read(value: Value, path: &str, errors: &mut Errors) -> Option<Self> {
        T::read(value, path, errors).map(Nullable::Set)
    }
}

/// The fields of one JSON object, taken one by one; what is left at the end is unknown.
pub struct Fields<'e> {
    map: Map<String, Value>,
    prefix: String,
    errors: &'e mut Errors,
}

impl<'e> Fields<'e> {
    /// The object at `path`, or `None` (and an error) when the value is not an object.
    pub fn object(value: Value, path: &str, errors: &'e mut Errors) -> Option<Fields<'e>> {
        let Value::Object(map) = value else {
            reject(errors, path, "must be an object");
            return None;
        };
        Some(Fields {
            map,
            prefix: path.to_string(),
            errors,
        })
    }

    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The field `name` as a `T` (`None` when it is missing and required, or bad).
    pub fn take<T: Field>(&mut self, name: &str) -> Option<T> {
        let path = self.path(name);
        let value = match self.map.remove(name) {
            None => T::absent(),
            Some(Value::Null) => T::null(),
            Some(value) => return T::read(value, &path, self.errors),
        };
        if value.is_none() {
            reject(self.errors, &path, "is required");
        }
        value
    }

    /// Records a rule that the fields together break, at the field `name`.
    pub fn reject(&mut self, name: &str, message: impl Into<String>) {
        let path = self.path(name);
        reject(self.errors, &path, message);
    }

    /// Flags every field not taken as unknown; `Some(())` when no field of the object is bad.
    pub fn finish(self, errors_before: usize) -> Option<()> {
        let mut unknown: Vec<&String> = self.map.keys().collect();
        unknown.sort();
        for name in unknown {
            let path = if self.prefix.is_empty() {
                name.clone()
            } else {
                format!("{}.{name}", self.prefix)
            };
            reject(self.errors, &path, "is not a known field");
        }
        (self.errors.len() == errors_before).then_some(())
    }
}

/// Declares a request body: a struct that is both its OpenAPI schema (`utoipa::ToSchema`, with
/// the `#[schema(...)]` constraints given on its fields) and its parser (`Field`, every field
/// read with its own `Field` impl, unknown fields rejected). One declaration, so what is
/// documented is what is accepted.
///
/// ```ignore
/// request_body! {
///     /// `POST /v1/things` body.
///     pub struct ThingForCreate {
///         #[schema(min_length = 1, max_length = 200)]
///         pub name: String,
///         pub size: Option<i64>,
///     }
/// }
/// ```
#[macro_export]
macro_rules! request_body {
    ($(#[$meta:meta])* pub struct $name:ident {
        $($(#[$field_meta:meta])* pub $field:ident: $type:ty),* $(,)?
    }) => {
        #[derive(Debug, Clone, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        $(#[$meta])*
        pub struct $name {
            $($(#[$field_meta])* pub $field: $type),*
        }

        impl $crate::extract::Field for $name {
            fn read(
                value: serde_json::Value,
                path: &str,
                errors: &mut $crate::extract::Errors,
            ) -> Option<Self> {
                let before = errors.len();
                let mut fields = $crate::extract::Fields::object(value, path, errors)?;
                $(let $field = fields.take::<$type>(stringify!($field));)*
                fields.finish(before)?;
                Some(Self { $($field: $field?),* })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    crate::request_body! {
        pub struct Limits {
            pub max: Option<u32>,
        }
    }

    crate::request_body! {
        pub struct Sample {
            pub name: String,
            pub id: String,
            pub plan: Option<String>,
            pub limits: Option<Limits>,
            pub tags: Option<Vec<String>>,
            #[schema(value_type = Option<String>)]
            pub auth: Nullable<String>,
        }
    }

    fn read(v: Value) -> Result<Sample, Vec<String>> {
        let mut errors = Errors::new();
        match Sample::read(v, "", &mut errors) {
            Some(sample) if errors.is_empty() => Ok(sample),
            _ => Err(errors.into_iter().map(|e| e.field).collect()),
        }
    }

    #[test]
    fn collects_every_bad_field_with_its_path() {
        let body = json!({"name": 5, "plan": "pro", "extra": true, "more": 1,
            "limits": {"x": 1, "max": -1}, "tags": ["a", 2]});
        assert_eq!(
            read(body).unwrap_err(),
            [
                "name",
                "id",
                "limits.max",
                "limits.x",
                "tags[1]",
                "extra",
                "more"
            ]
        );
    }

    #[test]
    fn integers_may_be_written_as_integral_floats() {
        let mut errors = Errors::new();
        assert_eq!(i64::read(json!(324.0), "n", &mut errors), Some(324));
        assert_eq!(u32::read(json!(-1.0), "n", &mut errors), None);
        assert_eq!(i64::read(json!(1.5), "n", &mut errors), None);
        assert_eq!(i64::read(json!(i64::MIN), "n", &mut errors), Some(i64::MIN));
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn null_is_absent_unless_the_type_tells_them_apart() {
        let sample = read(json!({"name": "n", "id": "i", "plan": null, "auth": null})).unwrap();
        assert_eq!((sample.plan, sample.auth), (None, Nullable::Null));
        assert_eq!((sample.name.as_str(), sample.id.as_str()), ("n", "i"));
        assert!(sample.limits.is_none() && sample.tags.is_none());
        let body = json!({"name": "n", "id": "i", "limits": {"max": 3}, "tags": ["t"]});
        let sample = read(body).unwrap();
        assert_eq!(sample.limits.and_then(|l| l.max), Some(3));
        assert_eq!(sample.tags, Some(vec!["t".to_string()]));
        let sample = read(json!({"name": "n", "id": "i", "auth": "a"})).unwrap();
        assert_eq!(sample.auth.into_change(), Some(Some("a".to_string())));
        assert_eq!(
            read(json!({"name": null, "id": "i"})).unwrap_err(),
            ["name"]
        );
    }
}
