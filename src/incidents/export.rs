//! Incidents of a period as CSV (one line each, for a spreadsheet) or as JSON (whole
//! records): what the origin design's "export when there are too many" asks for.
//!
//! Bounded: at most [`MAX_EXPORT`] incidents per export (the caller says when it was cut).
//! CSV fields are quoted per RFC 4180, and a field a spreadsheet would take for a formula
//! (`=`, `+`, `-`, `@` first) gets a leading `'`: device text must never run in Excel.

use super::search::IncidentQuery;
use super::{Incident, IncidentStore};
use crate::event::format_ns;
use crate::store::StoreError;

/// Most incidents in one export.
pub const MAX_EXPORT: usize = 10_000;

/// The incidents opened in `[since, until)`, oldest first, at most [`MAX_EXPORT`]; the flag
/// says whether more were left out.
pub fn period(
    store: &IncidentStore,
    since_ns: Option<i64>,
    until_ns: Option<i64>,
) -> Result<(Vec<Incident>, bool), StoreError> {
    let page = IncidentQuery {
        since_ns,
        until_ns,
        limit: MAX_EXPORT,
        ..IncidentQuery::default()
    }
    .run(store)?;
    let cut = page.next_cursor.is_some();
    let mut incidents = page.incidents;
    incidents.reverse();
    Ok((incidents, cut))
}

/// The CSV header.
pub const CSV_HEADER: &str = "id,reference,state,severity,category,source,title,host,opened_by,opened_at,occurred_at,assignees,followers,resolutions,last_resolution,knowledge_base,closed_by,closed_at\r\n";

/// `incidents` as CSV (header included, CRLF line ends).
pub fn to_csv(incidents: &[Incident]) -> String {
    let mut out = String::from(CSV_HEADER);
    for i in incidents {
        let fields = [
            i.id.to_string(),
            i.reference.clone(),
            i.state.as_str().to_string(),
            i.severity.as_str().to_string(),
            i.category.clone(),
            i.source.as_str().to_string(),
            i.title.clone(),
            i.host.clone().unwrap_or_default(),
            i.opened_by.clone(),
            format_ns(i.opened_at_ns),
            format_ns(i.occurred_at_ns),
            i.assignees.join(" "),
            i.followers.join(" "),
            i.resolutions.len().to_string(),
            i.resolutions
                .last()
                .map(|r| r.text.clone())
                .unwrap_or_default(),
            i.knowledge_base.to_string(),
            i.closed_by.clone().unwrap_or_default(),
            i.closed_at_ns.map(format_ns).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// One CSV field: quoted when it holds a comma, quote or line break; defused when a
/// spreadsheet would read it as a formula.
pub fn csv_field(text: &str) -> String {
    let defused = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if defused.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", defused.replace('"', "\"\""))
    } else {
        defused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_defused() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
        assert_eq!(CSV_HEADER.split(',').count(), 18);
    }
}
