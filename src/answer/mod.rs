//! The answers telleverk gives, one type per shape: the JSON of the CLI's
//! `--json`, of every `/api/v1` route and of the report files, and the
//! schemas of the OpenAPI document, all derived from these types (serde and
//! utoipa), so what is documented is what is written. The pages will render
//! the same types.
//!
//! Pure data: the modules that compute an answer fill these in (`billing`,
//! `report`, `alerts`, `output`, `http`); here are only the plain
//! conversions from the core types below (a contract, a supply, a failure).
//! Nothing here computes, reads or knows where an answer goes.

pub mod billing;
pub mod devices;
pub mod invoice_check;
pub mod poll;
pub mod reports;
pub mod sites;
pub mod system;
pub mod uptime;

use rust_decimal::Decimal;
use serde::{Serialize, Serializer};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{KnownFormat, RefOr, SchemaFormat};

pub use billing::{
    Basis, BoundaryValue, ClassStanding, ContractItem, ContractList, Gap, Invoice, InvoiceLine,
    Invoices, MemberItem, PeriodStanding, PeriodUse, PriceItem, Prices, Renewal, SeriesEvent,
    Standing, UnrefundedEstimate, UsePoint,
};
pub use devices::{
    DeviceDetail, DevicePage, DeviceStatus, DeviceSummary, Entered, EventItem, FailureItem,
    ReadingItem, ReadingPage, WithdrawnItem,
};
pub use invoice_check::{
    Change, CheckedInvoice, FindingItem, InvoiceCheck, InvoiceCheckItem, InvoiceCheckList,
};
pub use poll::{FailedPoll, MeterValues, PollLine, PolledDevice, ReadingLine};
pub use reports::{
    A4Equivalents, CounterDevice, CounterMeter, CounterReport, EndValue, RunAnswer, VendorRow,
};
pub use sites::{Accepted, SiteItem, SiteList};
pub use system::{
    AlertEventItem, AlertHistory, AlertItem, AlertList, AlertSettingsView, CollectorView,
    ConfigView, DeviceEntryView, ErrorBody, ErrorCode, ErrorDetail, Health, HttpView, NotifyView,
    ReportView, SmtpView, TokenView,
};
pub use uptime::{
    DeviceSupplies, SupplyList, SupplyOutlook, TonerCoverage, Uptime, UptimeList, UptimeMonth,
};

/// An exact decimal written as a JSON number: an integer when it is whole
/// (`7500`), else its decimal digits (`7500.5`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Number(pub Decimal);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0.normalize();
        if d.scale() == 0
            && let Ok(i) = i64::try_from(d.mantissa())
        {
            return s.serialize_i64(i);
        }
        match d.to_string().parse::<serde_json::Number>() {
            Ok(n) => n.serialize(s),
            Err(_) => s.serialize_none(),
        }
    }
}

impl utoipa::PartialSchema for Number {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .description(Some("An exact decimal: an integer when whole"))
            .into()
    }
}

impl utoipa::ToSchema for Number {}

/// A schema for a date `YYYY-MM-DD` held as text.
fn date_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .into()
}

#[cfg(test)]
mod tests {
    use super::Number;
    use rust_decimal::Decimal;

    #[test]
    fn a_number_is_an_integer_when_whole_and_exact_otherwise() {
        let text = |d: &str| serde_json::to_string(&Number(d.parse::<Decimal>().unwrap())).unwrap();
        assert_eq!(text("7500"), "7500");
        assert_eq!(text("7500.00"), "7500");
        assert_eq!(text("7500.5"), "7500.5");
        assert_eq!(text("0.0450"), "0.045");
        assert_eq!(text("-3"), "-3");
    }
}
