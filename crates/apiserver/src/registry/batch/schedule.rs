//! CronJob schedules: the syntax kube-controller-manager accepts (robfig/cron's standard parser:
//! five fields — minute, hour, day of month, month, day of week — with `*`, `?`, lists, ranges,
//! steps and month/day names, or one of the descriptors `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight`, `@hourly`), evaluated in a time zone.
//!
//! Evaluation is croner's (`croner` with jiff time zones: DST gaps and folds resolved as cron
//! does); this module first holds a schedule to the standard syntax, which croner extends
//! (seconds, years, `L`, `W`, `#`), and words the common mistakes as robfig/cron does, since
//! kube-apiserver returns its parser's error as the validation message.

use jiff::Zoned;
use jiff::tz::TimeZone;

/// A parsed schedule.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    cron: croner::Cron,
}

/// The descriptors robfig/cron's standard parser knows, as five fields.
const DESCRIPTORS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The names a field may use (months and days of the week, any case).
const NAMES: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "SUN",
    "MON", "TUE", "WED", "THU", "FRI", "SAT",
];

impl Schedule {
    /// Parses `schedule`; the error is the message kube-apiserver shows after
    /// `spec.schedule: Invalid value: "...": `.
    pub(crate) fn parse(schedule: &str) -> Result<Schedule, String> {
        let trimmed = schedule.trim();
        if trimmed.is_empty() {
            return Err("empty spec string".into());
        }
        let fields = if trimmed.starts_with('@') {
            match DESCRIPTORS
                .iter()
                .find(|(d, _)| d.eq_ignore_ascii_case(trimmed))
            {
                Some((_, fields)) => fields.to_string(),
                None if trimmed.starts_with("@every") => {
                    return Err(format!(
                        "unsupported descriptor in this server: {trimmed} (use five fields)"
                    ));
                }
                None => return Err(format!("unrecognized descriptor: {trimmed}")),
            }
        } else {
            let parts: Vec<&str> = trimmed.split_whitespace().collect();
            if parts.len() != 5 {
                return Err(format!(
                    "expected exactly 5 fields, found {}: [{}]",
                    parts.len(),
                    parts.join(" ")
                ));
            }
            for part in &parts {
                check_field(part)?;
            }
            parts.join(" ")
        };
        let cron = croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .year(croner::parser::Year::Disallowed)
            .build()
            .parse(&fields)
            .map_err(|e| e.to_string())?;
        Ok(Schedule { cron })
    }

    /// The first time after `after` (exclusive) the schedule fires, in `after`'s time zone.
    pub(crate) fn next_after(&self, after: &Zoned) -> Option<Zoned> {
        self.cron.find_next_occurrence(after, false).ok()
    }
}

/// One field in the standard syntax: numbers, names, `*`, `?`, `,`, `-`, `/`.
fn check_field(field: &str) -> Result<(), String> {
    for token in field.split([',', '-', '/']) {
        let ok = token.is_empty()
            || token == "*"
            || token == "?"
            || token.bytes().all(|b| b.is_ascii_digit())
            || NAMES.iter().any(|n| n.eq_ignore_ascii_case(token));
        if !ok {
            return Err(format!(
                "failed to parse int from {token}: strconv.Atoi: parsing {token:?}: invalid syntax"
            ));
        }
    }
    Ok(())
}

/// The time zone `name` names (`None`: the controller's own, as kube-controller-manager uses
/// its local zone); the error is Go's `time.LoadLocation` message.
pub(crate) fn time_zone(name: Option<&str>) -> Result<TimeZone, String> {
    match name {
        None => Ok(TimeZone::system()),
        Some(name) => TimeZone::get(name).map_err(|_| format!("unknown time zone {name}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Zoned {
        s.parse().expect("time")
    }

    #[test]
    fn standard_schedules_fire_when_cron_would() {
        let every_minute = Schedule::parse("* * * * *").expect("parses");
        let next = every_minute.next_after(&at("2024-01-01T10:00:30[UTC]"));
        assert_eq!(next, Some(at("2024-01-01T10:01:00[UTC]")));
        let hourly = Schedule::parse("@hourly").expect("parses");
        let next = hourly.next_after(&at("2024-01-01T10:00:00[UTC]"));
        assert_eq!(next, Some(at("2024-01-01T11:00:00[UTC]")));
        let weekdays = Schedule::parse("30 9 * * MON-FRI").expect("parses");
        let next = weekdays.next_after(&at("2024-01-06T12:00:00[UTC]")); // a Saturday
        assert_eq!(next, Some(at("2024-01-08T09:30:00[UTC]")));
        let zoned = Schedule::parse("0 9 * * *").expect("parses");
        let tz = time_zone(Some("Europe/Berlin")).expect("zone");
        let from = at("2024-07-01T00:00:00[UTC]").with_time_zone(tz);
        let next = zoned.next_after(&from).expect("next");
        assert_eq!(next.timestamp(), at("2024-07-01T07:00:00[UTC]").timestamp());
    }

    #[test]
    fn mistakes_are_worded_as_robfig_cron_words_them() {
        assert_eq!(
            Schedule::parse("* * * *").unwrap_err(),
            "expected exactly 5 fields, found 4: [* * * *]"
        );
        assert_eq!(
            Schedule::parse("0 0 * * * *").unwrap_err(),
            "expected exactly 5 fields, found 6: [0 0 * * * *]"
        );
        assert_eq!(
            Schedule::parse("@fortnightly").unwrap_err(),
            "unrecognized descriptor: @fortnightly"
        );
        assert_eq!(
            Schedule::parse("0 0 L * *").unwrap_err(),
            r#"failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax"#
        );
        assert!(Schedule::parse("70 * * * *").is_err());
        assert_eq!(
            time_zone(Some("Mars/Olympus")).unwrap_err(),
            "unknown time zone Mars/Olympus"
        );
    }
}
