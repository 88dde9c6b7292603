-- Documents are stored as they stream in, in chunks of at most 256 KiB, so an upload
-- never sits whole in memory. A document is listed and served once complete; one whose
-- upload broke off is removed (at once, or by the sweeper after a crash).
ALTER TABLE application_documents ADD COLUMN complete BOOLEAN NOT NULL DEFAULT 1;
CREATE TABLE document_chunks (
    document_id BIGINT NOT NULL REFERENCES application_documents(id),
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    PRIMARY KEY (document_id, seq)
);
-- The day's uploads of a merchant (quotas) are counted through its applications.
CREATE INDEX application_documents_by_time ON application_documents (application_id, created_at);
