//! Getting paid: money requests (create, approve or decline, refund, expire), payment links and sending them by e-mail or SMS.

pub mod link_sends;
pub mod links;
pub mod requests;
