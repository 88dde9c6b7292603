//! Money requests: created by merchants, approved (with the PIN) or declined by payers,
//! expired by the sweeper, cancelled by merchants, refunded in part or in full.

pub mod approval;
pub mod create;
pub mod expiry;
pub mod merchant;
pub mod refunds;
pub mod view;

use crate::db::models::{Account, MoneyRequest};
use crate::db::schema::{money_request_events as ev, money_requests as mr};
use crate::db::DbConn;
use crate::domain::requests::Status;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The request with this public id, row-locked for the rest of the transaction.
pub fn lock_by_public_id(c: &mut DbConn, public_id: &str) -> ApiResult<Option<MoneyRequest>> {
    if !crate::db::matchable(public_id) {
        return Ok(None);
    }
    let q = mr::table.filter(mr::public_id.eq(public_id.to_string()));
    let row = match c {
        DbConn::Pg(pg) => q
            .select(MoneyRequest::as_select())
            .for_update()
            .first(pg)
            .optional()?,
        DbConn::Sqlite(sq) => q.select(MoneyRequest::as_select()).first(sq).optional()?,
    };
    Ok(row)
}

pub fn find_by_public_id(c: &mut DbConn, public_id: &str) -> ApiResult<Option<MoneyRequest>> {
    if !crate::db::matchable(public_id) {
        return Ok(None);
    }

    Ok(mr::table
        .filter(mr::public_id.eq(public_id.to_string()))
        .select(MoneyRequest::as_select())
        .first(c)
        .optional()?)
}

/// A request and its payer's username.
pub type WithPayer = (MoneyRequest, Option<String>);

/// A merchant's account, with one of its own requests and that request's payer's
/// username, in one statement (a status read admits its caller and reads the request in
/// one round trip). `None`: no such account; `Some((account, None))`: no such request of
/// this merchant.
pub fn find_own_with_payer(
    c: &mut DbConn,
    merchant_id: i64,
    public_id: &str,
) -> ApiResult<Option<(Account, Option<WithPayer>)>> {
    use crate::db::schema::accounts;
    if !crate::db::matchable(public_id) {
        let account = crate::db::accounts::find(c, merchant_id)?;
        return Ok(account.map(|a| (a, None)));
    }
    let payer = diesel::alias!(accounts as payer);
    let row: Option<(Account, Option<MoneyRequest>, Option<String>)> = accounts::table
        .left_join(
            mr::table.on(mr::merchant_id
                .eq(accounts::id)
                .and(mr::public_id.eq(public_id.to_string()))),
        )
        .left_join(payer.on(mr::payer_id.eq(payer.field(accounts::id).nullable())))
        .filter(accounts::id.eq(merchant_id))
        .select((
            Account::as_select(),
            Option::<MoneyRequest>::as_select(),
            payer.field(accounts::username).nullable(),
        ))
        .first(c)
        .optional()?;
    Ok(row.map(|(account, request, name)| (account, request.map(|r| (r, name)))))
}

pub fn reload(c: &mut DbConn, id: i64) -> ApiResult<MoneyRequest> {
    Ok(mr::table
        .find(id)
        .select(MoneyRequest::as_select())
        .first(c)?)
}

/// Appends the approval to the request's history, with the factors that confirmed it
/// (kept out of the merchant's view of the events).
pub fn record_approval(
    c: &mut DbConn,
    request_id: i64,
    actor: &str,
    factors: Option<crate::domain::sca::Factors>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(ev::table)
        .values((
            ev::request_id.eq(request_id),
            ev::event_type.eq("approved"),
            ev::actor.eq(actor),
            ev::created_at.eq(now),
            ev::factors.eq(factors.map(|f| f.as_str())),
        ))
        .execute(c)?;
    Ok(())
}

/// Appends to the request's history.
pub fn record(
    c: &mut DbConn,
    request_id: i64,
    event: &str,
    actor: &str,
    detail: Option<&str>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(ev::table)
        .values((
            ev::request_id.eq(request_id),
            ev::event_type.eq(event),
            ev::actor.eq(actor),
            ev::detail.eq(detail),
            ev::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

pub fn not_found() -> ApiError {
    ApiError::not_found("No money request with this id.")
}

/// The result of a transaction that must commit even when the caller is refused: an
/// overdue request found by an approval, decline or cancel is expired (and announced)
/// while the caller gets 409.
pub enum Settled<T> {
    Done(T),
    Refused(ApiError),
}

impl<T> Settled<T> {
    pub fn into_result(self) -> ApiResult<T> {
        match self {
            Self::Done(v) => Ok(v),
            Self::Refused(e) => Err(e),
        }
    }
}

/// After a status change: the request as the merchant sees it, announced as callback
/// `event` through the outbox, in the caller's transaction.
pub fn announce(
    c: &mut DbConn,
    request_id: i64,
    event: &str,
    now: NaiveDateTime,
    public_url: &str,
    names: &mut view::Names,
) -> ApiResult<(MoneyRequest, view::RequestView)> {
    let row = reload(c, request_id)?;
    announce_row(c, row, event, now, public_url, names)
}

/// [`announce`] for a caller that holds the row as it has just written it (one read
/// less).
pub fn announce_row(
    c: &mut DbConn,
    row: MoneyRequest,
    event: &str,
    now: NaiveDateTime,
    public_url: &str,
    names: &mut view::Names,
) -> ApiResult<(MoneyRequest, view::RequestView)> {
    crate::db::changes::note(c, &row.public_id, row.payer_id.or(row.paid_by))?;
    if let Some(payer) = row.payer_id.or(row.paid_by) {
        push_to(c, payer, &row, now)?;
    }
    let view = view::merchant_view(c, names, &row, public_url)?;
    let data =
        serde_json::to_value(&view).map_err(|e| ApiError::internal_from("request view", e))?;
    crate::services::messaging::outbox::emit(
        c,
        row.merchant_id,
        event,
        data,
        row.callback_url.as_deref(),
        now,
    )?;
    Ok((row, view))
}

/// Tells the wallet's devices (Web Push) about `row`: a request waiting for it, or how
/// it ended. Tapping the notification opens the request in the wallet app.
pub fn push_to(
    c: &mut DbConn,
    account_id: i64,
    row: &MoneyRequest,
    now: NaiveDateTime,
) -> ApiResult<()> {
    use crate::domain::money::Money;
    use crate::services::messaging::push::{self, Push};
    push::queue(
        c,
        account_id,
        |c, lang| {
            let merchant = crate::db::accounts::find(c, row.merchant_id)?
                .map(|m| m.company_name.unwrap_or(m.username))
                .unwrap_or_default();
            let t = lang.t();
            let amount = lang.eur(Money::cents(row.amount));
            let who = [("merchant", merchant.as_str()), ("amount", amount.as_str())];
            let (title, body) = match row.status {
                Status::Pending => (
                    t.with("push-new-title", &who),
                    row.description
                        .clone()
                        .unwrap_or_else(|| t.get("push-new-body")),
                ),
                s => (
                    t.with("push-done-title", &who),
                    t.get(match s {
                        Status::Approved => "st-approved",
                        Status::Declined => "st-declined",
                        Status::Expired => "st-expired",
                        _ => "st-cancelled",
                    }),
                ),
            };
            Ok(Push {
                title,
                body,
                url: format!("/app/requests/{}", row.public_id),
                tag: row.public_id.clone(),
            })
        },
        now,
    )
}

/// The request as it stands at `now`: one pending past its deadline reads as expired
/// (resolved at the deadline) even before the sweeper has written it.
pub fn as_of(mut row: MoneyRequest, now: NaiveDateTime) -> MoneyRequest {
    if row.status == Status::Pending && row.expires_at <= now {
        row.status = Status::Expired;
        row.resolved_at = Some(row.expires_at);
    }
    row
}

/// A list filter by status as read at `now` (see [`as_of`]).
pub fn status_filter(
    query: mr::BoxedQuery<'static, crate::db::MultiBackend>,
    status: Status,
    now: NaiveDateTime,
) -> mr::BoxedQuery<'static, crate::db::MultiBackend> {
    let overdue = mr::status
        .eq(Status::Pending.as_str())
        .and(mr::expires_at.le(now));
    match status {
        // The deadline is compared through an expression no index serves: the planner
        // then reads the caller's own (merchant or payer, status, id) index. Compared as a
        // plain column, PostgreSQL took the sweeper's (status, expires_at) index whenever
        // pending requests were rare, and read every pending request of every merchant
        // (3x slower at 1M requests than at 10k, see benches/reads.rs).
        Status::Pending => query
            .filter(mr::status.eq(Status::Pending.as_str()))
            .filter(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "COALESCE(money_requests.expires_at, money_requests.expires_at) > ",
                )
                .bind::<diesel::sql_types::Timestamp, _>(now),
            ),
        Status::Expired => query.filter(mr::status.eq(Status::Expired.as_str()).or(overdue)),
        other => query.filter(mr::status.eq(other.as_str())),
    }
}

/// How a caller sees a request (`view::merchant_view` or `view::payer_view`).
pub type ViewFn =
    fn(&mut DbConn, &mut view::Names, &MoneyRequest, &str) -> ApiResult<view::RequestView>;

/// One page (newest first) of the requests `branches` select, after the `starting_after`
/// request, which must be one `listable` admits, shown with `view` as of `now`; returns
/// the views and whether more follow. Each branch is read on its own index, a page at
/// most, and the pages merged: an OR of differently indexed conditions in one query
/// would make the planner walk the whole table.
pub fn page(
    c: &mut DbConn,
    branches: Vec<mr::BoxedQuery<'static, crate::db::MultiBackend>>,
    starting_after: Option<String>,
    listable: impl Fn(&MoneyRequest) -> bool,
    limit: i64,
    (view, public_url, now): (ViewFn, &str, NaiveDateTime),
) -> ApiResult<(Vec<view::RequestView>, bool)> {
    let cursor = match starting_after {
        Some(after) => Some(
            find_by_public_id(c, &after)?
                .filter(|r| listable(r))
                .ok_or_else(ApiError::unknown_cursor)?
                .id,
        ),
        None => None,
    };
    let mut rows: Vec<MoneyRequest> = Vec::new();
    for mut query in branches {
        if let Some(cursor) = cursor {
            query = query.filter(mr::id.lt(cursor));
        }
        rows.extend(
            query
                .order(mr::id.desc())
                .limit(limit + 1)
                .select(MoneyRequest::as_select())
                .load(c)?,
        );
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.id));
    rows.dedup_by_key(|r| r.id);
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let mut names = view::Names::default();
    let views = rows
        .into_iter()
        .map(|r| view(c, &mut names, &as_of(r, now), public_url))
        .collect::<ApiResult<_>>()?;
    Ok((views, has_more))
}

/// Locks the request (one `owns` admits) for a transition out of `pending`: it must still
/// be pending and before its deadline by database time. One found overdue is expired
/// here (committed with the caller's transaction) and the caller is refused.
pub fn lock_pending(
    c: &mut DbConn,
    public_id: &str,
    owns: impl Fn(&MoneyRequest) -> bool,
    clock: &crate::clock::Clock,
    public_url: &str,
) -> ApiResult<Settled<(MoneyRequest, NaiveDateTime)>> {
    let row = lock_by_public_id(c, public_id)?
        .filter(|r| owns(r))
        .ok_or_else(not_found)?;
    if row.status != Status::Pending {
        return Ok(Settled::Refused(crate::domain::requests::not_pending(
            row.status,
        )));
    }
    let now = crate::db::db_now(c, clock)?;
    if now >= row.expires_at {
        expiry::expire(c, &row, now, public_url)?;
        return Ok(Settled::Refused(crate::domain::requests::not_pending(
            Status::Expired,
        )));
    }
    Ok(Settled::Done((row, now)))
}
