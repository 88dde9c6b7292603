//! Web Push to the wallet app (RFC 8030): the message encrypted to the subscription's
//! keys (RFC 8291, aes128gcm, `web-push-native`) and signed for the push service with
//! this server's VAPID key (RFC 8292: a JWT whose `aud` is the endpoint's origin), sent
//! over the shared HTTP client. A 404 or 410 means the subscription is gone.

use super::SendError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use web_push_native::jwt_simple::algorithms::{
    ECDSAP256KeyPairLike, ECDSAP256PublicKeyLike, ES256KeyPair,
};
use web_push_native::jwt_simple::claims::Claims;
use web_push_native::p256::PublicKey;

/// Where and to whom a push goes: the subscription as the browser gave it.
pub struct Target {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

pub struct Pusher {
    key: ES256KeyPair,
    subject: String,
    http: reqwest::Client,
}

/// How long a push service keeps an undelivered message (seconds; `TTL`).
const TTL_SECS: u64 = 24 * 60 * 60;

impl Pusher {
    /// The pusher for the base64url P-256 private key `private_key`.
    pub fn new(private_key: &str, subject: &str, http: reqwest::Client) -> Result<Self, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(private_key.trim())
            .map_err(|_| "PINPAY_VAPID_PRIVATE_KEY is not base64url".to_string())?;
        let key = ES256KeyPair::from_bytes(&bytes)
            .map_err(|e| format!("PINPAY_VAPID_PRIVATE_KEY is no P-256 key: {e}"))?;
        Ok(Self {
            key,
            subject: subject.to_string(),
            http,
        })
    }

    /// The public key browsers subscribe with (`applicationServerKey`), base64url.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.public_key().public_key().to_bytes_uncompressed())
    }

    /// The VAPID `Authorization` value for `endpoint` (its origin, port included).
    fn authorization(&self, endpoint: &url::Url) -> Result<String, SendError> {
        let audience = endpoint.origin().ascii_serialization();
        let claims = Claims::create(web_push_native::jwt_simple::prelude::Duration::from_hours(
            12,
        ))
        .with_audience(audience)
        .with_subject(&self.subject);
        let token = self
            .key
            .sign(claims)
            .map_err(|e| SendError::transient(format!("signing the VAPID token: {e}")))?;
        Ok(format!("vapid t={token}, k={}", self.public_key()))
    }

    /// Sends `payload` to `to`. `Err(gone)` when the push service no longer knows it.
    pub async fn send(&self, to: &Target, payload: &[u8]) -> Result<(), SendError> {
        let permanent = |detail: String| SendError {
            permanent: true,
            gone: false,
            detail,
        };
        let endpoint =
            url::Url::parse(&to.endpoint).map_err(|_| permanent("bad endpoint".into()))?;
        let ua_public = URL_SAFE_NO_PAD
            .decode(&to.p256dh)
            .ok()
            .and_then(|b| PublicKey::from_sec1_bytes(&b).ok())
            .ok_or_else(|| permanent("bad p256dh key".into()))?;
        let auth = URL_SAFE_NO_PAD
            .decode(&to.auth)
            .ok()
            .filter(|a| a.len() == 16)
            .ok_or_else(|| permanent("bad auth secret".into()))?;
        let auth = web_push_native::Auth::clone_from_slice(&auth);
        let body = web_push_native::encrypt(payload.to_vec(), &ua_public, &auth)
            .map_err(|e| permanent(format!("encrypting: {e}")))?;
        let res = self
            .http
            .post(endpoint.as_str())
            .header("TTL", TTL_SECS.to_string())
            .header("Urgency", "high")
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("Authorization", self.authorization(&endpoint)?)
            .body(body)
            .send()
            .await
            .map_err(|e| SendError::transient(format!("push service unreachable: {e}")))?;
        let status = res.status().as_u16();
        match status {
            200..=299 => Ok(()),
            404 | 410 => Err(SendError {
                permanent: true,
                gone: true,
                detail: format!("the push service answered {status}: subscription gone"),
            }),
            400..=499 if status != 429 => {
                Err(permanent(format!("the push service answered {status}")))
            }
            _ => Err(SendError::transient(format!(
                "the push service answered {status}"
            ))),
        }
    }
}

/// The public key (`applicationServerKey`) of the configured VAPID key, if it is one.
pub fn public_key_of(private_key: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(private_key.trim()).ok()?;
    let key = ES256KeyPair::from_bytes(&bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(key.public_key().public_key().to_bytes_uncompressed()))
}

/// A subscription's keys as the browser gives them: a P-256 point and a 16-byte secret,
/// base64url.
pub fn valid_keys(p256dh: &str, auth: &str) -> bool {
    let point = URL_SAFE_NO_PAD
        .decode(p256dh)
        .ok()
        .is_some_and(|b| PublicKey::from_sec1_bytes(&b).is_ok());
    let secret = URL_SAFE_NO_PAD.decode(auth).is_ok_and(|b| b.len() == 16);
    point && secret
}
