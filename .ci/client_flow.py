"""The merchant and payer flow through a Python client generated from openapi.yaml
(openapi-python-client), against a live sandbox server; every callback received is
verified with the official `standardwebhooks` package.

usage: PINPAY_BASE=http://127.0.0.1:PORT PINPAY_ADMIN_TOKEN=… RECEIVER_PORT=… \
       python .ci/client_flow.py   (with the generated `pinpay_client` importable)
"""

import datetime
import http.server
import json
import os
import sys
import threading
import time

import standardwebhooks
from pinpay_client import AuthenticatedClient, Client
from pinpay_client.api.accounts import register_account, set_pin
from pinpay_client.api.callbacks import list_callbacks, set_callback_url
from pinpay_client.api.money_requests import (
    create_money_request,
    create_refund,
    get_money_request,
    list_money_requests,
)
from pinpay_client.api.operator import book_deposit, verify_ledger
from pinpay_client.api.sandbox import advance_sandbox_clock, create_sandbox_merchant, simulate_payer
from pinpay_client.api.sessions import login
from pinpay_client.api.wallet import approve_money_request, list_inbox
from pinpay_client.models import (
    AdvanceSandboxClockBody,
    ApproveMoneyRequestBody,
    CreateMoneyRequest,
    CreateMoneyRequestMetadata,
    CreateRefundBody,
    CreateSandboxMerchantBody,
    Credentials,
    DepositRequest,
    PinChange,
    Problem,
    Registration,
    RegistrationKind,
    SetCallbackUrlBody,
    SimulatePayerBody,
    SimulatePayerBodyOutcome,
)

BASE = os.environ["PINPAY_BASE"]
ADMIN = os.environ["PINPAY_ADMIN_TOKEN"]
RECEIVER_PORT = int(os.environ["RECEIVER_PORT"])
PASSWORD = "client-flow-password-2026"
PIN = "482915"

received = []


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["content-length"]))
        received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def ok(result, what):
    """Fails the flow with the server's problem if the call did not succeed."""
    if result is None or isinstance(result, Problem):
        detail = result.to_dict() if isinstance(result, Problem) else "no parsed body"
        sys.exit(f"FAILED {what}: {detail}")
    print(f"ok  {what}")
    return result


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", RECEIVER_PORT), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    anonymous = Client(base_url=BASE)
    operator = AuthenticatedClient(base_url=BASE, token=ADMIN)

    merchant = ok(
        create_sandbox_merchant.sync(
            client=anonymous, body=CreateSandboxMerchantBody(company_name="Client Flow GmbH")
        ),
        "sandbox merchant created",
    )
    shop = AuthenticatedClient(base_url=BASE, token=merchant.api_token)
    secret = merchant.webhook_secret
    ok(
        set_callback_url.sync(
            client=shop, body=SetCallbackUrlBody(url=f"http://127.0.0.1:{RECEIVER_PORT}/hooks")
        ),
        "callback URL set",
    )

    ok(
        register_account.sync(
            client=anonymous,
            body=Registration(
                kind=RegistrationKind.PRIVATE,
                username="flow-anna",
                password=PASSWORD,
                email="flow-anna@example.com",
            ),
        ),
        "payer registered",
    )
    session = ok(
        login.sync(client=anonymous, body=Credentials(username="flow-anna", password=PASSWORD)),
        "payer logged in",
    )
    anna = AuthenticatedClient(base_url=BASE, token=session.access_token)
    response = set_pin.sync_detailed(client=anna, body=PinChange(pin=PIN, password=PASSWORD))
    if response.status_code != 204:
        sys.exit(f"FAILED set PIN: {response.status_code} {response.content!r}")
    print("ok  payer PIN set")
    ok(
        book_deposit.sync(
            client=operator,
            body=DepositRequest(username="flow-anna", amount="100.00", bank_reference="FLOW-1"),
        ),
        "operator booked a deposit",
    )

    # A payment link with an explicit deadline (expires_at, no expires_in sent).
    deadline = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=2)
    metadata = CreateMoneyRequestMetadata.from_dict({"order": "A-1", "qty": "2"})
    link = ok(
        create_money_request.sync(
            client=shop,
            body=CreateMoneyRequest(
                amount="12.50", description="Link order", expires_at=deadline, metadata=metadata
            ),
            idempotency_key="flow-link-1",
        ),
        "payment link created with expires_at",
    )
    paid = ok(
        simulate_payer.sync(
            link.id, client=shop, body=SimulatePayerBody(outcome=SimulatePayerBodyOutcome.APPROVE)
        ),
        "link approved by the sandbox's simulated payer",
    )
    assert paid.status.value == "approved", paid.status

    # The merchant's test clock moves an hour on: later callbacks are still signed with
    # real time, so standardwebhooks (5 minutes' tolerance) accepts them below.
    moved = ok(
        advance_sandbox_clock.sync(client=shop, body=AdvanceSandboxClockBody(advance_seconds=3600)),
        "merchant's test clock moved one hour",
    )
    assert moved.offset_seconds == 3600, moved.offset_seconds

    # A request to the wallet, approved in the wallet API with the PIN.
    addressed = ok(
        create_money_request.sync(
            client=shop,
            body=CreateMoneyRequest(amount="30.00", payer="flow-anna", description="Counter sale"),
        ),
        "request to the payer created",
    )
    inbox = ok(list_inbox.sync(client=anna), "payer inbox listed")
    assert any(r.id == addressed.id for r in inbox.data)
    ok(
        approve_money_request.sync(
            addressed.id, client=anna, body=ApproveMoneyRequestBody(pin=PIN)
        ),
        "payer approved with the PIN",
    )
    refund = ok(
        create_refund.sync(addressed.id, client=shop, body=CreateRefundBody(amount="5.00")),
        "partial refund",
    )
    after = ok(get_money_request.sync(addressed.id, client=shop), "request read back")
    assert after.refunded_amount == "5.00", after.refunded_amount
    listed = ok(list_money_requests.sync(client=shop), "merchant list")
    assert {link.id, addressed.id} <= {r.id for r in listed.data}

    # Three callbacks: two approvals and the refund, each verified by standardwebhooks.
    wanted = {"money_request.approved": 2, "refund.succeeded": 1}
    until = time.time() + 30
    while time.time() < until and len(received) < sum(wanted.values()):
        time.sleep(0.1)
    verifier = standardwebhooks.Webhook(secret)
    seen = {}
    for headers, body in received:
        event = verifier.verify(body, headers)  # raises on a bad signature
        seen[event["type"]] = seen.get(event["type"], 0) + 1
        print(f"ok  callback {event['type']} {headers['webhook-id']} verified by standardwebhooks")
    if seen != wanted:
        sys.exit(f"FAILED callbacks: got {seen}, wanted {wanted}")
    # The worker records an attempt just after the receiver answered it.
    until = time.time() + 10
    while True:
        log = list_callbacks.sync(client=shop)
        if isinstance(log, Problem) or log is None:
            sys.exit(f"FAILED delivery log: {log}")
        if all(e.status.value == "delivered" for e in log.data) or time.time() > until:
            break
        time.sleep(0.1)
    assert all(e.status.value == "delivered" for e in log.data), [e.status for e in log.data]
    print(f"ok  delivery log: {len(log.data)} events delivered")
    report = ok(verify_ledger.sync(client=operator), "ledger verified")
    assert report.ok, report.to_dict()
    print(f"client flow passed: {len(received)} callbacks verified, refund {refund.id}")


if __name__ == "__main__":
    main()
