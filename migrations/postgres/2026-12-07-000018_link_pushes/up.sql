-- "Send it to my app" pushes an open payment link to a wallet's inbox without addressing
-- it: the link stays payable by anyone until paid (the first approval wins), so a stranger
-- who names someone else's wallet cannot lock the real payer out.
CREATE TABLE link_pushes (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    request_id BIGINT NOT NULL REFERENCES money_requests(id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (account_id, request_id)
);
