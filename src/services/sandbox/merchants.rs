//! Self-service sandbox merchants (`POST /v1/sandbox/merchants`): registered, raised to
//! Corporate+ through the tooling grant, and given an API token, in one call.

use super::*;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NewMerchant {
    #[serde(default, deserialize_with = "crate::domain::input::present")]
    pub company_name: Option<String>,
}

#[derive(Serialize)]
pub struct SandboxMerchant {
    pub object: &'static str,
    pub username: String,
    pub password: String,
    pub company_name: String,
    pub tier: &'static str,
    pub api_token: String,
    pub expires_at: DateTime<Utc>,
    pub webhook_secret: Option<String>,
}

/// A Corporate+ merchant ready to call the API: registered with a generated username and
/// password, upgraded, and given its first API token and signing secret.
pub async fn create_merchant(state: &Context, req: NewMerchant) -> ApiResult<SandboxMerchant> {
    let company_name = req
        .company_name
        .unwrap_or_else(|| "Sandbox Shop".to_string());
    let suffix: String = public_id("m")
        .trim_start_matches("m_")
        .chars()
        .take(10)
        .collect::<String>()
        .to_ascii_lowercase();
    let username = format!("shop-{suffix}");
    let password = crate::auth::opaque::generate("pw");
    let account = accounts::register(
        state,
        Registration {
            kind: RegistrationKind::Corporate,
            username: username.clone(),
            password: password.clone(),
            email: format!("{username}@sandbox.pinpay.invalid"),
            phone: None,
            company_name: Some(company_name),
            iban: Some("DE89370400440532013000".into()),
            bic: Some("DEUTDEFF".into()),
        },
    )
    .await?;
    crate::services::merchants::upgrade::grant_for_tooling(
        state,
        account.username.clone(),
        crate::services::operator::audit::Actor("system:sandbox".into()),
    )
    .await?;
    let token = api_tokens::create(
        state,
        None,
        api_tokens::TokenRequest {
            username: username.clone(),
            password: password.clone(),
            previous_valid_for: None,
        },
    )
    .await?;
    Ok(SandboxMerchant {
        object: "sandbox_merchant",
        username,
        password,
        company_name: account.company_name.unwrap_or_default(),
        tier: "corporate_plus",
        api_token: token.token,
        expires_at: token.expires_at,
        webhook_secret: token.webhook_secret,
    })
}
