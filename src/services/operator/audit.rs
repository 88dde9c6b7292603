//! The operators' audit log: every operator action, who did it, what, to whom and when.
//! Written in the action's own transaction where the action has one here, so an action
//! and its entry commit together.

use crate::db::schema::audit_log as al;
use crate::db::DbConn;
use crate::error::ApiResult;
use crate::services::Context;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;

/// Who acted: the operator token's holder, and the address the call came from.
#[derive(Clone, Debug)]
pub struct Actor(pub String);

impl Actor {
    pub fn operator(client: Option<std::net::IpAddr>) -> Self {
        match client {
            Some(ip) => Self(format!("operator@{ip}")),
            None => Self("operator".into()),
        }
    }
}

pub fn record(
    c: &mut DbConn,
    actor: &Actor,
    action: &str,
    target: &str,
    detail: Option<Value>,
    now: NaiveDateTime,
) -> ApiResult<()> {
    diesel::insert_into(al::table)
        .values((
            al::actor.eq(&actor.0),
            al::action.eq(action),
            al::target.eq(target),
            al::detail.eq(detail.map(|d| d.to_string())),
            al::created_at.eq(now),
        ))
        .execute(c)?;
    Ok(())
}

/// Records an action that committed in a transaction of its own (a service that does not
/// take a hook); a failure to record is logged, not hidden.
pub async fn record_after(
    state: &Context,
    actor: Actor,
    action: &'static str,
    target: String,
    detail: Option<Value>,
) -> ApiResult<()> {
    let now = state.clock.now_naive();
    state
        .db
        .run(move |c| record(c, &actor, action, &target, detail, now))
        .await
}

#[derive(Serialize, Debug)]
pub struct Entry {
    pub id: String,
    pub object: &'static str,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: Option<Value>,
    pub created_at: String,
}

/// Newest first, with a cursor (`aud_<n>`).
pub async fn list(
    state: &Context,
    before: Option<i64>,
    limit: i64,
) -> ApiResult<(Vec<Entry>, bool)> {
    let rows: Vec<(i64, String, String, String, Option<String>, NaiveDateTime)> = state
        .db
        .run(move |c| {
            let mut q = al::table.into_boxed();
            if let Some(b) = before {
                q = q.filter(al::id.lt(b));
            }
            Ok(q.order(al::id.desc())
                .limit(limit + 1)
                .select((
                    al::id,
                    al::actor,
                    al::action,
                    al::target,
                    al::detail,
                    al::created_at,
                ))
                .load(c)?)
        })
        .await?;
    let has_more = rows.len() as i64 > limit;
    let entries = rows
        .into_iter()
        .take(limit as usize)
        .map(|(id, actor, action, target, detail, at)| Entry {
            id: format!("aud_{id}"),
            object: "audit_entry",
            actor,
            action,
            target,
            detail: detail.and_then(|d| serde_json::from_str(&d).ok()),
            created_at: crate::domain::time::rfc3339(at),
        })
        .collect();
    Ok((entries, has_more))
}
