//! `pinpay demo`: seeds a Corporate+ merchant and a funded wallet user with a PIN, and
//! prints their credentials and tokens so the flow can be tried at once (and fuzzed).
//! Running it again reuses what exists.

use crate::db::accounts;
use crate::error::{ApiError, ApiResult};
use crate::services::idempotency::unsealed;
use crate::services::identity::accounts::{register, Registration, RegistrationKind};
use crate::services::identity::pins::{set_pin, PinChange};
use crate::services::identity::sessions::{login, Credentials};
use crate::services::merchants::api_tokens;
use crate::services::wallet::deposits::{self, DepositRequest};
use crate::state::AppState;
use serde::Serialize;

pub const MERCHANT: &str = "demo-shop";
pub const WALLET: &str = "demo-anna";
pub const PASSWORD: &str = "demo-password-2026";
pub const PIN: &str = "482915";
pub const IBAN: &str = "DE89370400440532013000";

#[derive(Serialize)]
pub struct Seeded {
    pub merchant: String,
    pub wallet: String,
    pub password: String,
    pub pin: String,
    pub merchant_api_token: String,
    pub merchant_app_token: String,
    pub wallet_app_token: String,
    /// Present the first time (a secret is shown once).
    pub webhook_secret: Option<String>,
    /// Where the server listens, as the commands below call it.
    pub base_url: String,
    /// The flow as shell commands that paste as they are.
    pub commands: Vec<String>,
}

/// The walkthrough: create a request, see it in the wallet, approve it with the PIN, read
/// the callback log. Ids are captured into shell variables (no placeholders).
fn commands(base: &str, s: &Seeded) -> Vec<String> {
    let json = "-H 'content-type: application/json'";
    vec![
        format!("export BASE={base}"),
        format!("export SHOP={}", s.merchant_api_token),
        format!("export ANNA={}", s.wallet_app_token),
        "# Callbacks: set a URL you control (https and public, e.g. from webhook.site; a local".into(),
        "# http receiver needs PINPAY_CALLBACK_ALLOW_PRIVATE=true on the server), then uncomment:".into(),
        format!("# curl -s -XPUT $BASE/v1/callback-url -H \"Authorization: Bearer $SHOP\" {json} -d '{{\"url\":\"https://webhook.site/your-id\"}}'"),
        // The request's id, or the server's problem and no $ID: the lines after it run
        // only with an id (nothing is approved by accident, no problem text becomes $ID).
        format!("RES=$(curl -s -XPOST $BASE/v1/money-requests -H \"Authorization: Bearer $SHOP\" {json} -d '{{\"payer\":\"{}\",\"amount\":\"12.34\",\"description\":\"Demo order\"}}'); ID=$(printf '%s' \"$RES\" | sed -nE 's/.*\"id\":\"(mr_[A-Za-z0-9]+)\".*/\\1/p'); [ -n \"$ID\" ] && echo $ID || echo \"STOPPED, the server answered: $RES\"", s.wallet),
        "[ -n \"$ID\" ] && curl -s $BASE/v1/wallet/money-requests -H \"Authorization: Bearer $ANNA\"".into(),
        format!("[ -n \"$ID\" ] && curl -s -XPOST $BASE/v1/wallet/money-requests/$ID/approve -H \"Authorization: Bearer $ANNA\" {json} -d '{{\"pin\":\"{}\"}}'", s.pin),
        "[ -n \"$ID\" ] && curl -s $BASE/v1/money-requests/$ID -H \"Authorization: Bearer $SHOP\"".into(),
        "curl -s $BASE/v1/callbacks -H \"Authorization: Bearer $SHOP\"".into(),
    ]
}

async fn ensure(state: &AppState, r: Registration) -> ApiResult<()> {
    match register(state, r).await {
        Ok(_) => Ok(()),
        Err(e) if e.code == "username_taken" => Ok(()),
        Err(e) => Err(e),
    }
}

fn reg(kind: RegistrationKind, username: &str) -> Registration {
    let merchant = kind == RegistrationKind::Corporate;
    Registration {
        kind,
        username: username.into(),
        password: PASSWORD.into(),
        email: format!("{username}@example.com"),
        phone: None,
        company_name: merchant.then(|| "Demo Shop GmbH".into()),
        iban: merchant.then(|| IBAN.into()),
        bic: None,
    }
}

async fn app_token(state: &AppState, username: &str) -> ApiResult<String> {
    Ok(login(
        state,
        None,
        Credentials {
            username: username.into(),
            password: PASSWORD.into(),
        },
    )
    .await?
    .access_token)
}

async fn ensure_pin(state: &AppState, username: &str) -> ApiResult<()> {
    let name = username.to_string();
    let account = state
        .db
        .run(move |c| Ok(accounts::find_by_username(c, &name)?))
        .await?
        .ok_or_else(ApiError::internal)?;
    if account.pin_hash.is_none() {
        set_pin(
            state,
            &account,
            None,
            PinChange {
                pin: PIN.into(),
                password: Some(PASSWORD.into()),
                old_pin: None,
            },
        )
        .await?;
    }
    Ok(())
}

pub async fn seed(state: &AppState) -> ApiResult<Seeded> {
    let mut seeded = seed_accounts(state).await?;
    seeded.base_url = crate::config::local_url(&state.config.bind);
    seeded.commands = commands(&seeded.base_url, &seeded);
    Ok(seeded)
}

/// Whether a PinPay server answers at `base` (a server already running when the demo
/// starts signs tokens with its own secret, whatever this process was given).
pub async fn server_at(base: &str) -> bool {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(2))
        .build();
    let Ok(client) = client else { return false };
    client
        .get(format!("{base}/health"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// The seeded accounts' tokens issued by the running server at `base` itself, so they
/// work whatever secret it runs with; the earlier API token stays valid for a day.
pub async fn tokens_from(base: &str, seeded: &mut Seeded) -> Result<(), String> {
    let client = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value| {
        let request = client.post(format!("{base}{path}")).json(&body).send();
        async move {
            let res = request.await.map_err(|e| format!("{base}: {e}"))?;
            let status = res.status();
            let body: serde_json::Value = res.json().await.unwrap_or_default();
            if !status.is_success() {
                return Err(format!(
                    "the server at {base} refused the demo's login ({status}): {body}; is it \
                     running on the same DATABASE_URL?"
                ));
            }
            Ok(body)
        }
    };
    let login = |user: &str| serde_json::json!({"username": user, "password": PASSWORD});
    let field =
        |v: &serde_json::Value, name: &str| v[name].as_str().unwrap_or_default().to_string();
    seeded.merchant_app_token = field(
        &post("/v1/sessions", login(MERCHANT)).await?,
        "access_token",
    );
    seeded.wallet_app_token = field(&post("/v1/sessions", login(WALLET)).await?, "access_token");
    // The PINs again, through the server: it tags them with its own PIN key.
    for (user, token) in [
        (MERCHANT, &seeded.merchant_app_token),
        (WALLET, &seeded.wallet_app_token),
    ] {
        let res = client
            .put(format!("{base}/v1/me/pin"))
            .bearer_auth(token)
            .json(&serde_json::json!({"pin": PIN, "password": PASSWORD}))
            .send()
            .await
            .map_err(|e| format!("{base}: {e}"))?;
        if !res.status().is_success() {
            return Err(format!(
                "the server at {base} refused {user}'s PIN ({})",
                res.status()
            ));
        }
    }
    let mut api = login(MERCHANT);
    api["previous_valid_for"] = serde_json::json!(86_400);
    let issued = post("/v1/auth/tokens", api).await?;
    seeded.merchant_api_token = field(&issued, "token");
    if seeded.webhook_secret.is_none() {
        seeded.webhook_secret = issued["webhook_secret"].as_str().map(str::to_string);
    }
    seeded.commands = commands(base, seeded);
    Ok(())
}

async fn seed_accounts(state: &AppState) -> ApiResult<Seeded> {
    ensure(state, reg(RegistrationKind::Corporate, MERCHANT)).await?;
    ensure(state, reg(RegistrationKind::Private, WALLET)).await?;
    crate::services::merchants::upgrade::grant_for_tooling(
        state,
        MERCHANT.into(),
        crate::services::operator::audit::Actor("system:demo".into()),
    )
    .await?;
    ensure_pin(state, MERCHANT).await?;
    ensure_pin(state, WALLET).await?;
    let deposit = |username: &str, amount: &str, reference: &str| DepositRequest {
        username: username.into(),
        amount: amount.into(),
        bank_reference: reference.into(),
    };
    deposits::book(
        state,
        deposit(WALLET, "500.00", "DEMO-SEED-WALLET"),
        unsealed(),
    )
    .await?;
    deposits::book(
        state,
        deposit(MERCHANT, "500.00", "DEMO-SEED-MERCHANT"),
        unsealed(),
    )
    .await?;
    // A second run hands out another token of the same generation, so the first run's
    // token keeps working.
    let name = MERCHANT.to_string();
    let merchant = state
        .db
        .run(move |c| Ok(accounts::find_by_username(c, &name)?))
        .await?
        .ok_or_else(ApiError::internal)?;
    let api = if merchant.api_token_generation > 0 {
        api_tokens::reissue(state, merchant.id).await?
    } else {
        api_tokens::create(
            state,
            None,
            api_tokens::TokenRequest {
                username: MERCHANT.into(),
                password: PASSWORD.into(),
                previous_valid_for: None,
            },
        )
        .await?
    };
    Ok(Seeded {
        merchant: MERCHANT.into(),
        wallet: WALLET.into(),
        password: PASSWORD.into(),
        pin: PIN.into(),
        merchant_api_token: api.token,
        merchant_app_token: app_token(state, MERCHANT).await?,
        wallet_app_token: app_token(state, WALLET).await?,
        webhook_secret: api.webhook_secret,
        base_url: String::new(),
        commands: Vec::new(),
    })
}
