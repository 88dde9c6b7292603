DROP INDEX application_documents_by_time;
DROP TABLE document_chunks;
ALTER TABLE application_documents DROP COLUMN complete;
