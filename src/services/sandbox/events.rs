//! Sample callback events a sandbox merchant asks for (`POST /v1/sandbox/events`), sent
//! through the same outbox and worker as real ones.

use super::*;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEvent {
    #[serde(rename = "type")]
    pub event_type: String,
}

#[derive(Serialize)]
pub struct QueuedEvent {
    pub id: String,
    pub object: &'static str,
    #[serde(rename = "type")]
    pub event_type: String,
    pub status: crate::domain::status::DeliveryStatus,
}

/// Writes a signed sample event of `type` for the merchant: it goes through the outbox
/// and the worker like any other (its attempts are in `GET /v1/callbacks`). The sample's
/// ids are fresh and name nothing stored.
pub async fn test_event(
    state: &Context,
    merchant_id: i64,
    req: TestEvent,
) -> ApiResult<QueuedEvent> {
    let event_type = req.event_type;
    if !EVENT_TYPES.contains(&event_type.as_str()) {
        return Err(ApiError::invalid_field(
            "type",
            format!("type must be one of {}", EVENT_TYPES.join(", ")),
        ));
    }
    let (now, public_url) = (state.clock.now(), state.config.public_url.clone());
    let data = sample(&event_type, now, &public_url);
    let kind = event_type.clone();
    let id = state
        .db
        .run(move |c| {
            write_tx(c, |c| {
                outbox::emit(c, merchant_id, &kind, data, None, now.naive_utc())
            })
        })
        .await?;
    Ok(QueuedEvent {
        id,
        object: "event",
        event_type,
        status: crate::domain::status::DeliveryStatus::Pending,
    })
}

/// The `data` of a sample event: a money request in the status the type reports, or a
/// refund of one.
fn sample(event_type: &str, now: DateTime<Utc>, public_url: &str) -> Value {
    let at = |t: DateTime<Utc>| crate::domain::time::rfc3339(t.naive_utc());
    let request_id = public_id("mr");
    if event_type == "refund.succeeded" {
        return json!({
            "id": public_id("re"), "object": "refund", "money_request": request_id,
            "amount": "5.00", "currency": "EUR", "reason": "Sample refund", "status": "succeeded",
            "created_at": at(now),
        });
    }
    let status = RequestStatus::parse(event_type.trim_start_matches("money_request."))
        .unwrap_or(RequestStatus::Pending);
    let approved = status == RequestStatus::Approved;
    let declined = status == RequestStatus::Declined;
    json!({
        "id": request_id, "object": "money_request", "status": status,
        "merchant": "sandbox-shop", "payer": SANDBOX_PAYER,
        "amount": "12.50", "currency": "EUR",
        "original_amount": null, "original_currency": null, "exchange_rate": null,
        "description": "Sample order", "reference": "order-sample",
        "expires_at": at(now + Duration::minutes(15)),
        "pay_url": format!("{}/pay/{request_id}", public_url.trim_end_matches('/')),
        "kind": "addressed", "refunded_amount": "0.00",
        "paid_by": if approved { json!(SANDBOX_PAYER) } else { Value::Null },
        "decline_reason_code": Value::Null,
        "decline_reason": if declined { json!("Sample decline") } else { Value::Null },
        "resolved_at": at(now), "created_at": at(now - Duration::minutes(1)),
        "fee": if approved { "0.28" } else { "0.00" },
        "net_amount": if approved { "12.22" } else { "0.00" },
        "metadata": null, "callback_url": null, "return_url": null,
    })
}
