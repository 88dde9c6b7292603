//! Money requests: created by merchants, approved (with the PIN) or declined by payers,
//! expired by the sweeper, cancelled by merchants, refunded in part or in full.

pub mod approval;
pub mod create;
pub mod expiry;
pub mod merchant;
pub mod refunds;
pub mod view;

use crate::db::models::MoneyRequest;
use crate::db::schema::{money_request_events as ev, money_requests as mr};
use crate::db::DbConn;
use crate::error::{ApiError, ApiResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The request with this public id, row-locked for the rest of the transaction.
pub fn lock_by_public_id(c: &mut DbConn, public_id: &str) -> ApiResult<Option<MoneyRequest>> {
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
    Ok(mr::table
        .filter(mr::public_id.eq(public_id.to_string()))
        .select(MoneyRequest::as_select())
        .first(c)
        .optional()?)
}

pub fn reload(c: &mut DbConn, id: i64) -> ApiResult<MoneyRequest> {
    Ok(mr::table
        .find(id)
        .select(MoneyRequest::as_select())
        .first(c)?)
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
