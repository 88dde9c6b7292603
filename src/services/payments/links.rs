//! Payment links and the hosted page's use cases: what the page shows, "send it to my
//! app" (addressing an open link to a wallet), and which origins may embed the page.
//! Paying from the page goes through `requests::approval`, as in the app.

use crate::db::models::MoneyRequest;
use crate::db::schema::{hosted_page_settings as hp, link_pushes as lp, money_requests as mr};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::account::AccountKind;
use crate::error::{ApiError, ApiResult};
use crate::services::payments::requests::{
    as_of, find_by_public_id, lock_pending, record, Settled,
};
use crate::services::Context;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

/// Everything the hosted page shows about one request.
pub struct PayPage {
    /// As it stands now (an overdue one reads as expired).
    pub request: MoneyRequest,
    pub merchant_name: String,
    /// The wallet the request is addressed to, if any.
    pub payer_name: Option<String>,
    /// Origins allowed to embed the page (CSP `frame-ancestors`); empty: none.
    pub frame_ancestors: Vec<String>,
}

pub async fn page(state: &Context, public_id: String) -> ApiResult<Option<PayPage>> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            let Some(row) = find_by_public_id(c, &public_id)? else {
                return Ok(None);
            };
            let merchant = q::find(c, row.merchant_id)?.ok_or_else(ApiError::internal)?;
            let payer_name = match row.payer_id {
                Some(id) => q::find(c, id)?.map(|a| a.username),
                None => None,
            };
            Ok(Some(PayPage {
                frame_ancestors: frame_ancestors_of(c, row.merchant_id)?,
                request: as_of(row, now),
                merchant_name: merchant.company_name.unwrap_or(merchant.username),
                payer_name,
            }))
        })
        .await
}

/// The request's status as it stands now (`None`: no such request): what the live
/// stream reads each time it is woken.
pub async fn status(state: &Context, public_id: String) -> ApiResult<Option<MoneyRequest>> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| Ok(find_by_public_id(c, &public_id)?.map(|r| as_of(r, now))))
        .await
}

/// "Send it to my app": pushes an open, pending link to the wallet `username`'s inbox (and
/// its app's stream). It does not address the link: anyone may still pay it here until it
/// is paid (the first approval wins), so naming someone else's wallet locks nobody out.
/// The answer is the same whether the wallet exists or not, and pushes are throttled per
/// link and per client address.
pub async fn push(
    state: &Context,
    public_id: String,
    username: String,
    client: Option<std::net::IpAddr>,
) -> ApiResult<()> {
    let mut buckets = vec![(format!("push:{public_id}"), PUSHES_PER_LINK)];
    buckets.extend(client.map(|ip| {
        let bucket = crate::domain::throttle::address_bucket(ip);
        (format!("push:{bucket}"), PUSHES_PER_ADDRESS)
    }));
    let attempt = crate::services::identity::throttle::Attempt { buckets };
    crate::services::identity::throttle::admit(state, &attempt).await?;
    let name = username.trim().to_ascii_lowercase();
    let known_shape = !name.is_empty() && name.len() <= 64 && crate::db::matchable(&name);
    let (clock, public_url) = (state.clock.clone(), state.config.public_url.clone());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, now) = match lock_pending(c, &public_id, |_| true, &clock, &public_url)? {
                    Settled::Done(found) => found,
                    Settled::Refused(e) => return Ok(Settled::Refused(e)),
                };
                if row.kind != "link" || row.payer_id.is_some() {
                    return Ok(Settled::Done(()));
                }
                let payer = match known_shape {
                    true => wallet_for(c, &name, &row)?,
                    false => None,
                };
                let Some(payer) = payer else {
                    return Ok(Settled::Done(()));
                };
                let insert = diesel::insert_into(lp::table)
                    .values((
                        lp::account_id.eq(payer.id),
                        lp::request_id.eq(row.id),
                        lp::created_at.eq(now),
                    ))
                    .on_conflict_do_nothing();
                let pushed = match c {
                    DbConn::Pg(pg) => insert.execute(pg)?,
                    DbConn::Sqlite(lite) => insert.execute(lite)?,
                };
                if pushed > 0 {
                    announce(c, &row, "pushed", &payer, now)?;
                }
                Ok(Settled::Done(()))
            })
        })
        .await?
        .into_result()
}

/// Addresses an open, pending link to the wallet `username`: from then on only that wallet
/// can pay or decline it. The sandbox's simulated payer declines an open link this way;
/// the hosted page only pushes links ([`push`]), it never addresses them.
pub async fn address(state: &Context, public_id: String, username: String) -> ApiResult<()> {
    let name = username.trim().to_ascii_lowercase();
    if name.is_empty() || name.len() > 64 || !crate::db::matchable(&name) {
        return Err(unknown_wallet());
    }
    let (clock, public_url) = (state.clock.clone(), state.config.public_url.clone());
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, now) = match lock_pending(c, &public_id, |_| true, &clock, &public_url)? {
                    Settled::Done(found) => found,
                    Settled::Refused(e) => return Ok(Settled::Refused(e)),
                };
                if row.kind != "link" || row.payer_id.is_some() {
                    return Ok(Settled::Refused(ApiError::conflict(
                        "link_already_addressed",
                        "This payment request is already addressed to a wallet.",
                    )));
                }
                let payer = wallet_for(c, &name, &row)?.ok_or_else(unknown_wallet)?;
                diesel::update(mr::table.find(row.id).filter(mr::payer_id.is_null()))
                    .set((mr::payer_id.eq(payer.id), mr::updated_at.eq(now)))
                    .execute(c)?;
                announce(c, &row, "addressed", &payer, now)?;
                Ok(Settled::Done(()))
            })
        })
        .await?
        .into_result()
}

/// The wallet named `name` that may pay `row`: not a system account, not its merchant.
fn wallet_for(
    c: &mut DbConn,
    name: &str,
    row: &MoneyRequest,
) -> ApiResult<Option<crate::db::models::Account>> {
    Ok(q::find_by_username(c, name)?
        .filter(|a| AccountKind::from_db(&a.kind) != AccountKind::System)
        .filter(|a| a.id != row.merchant_id))
}

/// The link went to `payer`'s inbox: on its history, to that wallet's stream and devices.
fn announce(
    c: &mut DbConn,
    row: &MoneyRequest,
    event: &str,
    payer: &crate::db::models::Account,
    now: chrono::NaiveDateTime,
) -> ApiResult<()> {
    record(c, row.id, event, "payer_page", Some(&payer.username), now)?;
    crate::db::changes::note(c, &row.public_id, Some(payer.id))?;
    super::requests::push_to(c, payer.id, row, now)
}

fn unknown_wallet() -> ApiError {
    ApiError::unprocessable("unknown_payer", "No wallet has this username.")
        .with("field", "username")
}

/// Pushes one link may receive, and one client address may send, before back-off.
const PUSHES_PER_LINK: i32 = 5;
const PUSHES_PER_ADDRESS: i32 = 20;

/// The logged-in payer's balance, for the page (shown to that payer only).
pub async fn balance(state: &Context, account_id: i64) -> ApiResult<i64> {
    state
        .db
        .run(move |c| Ok(q::find(c, account_id)?.map_or(0, |a| a.balance)))
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostedPageSettings {
    /// Origins (`https://shop.example`) allowed to show the page in an iframe; left out:
    /// unchanged (`null` is refused, like any other non-list).
    #[serde(default, deserialize_with = "list")]
    pub frame_ancestors: Option<Vec<String>>,
    /// Origins a request's `return_url` may lead to; left out: unchanged.
    #[serde(default, deserialize_with = "list")]
    pub return_origins: Option<Vec<String>>,
}

/// A field that may be left out but, when present, is a list (not `null`).
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Vec::<String>::deserialize(d).map(Some)
}

#[derive(Serialize)]
pub struct HostedPageView {
    pub frame_ancestors: Vec<String>,
    pub return_origins: Vec<String>,
}

pub const MAX_FRAME_ANCESTORS: usize = 10;

/// The origins of one list, checked and without repeats.
fn origins(field: &str, raw: &[String], allow_http: bool) -> ApiResult<Vec<String>> {
    if raw.len() > MAX_FRAME_ANCESTORS {
        return Err(ApiError::invalid_field(
            field,
            format!("at most {MAX_FRAME_ANCESTORS} origins"),
        ));
    }
    let mut out = Vec::new();
    for r in raw {
        let o = origin(field, r, allow_http)?;
        if !out.contains(&o) {
            out.push(o);
        }
    }
    Ok(out)
}

pub async fn set_settings(
    state: &Context,
    merchant_id: i64,
    s: HostedPageSettings,
) -> ApiResult<HostedPageView> {
    let allow_http = state.config.callback_allow_private;
    let frames = s
        .frame_ancestors
        .map(|f| origins("frame_ancestors", &f, allow_http))
        .transpose()?;
    let returns = s
        .return_origins
        .map(|r| origins("return_origins", &r, allow_http))
        .transpose()?;
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let current = stored_settings(c, merchant_id)?;
                let view = HostedPageView {
                    frame_ancestors: frames.unwrap_or(current.frame_ancestors),
                    return_origins: returns.unwrap_or(current.return_origins),
                };
                diesel::delete(hp::table.find(merchant_id)).execute(c)?;
                diesel::insert_into(hp::table)
                    .values((
                        hp::merchant_id.eq(merchant_id),
                        hp::frame_ancestors.eq(view.frame_ancestors.join(" ")),
                        hp::return_origins.eq(view.return_origins.join(" ")),
                        hp::updated_at.eq(now),
                    ))
                    .execute(c)?;
                Ok(view)
            })
        })
        .await
}

pub async fn settings(state: &Context, merchant_id: i64) -> ApiResult<HostedPageView> {
    state.db.run(move |c| stored_settings(c, merchant_id)).await
}

fn stored_settings(c: &mut DbConn, merchant_id: i64) -> ApiResult<HostedPageView> {
    let stored: Option<(String, String)> = hp::table
        .find(merchant_id)
        .select((hp::frame_ancestors, hp::return_origins))
        .first(c)
        .optional()?;
    let list = |s: &str| s.split_whitespace().map(str::to_string).collect();
    Ok(stored.map_or(
        HostedPageView {
            frame_ancestors: vec![],
            return_origins: vec![],
        },
        |(f, r)| HostedPageView {
            frame_ancestors: list(&f),
            return_origins: list(&r),
        },
    ))
}

fn frame_ancestors_of(c: &mut DbConn, merchant_id: i64) -> ApiResult<Vec<String>> {
    Ok(stored_settings(c, merchant_id)?.frame_ancestors)
}

/// Refuses a `return_url` whose origin the merchant has not registered in its hosted-page
/// settings (PinPay's domain must not redirect anywhere a link's creator names).
pub fn check_return_url(c: &mut DbConn, merchant_id: i64, return_url: &str) -> ApiResult<()> {
    let origin = url::Url::parse(return_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    if stored_settings(c, merchant_id)?
        .return_origins
        .contains(&origin)
    {
        return Ok(());
    }
    Err(ApiError::unprocessable(
        "return_url_not_registered",
        format!(
            "The return_url's origin {origin} is not among the hosted page's return_origins; \
             register it with PUT /v1/hosted-page first."
        ),
    )
    .with("field", "return_url"))
}

/// A web origin as CSP writes it: `https://host[:port]`, nothing after it.
fn origin(field: &str, raw: &str, allow_http: bool) -> ApiResult<String> {
    let bad = || {
        ApiError::invalid_field(
            field,
            format!("{raw:?} is not an origin such as https://shop.example"),
        )
    };
    let url = url::Url::parse(raw).map_err(|_| bad())?;
    let scheme_ok = url.scheme() == "https" || (allow_http && url.scheme() == "http");
    let bare = (url.path() == "/" || url.path().is_empty())
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none()
        && !raw.trim_end_matches('/').ends_with(':');
    match (scheme_ok && bare, url.host_str()) {
        (true, Some(host)) if !host.contains('*') => Ok(url.origin().ascii_serialization()),
        _ => Err(bad()),
    }
}
