//! Secrets at rest: SASL passwords (and URLs carrying a password, such as a
//! schema registry's) sealed with AES-256-GCM under a key the
//! operator configures (64 hex digits, as ClickHouse's `key_hex`), so that a
//! shared catalog topic or a catalog file never holds them in clear text.
//! A sealed value reads `sealed:v1:<hex of nonce and ciphertext>`.
//! Uses aes-gcm, hex, and this crate's definitions and Kafka settings.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};

use crate::kafka::{without_url_password, SECRET_SETTINGS};
use crate::store::{Definition, NamedCollection};

const PREFIX: &str = "sealed:v1:";
const NONCE_LEN: usize = 12;

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the catalog key must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    #[error(
        "a secret setting needs a catalog key to be kept (--catalog-key or KAFKAHOUSE_CATALOG_KEY)"
    )]
    NoKey,
    #[error("a sealed secret could not be opened: wrong catalog key, or the value was altered")]
    CannotOpen,
}

/// The key secrets are sealed with. Its Debug output never shows it.
#[derive(Clone)]
pub struct SecretKey(Key<Aes256Gcm>);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<hidden>)")
    }
}

impl SecretKey {
    pub fn from_hex(text: &str) -> Result<SecretKey, SealError> {
        let bytes = hex::decode(text.trim()).map_err(|_| SealError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealError::BadKey);
        }
        Ok(SecretKey(*Key::<Aes256Gcm>::from_slice(&bytes)))
    }

    /// `plain`, sealed with a fresh nonce.
    pub fn seal(&self, plain: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        // Encryption fails only for inputs of gigabytes; a setting is not.
        let sealed = Aes256Gcm::new(&self.0)
            .encrypt(&nonce, plain.as_bytes())
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        format!("{PREFIX}{}", hex::encode(bytes))
    }

    /// The clear text of a value `seal` made.
    pub fn open(&self, value: &str) -> Result<String, SealError> {
        let body = value.strip_prefix(PREFIX).ok_or(SealError::CannotOpen)?;
        let bytes = hex::decode(body).map_err(|_| SealError::CannotOpen)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::CannotOpen);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = Aes256Gcm::new(&self.0)
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| SealError::CannotOpen)?;
        String::from_utf8(plain).map_err(|_| SealError::CannotOpen)
    }
}

/// Whether `value` is sealed.
pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

/// Seals every secret of `definition` in place; without a key, a secret is
/// an error.
pub fn seal_definition(
    definition: &mut Definition,
    key: Option<&SecretKey>,
) -> Result<(), SealError> {
    rewrite(definition_values(definition, is_secret), |v| {
        seal_value(v, key)
    })
}

/// Opens every sealed secret of `definition` in place.
pub fn open_definition(
    definition: &mut Definition,
    key: Option<&SecretKey>,
) -> Result<(), SealError> {
    rewrite(definition_values(definition, |_, v| is_sealed(v)), |v| {
        open_value(v, key)
    })
}

/// Seals every secret of `collection` in place, as `seal_definition`.
pub fn seal_collection(
    collection: &mut NamedCollection,
    key: Option<&SecretKey>,
) -> Result<(), SealError> {
    rewrite(collection_values(collection, is_secret), |v| {
        seal_value(v, key)
    })
}

/// Opens every sealed secret of `collection` in place.
pub fn open_collection(
    collection: &mut NamedCollection,
    key: Option<&SecretKey>,
) -> Result<(), SealError> {
    rewrite(collection_values(collection, |_, v| is_sealed(v)), |v| {
        open_value(v, key)
    })
}

/// Replaces each of `values` with what `f` makes of it.
fn rewrite(
    values: Vec<&mut String>,
    f: impl Fn(&str) -> Result<String, SealError>,
) -> Result<(), SealError> {
    for value in values {
        *value = f(value)?;
    }
    Ok(())
}

fn seal_value(value: &str, key: Option<&SecretKey>) -> Result<String, SealError> {
    match key {
        _ if is_sealed(value) => Ok(value.to_string()),
        Some(key) => Ok(key.seal(value)),
        None => Err(SealError::NoKey),
    }
}

fn open_value(value: &str, key: Option<&SecretKey>) -> Result<String, SealError> {
    match key {
        _ if !is_sealed(value) => Ok(value.to_string()),
        Some(key) => key.open(value),
        None => Err(SealError::NoKey),
    }
}

/// Whether a setting's value is a secret: a password setting, or a URL
/// with a password in it.
pub fn is_secret(key: &str, value: &str) -> bool {
    SECRET_SETTINGS.contains(&key) || without_url_password(value) != value
}

type Pick = fn(&str, &str) -> bool;

/// The values of a Kafka table's settings (and of the overrides it gave a
/// named collection) that `pick` chooses.
fn definition_values(definition: &mut Definition, pick: Pick) -> Vec<&mut String> {
    let Definition::KafkaTable(table) = definition else {
        return Vec::new();
    };
    let mut found: Vec<&mut String> = table
        .settings
        .iter_mut()
        .filter(|(k, v)| pick(k, v))
        .map(|(_, v)| v)
        .collect();
    if let Some(used) = &mut table.collection {
        found.extend(
            used.overrides
                .iter_mut()
                .chain(used.settings.iter_mut())
                .filter(|(k, v)| pick(k, v))
                .map(|(_, v)| v),
        );
    }
    found
}

fn collection_values(collection: &mut NamedCollection, pick: Pick) -> Vec<&mut String> {
    collection
        .params
        .iter_mut()
        .filter(|(k, v)| pick(k, v))
        .map(|(_, v)| v)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_value_opens_with_its_key_only() {
        let key = SecretKey::from_hex(KEY).unwrap();
        let sealed = key.seal("hunter2");
        assert!(
            is_sealed(&sealed) && !sealed.contains("hunter2"),
            "{sealed}"
        );
        assert_ne!(sealed, key.seal("hunter2"), "a fresh nonce each time");
        assert_eq!(key.open(&sealed).unwrap(), "hunter2");
        let other = SecretKey::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert_eq!(other.open(&sealed), Err(SealError::CannotOpen));
        let mut altered = sealed.clone();
        altered.pop();
        altered.push('0');
        assert!(key.open(&altered).is_err() || altered == sealed);
    }

    #[test]
    fn keys_are_64_hex_digits() {
        assert_eq!(SecretKey::from_hex("abcd").unwrap_err(), SealError::BadKey);
        assert_eq!(
            SecretKey::from_hex(&"zz".repeat(32)).unwrap_err(),
            SealError::BadKey
        );
        assert!(!format!("{:?}", SecretKey::from_hex(KEY).unwrap()).contains("0001"));
    }

    #[test]
    fn collections_seal_only_their_secrets() {
        let key = SecretKey::from_hex(KEY).unwrap();
        let mut c = NamedCollection {
            name: "kc".into(),
            params: [
                ("kafka_sasl_password".to_string(), "pw".to_string()),
                ("kafka_broker_list".to_string(), "b:9092".to_string()),
                (
                    "format_avro_schema_registry_url".to_string(),
                    "http://u:pw@registry:8081".to_string(),
                ),
            ]
            .into(),
            ..Default::default()
        };
        assert_eq!(seal_collection(&mut c.clone(), None), Err(SealError::NoKey));
        seal_collection(&mut c, Some(&key)).unwrap();
        assert!(is_sealed(&c.params["kafka_sasl_password"]));
        assert!(is_sealed(&c.params["format_avro_schema_registry_url"]));
        assert_eq!(c.params["kafka_broker_list"], "b:9092");
        open_collection(&mut c, Some(&key)).unwrap();
        assert_eq!(c.params["kafka_sasl_password"], "pw");
        assert_eq!(
            c.params["format_avro_schema_registry_url"],
            "http://u:pw@registry:8081"
        );
    }
}
