//! telleverk: polls leased Konica Minolta MFPs over SNMP, keeps every meter
//! reading and checks the service contract's money. See ARCHITECTURE.md.

pub mod alerts;
pub mod answer;
pub mod app;
pub mod billing;
pub mod clock;
pub mod collector;
pub mod config;
pub mod contract;
pub mod database;
pub mod discover;
pub mod display;
pub mod estimate;
pub mod gather;
pub mod http;
pub mod import;
pub mod invoice_check;
pub mod meters;
pub mod notify;
pub mod oid;
pub mod output;
pub mod process;
pub mod profile;
pub mod record;
pub mod report;
pub mod scheduler;
pub mod secret;
pub mod serial;
pub mod sim;
pub mod snmp;
pub mod status;
pub mod storage;
pub mod supplies;
pub mod timestamp;
pub mod uptime;
pub mod web;
