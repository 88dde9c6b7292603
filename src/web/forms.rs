//! The hosted page's form protection. A form carries a CSRF token signed with the server's
//! key over the browser's CSRF cookie (a random nonce), so a value an attacker makes up,
//! or one cookie's token used with another, fails; and a form must come from PinPay's own
//! origin (`Sec-Fetch-Site`, or else `Origin` against the request's host).

use super::CSRF_COOKIE;
use actix_web::http::header;
use actix_web::HttpRequest;
use hmac::{Hmac, Mac};
use std::collections::HashMap;

/// The nonce in a CSRF cookie: 48 hex characters.
const NONCE_LEN: usize = 48;

/// The token a form carries for the cookie `nonce`.
pub fn token(key: &[u8], nonce: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(b"pinpay-page-csrf|");
    mac.update(nonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The browser's CSRF nonce, if it sent a well-formed one.
pub fn nonce(req: &HttpRequest) -> Option<String> {
    req.cookie(CSRF_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| v.len() == NONCE_LEN && v.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether the form was posted from a page of PinPay's own origin. Browsers send
/// `Sec-Fetch-Site`; older ones send `Origin` on POSTs; a client sending neither is no
/// browser a cross-site page could drive.
fn same_origin(req: &HttpRequest) -> bool {
    let h = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = h("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    match h(header::ORIGIN.as_str()) {
        None => true,
        Some(origin) => {
            // The request's own Host header: forwarding headers a client may set itself
            // are not trusted here.
            let host = h(header::HOST.as_str()).unwrap_or_default().to_string();
            url::Url::parse(origin)
                .ok()
                .and_then(|u| {
                    u.host_str().map(|h| {
                        format!("{h}{}", u.port().map_or(String::new(), |p| format!(":{p}")))
                    })
                })
                .is_some_and(|o| o == host)
        }
    }
}

/// The form's fields, if it comes from PinPay's origin and its token is the one signed
/// for the browser's cookie (compared in constant time).
pub fn checked(req: &HttpRequest, key: &[u8], body: &[u8]) -> Option<HashMap<String, String>> {
    if !same_origin(req) {
        return None;
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let expected = token(key, &nonce(req)?);
    let sent = form.get("csrf")?;
    let same = sent.len() == expected.len()
        && sent
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(form)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_belongs_to_its_nonce_and_key() {
        let nonce = "a".repeat(48);
        let t = token(b"key one", &nonce);
        assert_eq!(t.len(), 64);
        assert_eq!(t, token(b"key one", &nonce));
        assert_ne!(t, token(b"key two", &nonce));
        assert_ne!(t, token(b"key one", &"b".repeat(48)));
    }
}
