//! Reading API input: an optional field may be left out, but when it is sent it must have
//! its type; `null` is accepted only where the contract says a field is nullable.

use serde::{Deserialize, Deserializer};

/// For `#[serde(default, deserialize_with = "present")]` on an `Option<T>` field: absent
/// is `None`, `null` is refused as the wrong type.
pub fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

#[cfg(test)]
mod tests {
    #[derive(serde::Deserialize, Debug)]
    struct Body {
        #[serde(default, deserialize_with = "super::present")]
        note: Option<String>,
    }

    #[test]
    fn absent_is_none_and_null_is_refused() {
        assert!(serde_json::from_str::<Body>("{}").unwrap().note.is_none());
        assert_eq!(
            serde_json::from_str::<Body>(r#"{"note":"x"}"#)
                .unwrap()
                .note
                .as_deref(),
            Some("x")
        );
        assert!(serde_json::from_str::<Body>(r#"{"note":null}"#).is_err());
    }
}
