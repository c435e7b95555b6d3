//! POP3 has no INTERNALDATE: the date a message is filed under is taken from
//! its headers. The rule (documented in docs/job-file.md): the date of the
//! first (topmost, so latest) Received header, else the Date header, else
//! none, and the destination uses the time of the copy.

use chrono::DateTime;

/// The IMAP date-time (`"17-Jul-1996 02:44:25 -0700"`) for a message, from
/// its header block.
pub fn internal_date(header: &[u8]) -> Option<String> {
    let fields = unfolded_fields(header);
    let received = fields
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("received"))
        .and_then(|(_, v)| v.rsplit_once(';').and_then(|(_, d)| parse_date(d)));
    let date = || {
        fields
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("date"))
            .and_then(|(_, v)| parse_date(v))
    };
    received.or_else(date)
}

fn unfolded_fields(header: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(header);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// Parses an RFC 5322 date, tolerating comments and odd spacing.
fn parse_date(raw: &str) -> Option<String> {
    let mut clean = String::new();
    let mut depth = 0u32;
    for c in raw.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
    // A wrong day of the week is common in real mail and says nothing
    // the date itself doesn't: drop it rather than reject the date.
    let clean = match clean.split_once(", ") {
        Some((day, rest)) if day.len() == 3 && day.chars().all(char::is_alphabetic) => {
            rest.to_string()
        }
        _ => clean,
    };
    let parsed = DateTime::parse_from_rfc2822(&clean).ok()?;
    Some(parsed.format("%d-%b-%Y %H:%M:%S %z").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_received_header_wins() {
        let h = b"Received: from a by b; Tue, 2 Jan 2024 10:00:00 +0100\r\nReceived: from c by a;\r\n\tMon, 1 Jan 2024 09:00:00 +0100\r\nDate: Sun, 31 Dec 2023 08:00:00 -0500\r\n\r\n";
        assert_eq!(
            internal_date(h).as_deref(),
            Some("02-Jan-2024 10:00:00 +0100")
        );
    }

    #[test]
    fn date_header_when_no_received_and_comments_and_a_wrong_weekday_are_ignored() {
        let h = b"Subject: x\r\nDate: Fri, 29 Feb 2024 08:00:00 +0530 (IST)\r\n\r\nbody";
        assert_eq!(
            internal_date(h).as_deref(),
            Some("29-Feb-2024 08:00:00 +0530")
        );
    }

    #[test]
    fn folded_received_dates_and_obsolete_zones_parse() {
        let h = b"Received: from x\r\n  by y with SMTP id 1;\r\n  15 Jun 2010 12:34:56 GMT\r\n\r\n";
        assert_eq!(
            internal_date(h).as_deref(),
            Some("15-Jun-2010 12:34:56 +0000")
        );
    }

    #[test]
    fn unparseable_dates_give_none() {
        assert_eq!(internal_date(b"Date: yesterday\r\n\r\n"), None);
        assert_eq!(internal_date(b"Received: from x by y\r\n\r\n"), None);
        assert_eq!(internal_date(b""), None);
    }
}
