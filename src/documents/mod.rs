//! Documents for people and their spreadsheets: CSV and XLSX tables, and PDF statements
//! and invoices. Renderers only: the figures come from the services.

pub mod invoice;
pub mod pdf;
pub mod statement;
pub mod table;
