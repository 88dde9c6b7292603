//! The merchant's side: status double-check, list, history, cancel.

use super::view::{merchant_view, Names, RequestView};
use super::{
    announce, as_of, find_by_public_id, find_own_with_payer, lock_pending, not_found, page, record,
    status_filter, Settled, WithPayer,
};
use crate::auth::MerchantToken;
use crate::db::models::{Account, MoneyRequest, RequestEvent};
use crate::db::schema::{money_request_events as ev, money_requests as mr};
use crate::db::{accounts as q, write_tx, DbConn};
use crate::domain::requests::{Kind, Status};
use crate::domain::status::RequestStatus;
use crate::error::ApiResult;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// One of the merchant's requests.
pub async fn get(state: &Context, merchant: &Account, public_id: String) -> ApiResult<RequestView> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    let merchant_id = merchant.id;
    state
        .db
        .run(move |c| {
            let (merchant, found) =
                find_own_with_payer(c, merchant_id, &public_id)?.ok_or_else(not_found)?;
            view(c, &merchant, found, now, &public_url)
        })
        .await
}

/// The same for a merchant's token, admitted by the same statement that reads the
/// request (a status read is the call merchants make most): the caller's account id once
/// admitted, and the read.
pub async fn get_by_token(
    state: &Context,
    token: MerchantToken,
    public_id: String,
) -> ApiResult<(i64, ApiResult<RequestView>)> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let (merchant, found) = token.admit_reading(c, now, |c, merchant_id| {
                find_own_with_payer(c, merchant_id, &public_id)
            })?;
            Ok((merchant.id, view(c, &merchant, found, now, &public_url)))
        })
        .await
}

fn view(
    c: &mut DbConn,
    merchant: &Account,
    found: Option<WithPayer>,
    now: NaiveDateTime,
    public_url: &str,
) -> ApiResult<RequestView> {
    let (row, payer) = found.ok_or_else(not_found)?;
    let mut names = Names::knowing(&[merchant]);
    names.add(row.payer_id, payer);
    merchant_view(c, &mut names, &as_of(row, now), public_url)
}

#[derive(Default)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub kind: Option<Kind>,
    pub reference: Option<String>,
    pub payer: Option<String>,
    pub created_from: Option<NaiveDateTime>,
    pub created_to: Option<NaiveDateTime>,
}

/// One page of the merchant's requests, newest first; `(page, has_more)`.
pub async fn list(
    state: &Context,
    merchant_id: i64,
    f: ListFilter,
    starting_after: Option<String>,
    limit: i64,
) -> ApiResult<(Vec<RequestView>, bool)> {
    let (public_url, now) = (state.config.public_url.clone(), state.clock.now_naive());
    state
        .db
        .run(move |c| {
            let mut query = mr::table
                .filter(mr::merchant_id.eq(merchant_id))
                .into_boxed();
            if let Some(s) = f.status {
                query = status_filter(query, s, now);
            }
            if let Some(k) = f.kind {
                query = query.filter(mr::kind.eq(k.as_str()));
            }
            if let Some(r) = f.reference {
                if !crate::db::matchable(&r) {
                    return Ok((Vec::new(), false));
                }
                query = query.filter(mr::reference.eq(r));
            }

            if let Some(p) = f.payer {
                let id = q::find_by_username(c, &p)?.map_or(-1, |a| a.id);
                query = query.filter(mr::payer_id.eq(id));
            }
            if let Some(from) = f.created_from {
                query = query.filter(mr::created_at.ge(from));
            }
            if let Some(to) = f.created_to {
                query = query.filter(mr::created_at.lt(to));
            }
            let listable = |r: &MoneyRequest| r.merchant_id == merchant_id;
            page(
                c,
                vec![query],
                starting_after,
                listable,
                limit,
                (merchant_view, &public_url, now),
            )
        })
        .await
}

pub async fn events(
    state: &Context,
    merchant_id: i64,
    public_id: String,
) -> ApiResult<Vec<RequestEvent>> {
    state
        .db
        .run(move |c| {
            let row = find_by_public_id(c, &public_id)?
                .filter(|r| r.merchant_id == merchant_id)
                .ok_or_else(not_found)?;
            Ok(ev::table
                .filter(ev::request_id.eq(row.id))
                .order(ev::id.asc())
                .select(RequestEvent::as_select())
                .load(c)?)
        })
        .await
}

/// Cancels a pending request. One already past its deadline is expired instead (and 409).
pub async fn cancel(
    state: &Context,
    merchant_id: i64,
    merchant_name: String,
    public_id: String,
) -> ApiResult<RequestView> {
    let (clock, public_url) = (state.clock.clone(), state.config.public_url.clone());
    let view = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                let (row, now) = match lock_pending(
                    c,
                    &public_id,
                    |r| r.merchant_id == merchant_id,
                    &clock,
                    &public_url,
                )? {
                    Settled::Done(found) => found,
                    Settled::Refused(e) => return Ok(Settled::Refused(e)),
                };
                diesel::update(mr::table.find(row.id))
                    .set((
                        mr::status.eq(RequestStatus::Cancelled.as_str()),
                        mr::resolved_at.eq(now),
                        mr::updated_at.eq(now),
                    ))
                    .execute(c)?;
                record(
                    c,
                    row.id,
                    "cancelled",
                    &format!("merchant:{merchant_name}"),
                    None,
                    now,
                )?;
                let (_, view) = announce(
                    c,
                    row.id,
                    "money_request.cancelled",
                    now,
                    &public_url,
                    &mut Names::default(),
                )?;
                Ok(Settled::Done(view))
            })
        })
        .await?
        .into_result()?;
    state.metrics.money_request("cancelled", 1);
    Ok(view)
}
