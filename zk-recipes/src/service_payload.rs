//! The payload of a Curator `ServiceInstance`, with Jackson's type tag.
//!
//! Curator declares the payload with `@JsonTypeInfo(use = CLASS)`, so
//! Jackson writes the Java class of every non-scalar payload next to it:
//! an object gets an `"@class"` member first (`{"@class":
//! "com.example.InstanceDetails","weight":3}`), other values are wrapped in
//! an array (`["java.util.ArrayList",[1,2]]`); strings, numbers and
//! booleans are written bare. A Curator service reads a payload back as the
//! class named there — an untagged object becomes a `LinkedHashMap`, which
//! a service whose payload type is a POJO cannot cast, and then its whole
//! `queryForInstances` fails.

use serde::de::{DeserializeOwned, Deserializer};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Jackson's class-name property.
const CLASS_KEY: &str = "@class";

/// The Java class Jackson gives a JSON object read without a type.
pub const JAVA_MAP_CLASS: &str = "java.util.LinkedHashMap";

/// A service instance's payload: a JSON value and the Java class Curator
/// services know it by.
///
/// ```
/// use zk_recipes::ServicePayload;
/// #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
/// struct Details { description: String, weight: i32 }
///
/// // What a Curator service with `ServiceDiscovery<InstanceDetails>` reads.
/// let details = Details { description: "primary".into(), weight: 3 };
/// let payload = ServicePayload::typed("com.example.InstanceDetails", &details).unwrap();
/// assert_eq!(
///     serde_json::to_string(&payload).unwrap(),
///     r#"{"@class":"com.example.InstanceDetails","description":"primary","weight":3}"#
/// );
/// assert_eq!(payload.java_class(), Some("com.example.InstanceDetails"));
/// assert_eq!(payload.get::<Details>().unwrap(), details);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePayload {
    class: Option<String>,
    value: Value,
}

impl ServicePayload {
    /// A payload of the Java class `class` (a POJO's fully qualified name,
    /// or e.g. `java.util.HashMap`), serialized from `value`.
    pub fn typed(
        class: impl Into<String>,
        value: &impl Serialize,
    ) -> Result<ServicePayload, serde_json::Error> {
        Ok(ServicePayload {
            class: Some(class.into()),
            value: serde_json::to_value(value)?,
        })
    }

    /// A map payload (Curator: `ServiceDiscovery<Map>`), tagged as
    /// [`JAVA_MAP_CLASS`].
    pub fn map(map: Map<String, Value>) -> ServicePayload {
        ServicePayload {
            class: Some(JAVA_MAP_CLASS.to_string()),
            value: Value::Object(map),
        }
    }

    /// A string payload (Curator: `ServiceDiscovery<String>`; Jackson
    /// writes strings without a tag).
    pub fn string(s: impl Into<String>) -> ServicePayload {
        ServicePayload {
            class: None,
            value: Value::String(s.into()),
        }
    }

    /// A payload written exactly as `value`, without a type tag. Curator
    /// reads scalars fine and objects as a `LinkedHashMap`; a service with
    /// a POJO payload type needs [`ServicePayload::typed`].
    pub fn untyped(value: Value) -> ServicePayload {
        ServicePayload { class: None, value }
    }

    /// The Java class named by the type tag, if there is one.
    pub fn java_class(&self) -> Option<&str> {
        self.class.as_deref()
    }

    /// The value, without the type tag.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value, deserialized.
    pub fn get<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.value)
    }

    /// Reads Jackson's tagged forms; anything else is an untyped value.
    fn from_tagged(value: Value) -> ServicePayload {
        match value {
            Value::Object(mut fields) => match fields.remove(CLASS_KEY) {
                Some(Value::String(class)) => ServicePayload {
                    class: Some(class),
                    value: Value::Object(fields),
                },
                Some(other) => {
                    fields.insert(CLASS_KEY.to_string(), other);
                    ServicePayload::untyped(Value::Object(fields))
                }
                None => ServicePayload::untyped(Value::Object(fields)),
            },
            Value::Array(mut items) if items.len() == 2 && items[0].is_string() => {
                let inner = items.pop().unwrap_or(Value::Null);
                let class = items.pop().and_then(|c| c.as_str().map(str::to_string));
                ServicePayload {
                    class,
                    value: inner,
                }
            }
            other => ServicePayload::untyped(other),
        }
    }
}

impl From<Value> for ServicePayload {
    /// An untyped payload (see [`ServicePayload::untyped`]).
    fn from(value: Value) -> ServicePayload {
        ServicePayload::untyped(value)
    }
}

impl Serialize for ServicePayload {
    /// As Jackson writes it: the tag first in an object, else a
    /// `[class, value]` wrapper; untyped values as they are.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (&self.class, &self.value) {
            (None, v) => v.serialize(serializer),
            (Some(class), Value::Object(fields)) => {
                let rest = fields.iter().filter(|(k, _)| k.as_str() != CLASS_KEY);
                let mut map = serializer.serialize_map(None)?;
                map.serialize_entry(CLASS_KEY, class)?;
                for (k, v) in rest {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
            (Some(class), v) => (class, v).serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for ServicePayload {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ServicePayload, D::Error> {
        Value::deserialize(deserializer).map(ServicePayload::from_tagged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jackson_forms_round_trip() {
        // As Curator 5.4 wrote them (captured by scripts/interop).
        let pojo = json!({"@class":"zkrs.interop.InstanceDetails","description":"java details","weight":3});
        let p: ServicePayload = serde_json::from_value(pojo.clone()).unwrap();
        assert_eq!(p.java_class(), Some("zkrs.interop.InstanceDetails"));
        assert_eq!(p.value(), &json!({"description":"java details","weight":3}));
        assert_eq!(serde_json::to_value(&p).unwrap(), pojo);

        let s: ServicePayload = serde_json::from_value(json!("hello")).unwrap();
        assert_eq!(s, ServicePayload::string("hello"));
        assert_eq!(serde_json::to_value(&s).unwrap(), json!("hello"));

        let list = json!(["java.util.ArrayList", [1, 2]]);
        let l: ServicePayload = serde_json::from_value(list.clone()).unwrap();
        assert_eq!(l.java_class(), Some("java.util.ArrayList"));
        assert_eq!(l.value(), &json!([1, 2]));
        assert_eq!(serde_json::to_value(&l).unwrap(), list);

        let m = ServicePayload::map(json!({"zone":"eu"}).as_object().unwrap().clone());
        let text = serde_json::to_string(&m).unwrap();
        assert_eq!(text, r#"{"@class":"java.util.LinkedHashMap","zone":"eu"}"#);

        // The tag always comes first and is never doubled.
        let odd = ServicePayload::typed("a.B", &json!({"z":1,"@class":"x.Y"})).unwrap();
        assert_eq!(
            serde_json::to_string(&odd).unwrap(),
            r#"{"@class":"a.B","z":1}"#
        );
        let untagged: ServicePayload = serde_json::from_value(json!({"k": 1})).unwrap();
        assert_eq!(untagged.java_class(), None);
    }
}
