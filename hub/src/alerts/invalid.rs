//! `Invalid`: a rule or receiver refused, with the field at fault, so the
//! API, the command line and the rules file all say where the mistake is.

/// A refused rule or receiver: the field (a dotted path such as
/// `scope.app` or `receivers[1]`; empty for the whole object) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if field.is_empty() { String::new() } else { format!("{field}: ") })]
pub struct Invalid {
    /// The field at fault.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl Invalid {
    /// `field` is wrong because of `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Deserializes `v` as `T`, naming the field of the first error.
    pub fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, Invalid> {
        serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            let message = e.into_inner().to_string();
            // A missing field is reported at its parent: name it.
            let missing = message
                .strip_prefix("missing field `")
                .and_then(|m| m.split('`').next());
            let field = match (path.as_str(), missing) {
                (".", Some(m)) => m.to_string(),
                (".", None) => String::new(),
                (p, Some(m)) => format!("{p}.{m}"),
                (p, None) => p.to_string(),
            };
            Invalid::new(field, message)
        })
    }
}
