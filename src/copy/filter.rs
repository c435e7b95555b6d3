//! The job's `[filters]` as a source folder is listed: which messages are
//! left out by date or size, before anything of them is fetched.

use chrono::NaiveDate;

use super::key::describe;
use crate::job::Filters;
use crate::outcome::OversizedMessage;

/// The calendar day of an IMAP date-time (`"17-Jul-1996 02:44:25 -0700"`,
/// the day possibly space-padded) as the date states it, in its own zone:
/// a message received late on the 31st in New York belongs to the 31st.
pub(crate) fn day_of(date_time: &str) -> Option<NaiveDate> {
    chrono::DateTime::parse_from_str(date_time.trim(), "%d-%b-%Y %H:%M:%S %z")
        .ok()
        .map(|d| d.date_naive())
}

/// What the filters left out of a folder as it was listed.
#[derive(Default)]
pub(crate) struct LeftOut {
    /// Every message left out (by date or size), by id, with its size.
    pub messages: Vec<(String, u64)>,
    /// Those left out for their size, named for the log.
    pub oversized: Vec<OversizedMessage>,
}

impl LeftOut {
    /// Sorts one listed message: `true` when the filters admit it; else it
    /// is kept here (one too large to be named by [`LeftOut::name`]).
    pub fn admits(
        &mut self,
        filters: &Filters,
        id: &str,
        day: Option<NaiveDate>,
        size: u64,
    ) -> bool {
        if filters.admits(day, size) {
            return true;
        }
        self.messages.push((id.to_string(), size));
        if filters.too_large(size) {
            self.oversized.push(OversizedMessage {
                source_id: id.to_string(),
                size,
                ..Default::default()
            });
        }
        false
    }

    /// Names an oversized message from its header fields.
    pub fn name(&mut self, id: &str, header_fields: &[u8]) {
        if let Some(m) = self.oversized.iter_mut().find(|m| m.source_id == id) {
            (m.date, m.from, m.subject) = describe(header_fields);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_is_the_one_the_date_states_in_its_own_zone() {
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d);
        assert_eq!(day_of("31-Dec-2023 23:30:00 -0500"), d(2023, 12, 31));
        assert_eq!(day_of("01-Jan-2024 01:00:00 +1400"), d(2024, 1, 1));
        assert_eq!(day_of(" 5-Jul-2015 10:00:00 +0200"), d(2015, 7, 5));
        assert_eq!(day_of("yesterday"), None);
    }

    #[test]
    fn oversized_messages_are_kept_and_named_date_filtered_ones_only_counted() {
        let f = Filters {
            since: NaiveDate::from_ymd_opt(2024, 1, 1),
            before: None,
            max_message_bytes: Some(100),
        };
        let mut out = LeftOut::default();
        assert!(out.admits(&f, "1", NaiveDate::from_ymd_opt(2024, 1, 1), 100));
        assert!(!out.admits(&f, "2", NaiveDate::from_ymd_opt(2023, 12, 31), 10));
        assert!(!out.admits(&f, "3", None, 101));
        out.name("3", b"Subject: Holiday photos\r\nFrom: a@b\r\n\r\n");
        assert_eq!(out.messages, [("2".into(), 10), ("3".into(), 101)]);
        assert_eq!(out.oversized.len(), 1);
        assert_eq!(out.oversized[0].subject, "Holiday photos");
        assert_eq!(out.oversized[0].size, 101);
    }
}
