//! Device status (HOST-RESOURCES-MIB hrDeviceStatus, hrPrinterStatus) and the
//! printer error bits of hrPrinterDetectedErrorState.
//!
//! Pure: decodes numbers and octets into names.

/// hrDeviceStatus as a name: unknown | running | warning | testing | down.
pub fn device_status_name(code: Option<i64>) -> &'static str {
    match code {
        Some(2) => "running",
        Some(3) => "warning",
        Some(4) => "testing",
        Some(5) => "down",
        _ => "unknown",
    }
}

/// hrPrinterStatus as a name: other | unknown | idle | printing | warmup.
pub fn printer_status_name(code: Option<i64>) -> &'static str {
    match code {
        Some(1) => "other",
        Some(3) => "idle",
        Some(4) => "printing",
        Some(5) => "warmup",
        _ => "unknown",
    }
}

/// The names of hrPrinterDetectedErrorState's bits, bit 0 first.
pub const ERROR_BITS: [&str; 15] = [
    "low_paper",
    "no_paper",
    "low_toner",
    "no_toner",
    "door_open",
    "jammed",
    "offline",
    "service_requested",
    "input_tray_missing",
    "output_tray_missing",
    "marker_supply_missing",
    "output_near_full",
    "output_full",
    "input_tray_empty",
    "overdue_prevent_maint",
];

/// Packs the OCTET STRING (1 or 2 bytes; bit 0 is the most significant bit of
/// the first byte) into a 16-bit mask whose bit `n` is the error bit `n`.
pub fn error_mask(octets: &[u8]) -> u16 {
    let mut mask = 0u16;
    for (byte_idx, byte) in octets.iter().take(2).enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                mask |= 1 << (byte_idx * 8 + bit);
            }
        }
    }
    mask
}

/// The names of the bits set in a mask from [`error_mask`]. Bit 15 (unnamed
/// in RFC 3805) is reported as `bit_15`.
pub fn error_names(mask: u16) -> Vec<String> {
    (0..16)
        .filter(|bit| mask & (1 << bit) != 0)
        .map(|bit| match ERROR_BITS.get(bit) {
            Some(name) => (*name).to_owned(),
            None => format!("bit_{bit}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_zero_is_the_msb_of_the_first_byte() {
        assert_eq!(error_names(error_mask(&[0x80])), vec!["low_paper"]);
        assert_eq!(error_names(error_mask(&[0x01])), vec!["service_requested"]);
        // 0x20 = bit 2 (low_toner); second byte 0x80 = bit 8 (input_tray_missing).
        assert_eq!(
            error_names(error_mask(&[0x20, 0x80])),
            vec!["low_toner", "input_tray_missing"]
        );
        // 0x02 in the second byte = bit 14.
        assert_eq!(
            error_names(error_mask(&[0x00, 0x02])),
            vec!["overdue_prevent_maint"]
        );
        assert!(error_names(error_mask(&[])).is_empty());
        assert!(error_names(error_mask(&[0, 0])).is_empty());
    }

    #[test]
    fn statuses_are_named() {
        assert_eq!(device_status_name(Some(3)), "warning");
        assert_eq!(device_status_name(Some(5)), "down");
        assert_eq!(device_status_name(None), "unknown");
        assert_eq!(device_status_name(Some(42)), "unknown");
        assert_eq!(printer_status_name(Some(3)), "idle");
    }
}
