//! Passkeys (WebAuthn, `webauthn-rs`): a wallet's device factor beside the PIN.
//!
//! A wallet registers passkeys with its password. Once it has one, every payer operation
//! (an approval, a transfer, a payout) needs an assertion from it as well as the PIN, and
//! above `PINPAY_SCA_DEVICE_REQUIRED_ABOVE` every wallet needs one. The assertion signs
//! a challenge that is the hash of what is approved ([`Binding::challenge`]): the server
//! recomputes it from the operation as it stands, so an assertion made for one request,
//! amount or payee confirms no other, and each challenge is used once, in the operation's
//! own transaction.

use crate::db::models::Account;
use crate::db::schema::{passkey_challenges as pc, passkeys as pk};
use crate::db::{unique_violation, write_tx, DbConn};
use crate::domain::money::Money;
use crate::domain::sca::{device_required, Binding, Factors};
use crate::domain::time::rfc3339;
use crate::error::{ApiError, ApiResult};
use crate::services::identity::accounts::authenticate;
use crate::services::identity::pins::{check_pin_admitting, PinPassed};
use crate::services::Context;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use webauthn_rs::prelude::{
    AuthenticationResult, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

/// How long a registration or an approval's challenge stays open.
const CHALLENGE_MINUTES: i64 = 5;
/// The most ceremonies one wallet has open at a time (older ones are dropped).
const MAX_OPEN: i64 = 5;
/// The most passkeys one wallet keeps.
const MAX_PASSKEYS: i64 = 10;
const REGISTER: &str = "register";
const APPROVE: &str = "approve";

/// The relying party for `public_url`: its host is the RP ID. Passkeys need a domain
/// name: a server on a loopback address (development, tests) is its `localhost`; any
/// other IP address is refused at start.
pub fn relying_party(public_url: &str) -> Result<Webauthn, String> {
    let mut origin = Url::parse(public_url).map_err(|e| format!("PINPAY_PUBLIC_URL: {e}"))?;
    let ip: Option<std::net::IpAddr> = match origin.host() {
        Some(url::Host::Ipv4(ip)) => Some(ip.into()),
        Some(url::Host::Ipv6(ip)) => Some(ip.into()),
        _ => None,
    };
    match ip {
        Some(ip) if ip.is_loopback() || ip.is_unspecified() => {
            origin
                .set_host(Some("localhost"))
                .map_err(|e| format!("PINPAY_PUBLIC_URL: {e}"))?
        }
        Some(ip) => {
            return Err(format!(
                "PINPAY_PUBLIC_URL names the address {ip}: passkeys (WebAuthn) need a host \
                 name; set PINPAY_PUBLIC_URL to the name payers open (or localhost)"
            ))
        }
        None => {}
    }
    let rp_id = origin
        .host_str()
        .ok_or("PINPAY_PUBLIC_URL has no host")?
        .to_string();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name("PinPay").build())
        .map_err(|e| format!("passkeys for {public_url}: {e}"))
}

/// A registered passkey as its owner sees it.
#[derive(Serialize, Debug)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

/// The options for `navigator.credentials.create` or `.get` (`{"publicKey": …}`), and
/// until when they can be answered; an approval's also says what its challenge signs.
#[derive(Serialize, Debug)]
pub struct Ceremony {
    #[serde(rename = "publicKey")]
    pub public_key: Value,
    pub expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signs: Option<Signs>,
}

#[derive(Serialize, Debug, Clone)]
pub struct Signs {
    pub operation: String,
    pub amount: Money,
    pub currency: &'static str,
    pub payee: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPasskey {
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub name: Option<String>,
    pub password: String,
    pub credential: RegisterPublicKeyCredential,
    /// Once the wallet has a passkey: one of them confirms the new one (`add`).
    #[serde(default)]
    pub webauthn: Option<PublicKeyCredential>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyRemoval {
    pub password: String,
    /// One of the wallet's passkeys confirms the removal (`remove`).
    #[serde(default)]
    pub webauthn: Option<PublicKeyCredential>,
}

/// A change to the wallet's passkeys that an existing passkey must confirm.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasskeyChange {
    pub action: PasskeyAction,
    /// For `remove`: the passkey's id.
    #[serde(default)]
    pub passkey: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PasskeyAction {
    Add,
    Remove,
}

/// What a passkey signs to confirm a change to the wallet's own passkeys: the action
/// (and for a removal the passkey's id), for the wallet's username.
fn change_binding(action: PasskeyAction, passkey: Option<&str>, username: &str) -> Binding {
    Binding {
        operation: match action {
            PasskeyAction::Add => "passkey.add".to_string(),
            PasskeyAction::Remove => format!("passkey.remove:{}", passkey.unwrap_or_default()),
        },
        amount: Money::ZERO,
        currency: "EUR",
        payee: username.to_string(),
    }
}

/// Opens the challenge with which an existing passkey confirms adding or removing one.
pub async fn change_challenge(
    state: &Context,
    account: &Account,
    change: PasskeyChange,
) -> ApiResult<Ceremony> {
    if change.action == PasskeyAction::Remove && change.passkey.is_none() {
        return Err(ApiError::invalid_field(
            "passkey",
            "Name the passkey to remove.",
        ));
    }
    let binding = change_binding(change.action, change.passkey.as_deref(), &account.username);
    challenge(state, account.id, binding).await
}

/// Whether the wallet has a passkey (one indexed read).
pub fn has_passkey(c: &mut DbConn, account_id: i64) -> ApiResult<bool> {
    Ok(pk::table
        .filter(pk::account_id.eq(account_id))
        .select(pk::id)
        .first::<i64>(c)
        .optional()?
        .is_some())
}

/// The stable, opaque user handle an authenticator keeps for the wallet.
fn user_handle(account_id: i64) -> Uuid {
    let digest = Sha256::digest(format!("pinpay/webauthn-user/{account_id}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Uuid::from_bytes(bytes)
}

fn stored_passkeys(c: &mut DbConn, account_id: i64) -> ApiResult<Vec<(i64, Passkey)>> {
    let rows: Vec<(i64, String)> = pk::table
        .filter(pk::account_id.eq(account_id))
        .order(pk::id.asc())
        .select((pk::id, pk::passkey))
        .load(c)?;
    rows.into_iter()
        .map(|(id, json)| {
            serde_json::from_str(&json)
                .map(|p| (id, p))
                .map_err(|e| ApiError::internal_from("stored passkey", e))
        })
        .collect()
}

/// The challenge named in a ceremony's `clientDataJSON` (base64url, as stored).
fn client_challenge(client_data_json: &[u8]) -> ApiResult<String> {
    #[derive(Deserialize)]
    struct ClientData {
        challenge: String,
    }
    serde_json::from_slice::<ClientData>(client_data_json)
        // Stored without padding; a client may pad it.
        .map(|d| d.challenge.trim_end_matches('=').to_string())
        .map_err(|_| passkey_invalid("clientDataJSON is not a WebAuthn client data object"))
}

fn passkey_invalid(detail: impl Into<String>) -> ApiError {
    ApiError::forbidden("passkey_invalid", detail)
}

fn unknown_challenge() -> ApiError {
    ApiError::forbidden(
        "passkey_challenge_unknown",
        "This passkey assertion answers no open challenge of this wallet: it was used, it \
         expired, or it was made for something else. Ask for a new challenge.",
    )
}

fn store_challenge(
    c: &mut DbConn,
    account_id: i64,
    purpose: &str,
    challenge: &str,
    binding: Option<(&Binding, &str)>,
    state: &str,
    now: NaiveDateTime,
) -> ApiResult<NaiveDateTime> {
    // Lapsed ceremonies of this wallet go as a new one opens, and so do all but the
    // newest few open ones: a wallet holds at most `MAX_OPEN` (a page reloaded in a loop
    // replaces its own challenges).
    diesel::delete(
        pc::table
            .filter(pc::account_id.eq(account_id))
            .filter(pc::expires_at.le(now)),
    )
    .execute(c)?;
    let keep: Vec<i64> = pc::table
        .filter(pc::account_id.eq(account_id))
        .order(pc::id.desc())
        .limit(MAX_OPEN - 1)
        .select(pc::id)
        .load(c)?;
    diesel::delete(
        pc::table
            .filter(pc::account_id.eq(account_id))
            .filter(pc::id.ne_all(keep)),
    )
    .execute(c)?;
    let expires_at = now + Duration::minutes(CHALLENGE_MINUTES);
    diesel::insert_into(pc::table)
        .values((
            pc::account_id.eq(account_id),
            pc::purpose.eq(purpose),
            pc::challenge.eq(challenge),
            pc::operation.eq(binding.map(|b| b.0.operation.clone())),
            pc::amount.eq(binding.map(|b| b.0.amount.as_cents())),
            pc::payee.eq(binding.map(|b| b.0.payee.clone())),
            pc::nonce.eq(binding.map_or("", |b| b.1)),
            pc::state.eq(state),
            pc::expires_at.eq(expires_at),
            pc::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(expires_at)
}

/// Opens a passkey registration: the options for `navigator.credentials.create`.
pub async fn start_registration(
    state: &Context,
    account_id: i64,
    username: String,
) -> ApiResult<Ceremony> {
    let (webauthn, now) = (state.webauthn.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let existing = stored_passkeys(c, account_id)?;
                if existing.len() as i64 >= MAX_PASSKEYS {
                    return Err(ApiError::conflict(
                        "passkey_limit",
                        format!(
                            "A wallet keeps at most {MAX_PASSKEYS} passkeys; remove one first."
                        ),
                    ));
                }
                let exclude = existing.iter().map(|(_, p)| p.cred_id().clone()).collect();
                let (options, registration) = webauthn
                    .start_passkey_registration(
                        user_handle(account_id),
                        &username,
                        &username,
                        Some(exclude),
                    )
                    .map_err(|e| ApiError::internal_from("passkey registration", e))?;
                let options = serde_json::to_value(options)
                    .map_err(|e| ApiError::internal_from("passkey options", e))?;
                let challenge = options["publicKey"]["challenge"]
                    .as_str()
                    .ok_or_else(|| ApiError::internal_from("passkey options", "no challenge"))?
                    .to_string();
                let saved = serde_json::to_string(&registration)
                    .map_err(|e| ApiError::internal_from("passkey registration", e))?;
                let expires_at =
                    store_challenge(c, account_id, REGISTER, &challenge, None, &saved, now)?;
                Ok(Ceremony {
                    public_key: options["publicKey"].clone(),
                    expires_at: rfc3339(expires_at),
                    signs: None,
                })
            })
        })
        .await
}

/// Completes a registration with the authenticator's attestation and the password.
pub async fn finish_registration(
    state: &Context,
    account: &Account,
    client: Option<std::net::IpAddr>,
    new: NewPasskey,
) -> ApiResult<PasskeyView> {
    let name = match new.name.as_deref() {
        Some(n) => crate::domain::account::text_field("name", n, 60)?,
        None => "Passkey".to_string(),
    };
    let same = authenticate(state, client, &account.username, new.password).await?;
    if same.id != account.id {
        return Err(ApiError::internal());
    }
    let challenge = client_challenge(new.credential.response.client_data_json.as_ref())?;
    let (webauthn, now, account_id) = (state.webauthn.clone(), state.clock.now_naive(), account.id);
    let public_id = crate::domain::requests::public_id("pk");
    let device = DeviceFactor::new(state, new.webauthn.clone()).always();
    let binding = change_binding(PasskeyAction::Add, None, &account.username);
    state
        .db
        .run(move |c| {
            let done = write_tx(c, |c| {
                device.admit(c, account_id, Money::ZERO, |_| Ok(binding), now)?;
                device.commit(c, now)?;
                let saved = take_challenge(c, account_id, REGISTER, &challenge, now)?
                    .ok_or_else(unknown_challenge)?
                    .1;
                let registration: PasskeyRegistration = serde_json::from_str(&saved)
                    .map_err(|e| ApiError::internal_from("passkey registration", e))?;
                let passkey = webauthn
                    .finish_passkey_registration(&new.credential, &registration)
                    .map_err(|e| {
                        ApiError::unprocessable(
                            "passkey_invalid",
                            format!("The authenticator's answer does not verify: {e}."),
                        )
                    })?;
                let count: i64 = pk::table
                    .filter(pk::account_id.eq(account_id))
                    .count()
                    .get_result(c)?;
                if count >= MAX_PASSKEYS {
                    return Err(ApiError::conflict(
                        "passkey_limit",
                        format!(
                            "A wallet keeps at most {MAX_PASSKEYS} passkeys; remove one first."
                        ),
                    ));
                }
                let json = serde_json::to_string(&passkey)
                    .map_err(|e| ApiError::internal_from("passkey", e))?;
                diesel::insert_into(pk::table)
                    .values((
                        pk::public_id.eq(&public_id),
                        pk::account_id.eq(account_id),
                        pk::name.eq(&name),
                        pk::credential_id.eq(URL_SAFE_NO_PAD.encode(passkey.cred_id())),
                        pk::passkey.eq(json),
                        pk::created_at.eq(now),
                    ))
                    .execute(c)
                    .map_err(|e| {
                        unique_violation(e, || {
                            ApiError::conflict(
                                "passkey_already_registered",
                                "This passkey is registered already.",
                            )
                        })
                    })?;
                Ok(PasskeyView {
                    id: public_id,
                    name,
                    created_at: rfc3339(now),
                    last_used_at: None,
                })
            });
            device.spend_unless_committed(c, done.is_ok());
            done
        })
        .await
}

/// Deletes the open ceremony of `purpose` that issued `challenge` and returns its id and
/// saved state; `None` if there is none open.
fn take_challenge(
    c: &mut DbConn,
    account_id: i64,
    purpose: &str,
    challenge: &str,
    now: NaiveDateTime,
) -> ApiResult<Option<(i64, String)>> {
    let found: Option<(i64, String)> = pc::table
        .filter(pc::account_id.eq(account_id))
        .filter(pc::purpose.eq(purpose))
        .filter(pc::challenge.eq(challenge))
        .filter(pc::expires_at.gt(now))
        .select((pc::id, pc::state))
        .first(c)
        .optional()?;
    if let Some((id, _)) = &found {
        diesel::delete(pc::table.find(*id)).execute(c)?;
    }
    Ok(found)
}

pub async fn list(state: &Context, account_id: i64) -> ApiResult<Vec<PasskeyView>> {
    state
        .db
        .run(move |c| {
            let rows: Vec<(String, String, NaiveDateTime, Option<NaiveDateTime>)> = pk::table
                .filter(pk::account_id.eq(account_id))
                .order(pk::id.asc())
                .select((pk::public_id, pk::name, pk::created_at, pk::last_used_at))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(|(id, name, created, used)| PasskeyView {
                    id,
                    name,
                    created_at: rfc3339(created),
                    last_used_at: used.map(rfc3339),
                })
                .collect())
        })
        .await
}

/// Removes a passkey; the password and one of the wallet's passkeys confirm it (the
/// passkey factor cannot be taken away with the password alone).
pub async fn delete(
    state: &Context,
    account: &Account,
    client: Option<std::net::IpAddr>,
    public_id: String,
    removal: PasskeyRemoval,
) -> ApiResult<()> {
    let same = authenticate(state, client, &account.username, removal.password).await?;
    if same.id != account.id {
        return Err(ApiError::internal());
    }
    let (account_id, now) = (account.id, state.clock.now_naive());
    let device = DeviceFactor::new(state, removal.webauthn).always();
    let binding = change_binding(PasskeyAction::Remove, Some(&public_id), &account.username);
    state
        .db
        .run(move |c| {
            let done = write_tx(c, |c| {
                let exists = pk::table
                    .filter(pk::account_id.eq(account_id))
                    .filter(pk::public_id.eq(&public_id))
                    .select(pk::id)
                    .first::<i64>(c)
                    .optional()?;
                let Some(id) = exists else {
                    return Err(ApiError::not_found("No such passkey."));
                };
                device.admit(c, account_id, Money::ZERO, |_| Ok(binding), now)?;
                device.commit(c, now)?;
                diesel::delete(pk::table.find(id)).execute(c)?;
                Ok(())
            });
            device.spend_unless_committed(c, done.is_ok());
            done
        })
        .await
}

/// Opens an approval's challenge for `binding`: the options for
/// `navigator.credentials.get`, whose challenge is the hash of what is approved.
pub async fn challenge(state: &Context, account_id: i64, binding: Binding) -> ApiResult<Ceremony> {
    let (webauthn, now) = (state.webauthn.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                open_challenge(c, &webauthn, account_id, &binding, now)
            })
        })
        .await
}

/// [`challenge`] in the caller's transaction (a page that renders its options).
pub fn open_challenge(
    c: &mut DbConn,
    webauthn: &Webauthn,
    account_id: i64,
    binding: &Binding,
    now: NaiveDateTime,
) -> ApiResult<Ceremony> {
    let passkeys: Vec<Passkey> = stored_passkeys(c, account_id)?
        .into_iter()
        .map(|(_, p)| p)
        .collect();
    if passkeys.is_empty() {
        return Err(ApiError::conflict(
            "no_passkey",
            "This wallet has no passkey; register one (POST /v1/me/passkeys/registration).",
        ));
    }
    let (options, authentication) = webauthn
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::internal_from("passkey challenge", e))?;
    let nonce: [u8; 32] = rand::random();
    let challenge = URL_SAFE_NO_PAD.encode(binding.challenge(&nonce));
    let mut options =
        serde_json::to_value(options).map_err(|e| ApiError::internal_from("passkey options", e))?;
    options["publicKey"]["challenge"] = Value::String(challenge.clone());
    let saved = bind_state(&authentication, &challenge)?;
    let nonce = URL_SAFE_NO_PAD.encode(nonce);
    let expires_at = store_challenge(
        c,
        account_id,
        APPROVE,
        &challenge,
        Some((binding, &nonce)),
        &saved,
        now,
    )?;
    Ok(Ceremony {
        public_key: options["publicKey"].clone(),
        expires_at: rfc3339(expires_at),
        signs: Some(Signs {
            operation: binding.operation.clone(),
            amount: binding.amount,
            currency: binding.currency,
            payee: binding.payee.clone(),
        }),
    })
}

/// webauthn-rs's authentication state with its random challenge replaced by `challenge`
/// (the binding's hash), as JSON.
fn bind_state(authentication: &PasskeyAuthentication, challenge: &str) -> ApiResult<String> {
    let mut state = serde_json::to_value(authentication)
        .map_err(|e| ApiError::internal_from("passkey state", e))?;
    match state.pointer_mut("/ast/challenge") {
        Some(slot) => *slot = Value::String(challenge.to_string()),
        None => {
            return Err(ApiError::internal_from(
                "passkey state",
                "no challenge in webauthn-rs's authentication state",
            ))
        }
    }
    serde_json::to_string(&state).map_err(|e| ApiError::internal_from("passkey state", e))
}

/// The device factor presented with one payer operation (`webauthn` in its body).
///
/// [`DeviceFactor::admit`] runs in the PIN check's admission, before a try is taken:
/// it refuses when a passkey is required and missing, or when the assertion does not
/// verify against the challenge recomputed from the operation as it stands. It changes
/// nothing. [`DeviceFactor::commit`] then uses the challenge, once, in the operation's own
/// transaction, and records the passkey's use; if the operation fails after a verified
/// assertion, [`DeviceFactor::spend`] uses the challenge up all the same.
#[derive(Clone)]
pub struct DeviceFactor {
    webauthn: Arc<Webauthn>,
    required_above: Option<Money>,
    assertion: Option<Arc<PublicKeyCredential>>,
    verified: Arc<Mutex<Option<Verified>>>,
}

/// An open approval challenge: id, saved state, operation, amount, payee, nonce.
type OpenChallenge = (
    i64,
    String,
    Option<String>,
    Option<i64>,
    Option<String>,
    String,
);

#[derive(Clone, Debug)]
struct Verified {
    challenge_id: i64,
    passkey_id: i64,
    result: AuthenticationResult,
}

/// The passkey's signature counter as stored (0: the authenticator keeps none).
fn counter(passkey: &Passkey) -> u64 {
    serde_json::to_value(passkey)
        .ok()
        .and_then(|v| v["cred"]["counter"].as_u64())
        .unwrap_or(0)
}

impl DeviceFactor {
    pub fn new(state: &Context, assertion: Option<PublicKeyCredential>) -> Self {
        Self {
            webauthn: state.webauthn.clone(),
            required_above: state.config.sca_device_required_above,
            assertion: assertion.map(Arc::new),
            verified: Default::default(),
        }
    }

    /// For changes to the passkeys themselves: needed whenever the wallet has one (no
    /// amount makes it needed otherwise).
    pub fn always(mut self) -> Self {
        self.required_above = None;
        self
    }

    pub fn admit(
        &self,
        c: &mut DbConn,
        account_id: i64,
        amount: Money,
        binding: impl FnOnce(&mut DbConn) -> ApiResult<Binding>,
        now: NaiveDateTime,
    ) -> ApiResult<()> {
        let Some(assertion) = &self.assertion else {
            let has_passkey = has_passkey(c, account_id)?;
            if device_required(has_passkey, amount, self.required_above) {
                return Err(device_factor_required(has_passkey, self.required_above));
            }
            return Ok(());
        };
        let binding = binding(c)?;
        let challenge = client_challenge(assertion.response.client_data_json.as_ref())?;
        let open: Option<OpenChallenge> = pc::table
            .filter(pc::account_id.eq(account_id))
            .filter(pc::purpose.eq(APPROVE))
            .filter(pc::challenge.eq(&challenge))
            .filter(pc::expires_at.gt(now))
            .select((
                pc::id,
                pc::state,
                pc::operation,
                pc::amount,
                pc::payee,
                pc::nonce,
            ))
            .first(c)
            .optional()?;
        let (challenge_id, saved, operation, amount, payee, nonce) =
            open.ok_or_else(unknown_challenge)?;
        // What the passkey signed must be what is approved now.
        let nonce = URL_SAFE_NO_PAD
            .decode(nonce)
            .map_err(|e| ApiError::internal_from("challenge nonce", e))?;
        if URL_SAFE_NO_PAD.encode(binding.challenge(&nonce)) != challenge {
            let signed = (operation, amount.map(Money::cents), payee);
            return Err(ApiError::forbidden(
                "passkey_binding_mismatch",
                "The passkey signed another operation, amount or payee than this one; ask \
                 for a new challenge.",
            )
            .with("signed_operation", signed.0.unwrap_or_default())
            .with(
                "signed_amount",
                signed.1.map(|m| m.to_string()).unwrap_or_default(),
            ));
        }
        let authentication: PasskeyAuthentication = serde_json::from_str(&saved)
            .map_err(|e| ApiError::internal_from("passkey state", e))?;
        let result = self
            .webauthn
            .finish_passkey_authentication(assertion, &authentication)
            .map_err(|e| {
                tracing::info!(error = %e, account_id, "passkey assertion refused");
                passkey_invalid("The passkey's assertion does not verify.")
            })?;
        // The counter against the passkey as stored now, not as the challenge saw it: an
        // assertion from a cloned authenticator is refused even if its challenge is older
        // than the owner's last use.
        let (passkey_id, passkey) = stored_passkeys(c, account_id)?
            .into_iter()
            .find(|(_, p)| p.cred_id() == result.cred_id())
            .ok_or_else(|| passkey_invalid("This passkey is no longer registered."))?;
        let (used, stored) = (u64::from(result.counter()), counter(&passkey));
        if (used > 0 || stored > 0) && used <= stored {
            tracing::warn!(
                account_id,
                passkey_id,
                used,
                stored,
                "passkey counter went back"
            );
            return Err(passkey_invalid("The passkey's assertion does not verify."));
        }
        *self.verified.lock() = Some(Verified {
            challenge_id,
            passkey_id,
            result,
        });
        Ok(())
    }

    /// In the operation's transaction: uses the verified challenge (a challenge used by a
    /// concurrent operation refuses this one), raises the passkey's counter and returns
    /// the factors to record.
    pub fn commit(&self, c: &mut DbConn, now: NaiveDateTime) -> ApiResult<Factors> {
        let Some(verified) = self.verified.lock().clone() else {
            return Ok(Factors::Pin);
        };
        let used = diesel::delete(pc::table.find(verified.challenge_id)).execute(c)?;
        if used == 0 {
            return Err(unknown_challenge());
        }
        // Read again under the row's lock: concurrent uses only ever raise the counter.
        let stored: Option<String> = match c {
            DbConn::Pg(pg) => pk::table
                .find(verified.passkey_id)
                .select(pk::passkey)
                .for_update()
                .first(pg)
                .optional()?,
            DbConn::Sqlite(_) => pk::table
                .find(verified.passkey_id)
                .select(pk::passkey)
                .first(c)
                .optional()?,
        };
        let mut passkey: Passkey = serde_json::from_str(
            &stored.ok_or_else(|| passkey_invalid("This passkey is no longer registered."))?,
        )
        .map_err(|e| ApiError::internal_from("stored passkey", e))?;
        passkey.update_credential(&verified.result);
        let json =
            serde_json::to_string(&passkey).map_err(|e| ApiError::internal_from("passkey", e))?;
        diesel::update(pk::table.find(verified.passkey_id))
            .set((pk::passkey.eq(json), pk::last_used_at.eq(now)))
            .execute(c)?;
        Ok(Factors::PinAndPasskey)
    }

    /// After the operation: unless it committed, a verified challenge is used up on its
    /// own (a refused operation's assertion cannot be sent again).
    pub fn spend_unless_committed(&self, c: &mut DbConn, committed: bool) {
        if committed {
            return;
        }
        let Some(verified) = self.verified.lock().take() else {
            return;
        };
        if let Err(e) = diesel::delete(pc::table.find(verified.challenge_id)).execute(c) {
            tracing::warn!(error = %e, "passkey challenge left to expire");
        }
    }

    /// [`DeviceFactor::spend_unless_committed`] for an operation that failed before its
    /// transaction (a wrong PIN).
    pub async fn spend(&self, state: &Context) {
        if self.verified.lock().is_none() {
            return;
        }
        let this = self.clone();
        let _ = state
            .db
            .run(move |c| {
                this.spend_unless_committed(c, false);
                Ok(())
            })
            .await;
    }
}

/// How a payer confirmed an operation: the right PIN, its check still registered in
/// flight, and the device factor. Both end with the operation's transaction
/// ([`Confirmed::commit_locked`]); what that transaction did not commit is ended on its
/// own afterwards ([`Confirmed::settle`]).
pub struct Confirmed {
    pin: PinPassed,
    device: DeviceFactor,
}

impl Confirmed {
    /// The PIN check (`pins::check_pin_admitting`) with the device factor presented;
    /// `admit` admits the account and runs `device.admit` for the operation. A refused
    /// check uses a verified challenge up.
    pub async fn check<F>(
        state: &Context,
        account_id: i64,
        pin: &str,
        device: DeviceFactor,
        admit: F,
    ) -> ApiResult<(Self, Account)>
    where
        F: Fn(&mut DbConn, Option<Account>) -> ApiResult<Account> + Clone + Send + 'static,
    {
        match check_pin_admitting(state, account_id, pin, admit).await {
            Ok((pin, account)) => Ok((Self { pin, device }, account)),
            Err(e) => {
                device.spend(state).await;
                Err(e)
            }
        }
    }

    /// In the operation's transaction, on the account's row as it locked it: ends the PIN
    /// check as passed and uses the challenge; returns the factors to record.
    pub fn commit_locked(
        &self,
        c: &mut DbConn,
        account: &Account,
        now: NaiveDateTime,
    ) -> ApiResult<Factors> {
        self.pin.release_locked(c, account, now)?;
        self.device.commit(c, now)
    }

    /// After the operation's transaction: unless it committed `commit_locked`, the PIN
    /// check is released and the challenge used up on their own.
    pub fn settle(&self, c: &mut DbConn, committed: bool, now: NaiveDateTime) {
        self.pin.release_unless_committed(c, committed, now);
        self.device.spend_unless_committed(c, committed);
    }
}

fn device_factor_required(has_passkey: bool, required_above: Option<Money>) -> ApiError {
    let detail = if has_passkey {
        "This wallet confirms payments with its passkey as well as the PIN: ask for a \
         challenge and send the passkey's assertion as `webauthn`."
            .to_string()
    } else {
        format!(
            "Payments above {} EUR need a passkey as well as the PIN: register one \
             (POST /v1/me/passkeys/registration) and send its assertion as `webauthn`.",
            required_above.unwrap_or(Money::ZERO)
        )
    };
    ApiError::forbidden("device_factor_required", detail).with("has_passkey", has_passkey)
}

/// Deletes lapsed challenges of every wallet (the hourly sweep; a wallet's own are also
/// dropped when it opens a new one).
pub async fn sweep_expired(state: &Context) -> ApiResult<usize> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| Ok(diesel::delete(pc::table.filter(pc::expires_at.le(now))).execute(c)?))
        .await
}
