//! One incident as a PDF: header, facts, description, resolution lines and history, on as
//! many A4 pages as it takes — written with `pdf-writer` in pure Rust, with the standard
//! fonts every PDF reader has (nothing embedded, no external tool).
//!
//! Text is wrapped by character count in a monospaced font (Courier: every glyph is 0.6 em
//! wide, so a line never runs off the page whatever a device wrote) and encoded as
//! WinAnsi; characters outside it print as `?`. Bounded: at most [`MAX_LINES`] lines (about
//! 80 pages), the rest replaced by a note.

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

use super::Incident;
use crate::event::format_ns;

/// Most lines in one document.
pub const MAX_LINES: usize = 5000;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const BODY_SIZE: f32 = 9.0;
const BODY_LEADING: f32 = 11.5;
const HEADING_SIZE: f32 = 12.0;
const TITLE_SIZE: f32 = 15.0;

/// Characters of body text per line: the text width over Courier's advance (0.6 em).
const BODY_CHARS: usize = ((PAGE_WIDTH - 2.0 * MARGIN) / (0.6 * BODY_SIZE)) as usize;

#[derive(Clone, Copy)]
enum Font {
    Body,
    Bold,
}

impl Font {
    fn name(self) -> Name<'static> {
        match self {
            Font::Body => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }
}

/// Lines placed on pages, top to bottom.
struct Layout {
    pages: Vec<Content>,
    page: Content,
    y: f32,
    lines: usize,
    cut: bool,
}

impl Layout {
    fn new() -> Layout {
        Layout {
            pages: Vec::new(),
            page: Content::new(),
            y: PAGE_HEIGHT - MARGIN,
            lines: 0,
            cut: false,
        }
    }

    fn line(&mut self, font: Font, size: f32, leading: f32, text: &str) {
        if self.lines >= MAX_LINES {
            self.cut = true;
            return;
        }
        if self.y - leading < MARGIN {
            let full = std::mem::replace(&mut self.page, Content::new());
            self.pages.push(full);
            self.y = PAGE_HEIGHT - MARGIN;
        }
        self.y -= leading;
        self.lines += 1;
        self.page.begin_text();
        self.page.set_font(font.name(), size);
        self.page.next_line(MARGIN, self.y);
        self.page.show(Str(&win_ansi(text)));
        self.page.end_text();
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn title(&mut self, text: &str) {
        // Helvetica-Bold is wider than Courier on capitals: a safe estimate of 0.75 em.
        let width = ((PAGE_WIDTH - 2.0 * MARGIN) / (0.75 * TITLE_SIZE)) as usize;
        for line in wrap(text, width) {
            self.line(Font::Bold, TITLE_SIZE, TITLE_SIZE * 1.3, &line);
        }
    }

    fn heading(&mut self, text: &str) {
        self.gap(6.0);
        self.line(Font::Bold, HEADING_SIZE, HEADING_SIZE * 1.4, text);
    }

    fn text(&mut self, text: &str) {
        for line in wrap(text, BODY_CHARS) {
            self.line(Font::Body, BODY_SIZE, BODY_LEADING, &line);
        }
    }

    fn field(&mut self, label: &str, value: &str) {
        self.text(&format!("{label:<13} {value}"));
    }

    fn finish(mut self) -> Vec<Content> {
        if self.cut {
            self.lines = 0;
            self.line(
                Font::Bold,
                BODY_SIZE,
                BODY_LEADING,
                "(cut: the rest is in the console)",
            );
        }
        self.pages.push(self.page);
        self.pages
    }
}

/// Splits `text` into lines of at most `width` characters: at line breaks, then at the last
/// space that fits, else hard (a long token such as a hex dump).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut out = Vec::new();
    for paragraph in text.split('\n') {
        let mut rest: Vec<char> = paragraph
            .trim_end()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        if rest.is_empty() {
            out.push(String::new());
            continue;
        }
        while rest.len() > width {
            let cut = rest[..=width]
                .iter()
                .rposition(|c| *c == ' ')
                .filter(|at| *at > 0)
                .unwrap_or(width);
            out.push(
                rest[..cut]
                    .iter()
                    .collect::<String>()
                    .trim_end()
                    .to_string(),
            );
            let skip = if rest.get(cut) == Some(&' ') {
                cut + 1
            } else {
                cut
            };
            rest.drain(..skip);
        }
        out.push(rest.into_iter().collect());
    }
    out
}

/// WinAnsiEncoding bytes of `text` (Latin-1 and the usual typographic marks); other
/// characters become `?`.
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| match c {
            ' '..='~' => c as u8,
            '\u{a0}'..='\u{ff}' => c as u32 as u8,
            '€' => 0x80,
            '‚' => 0x82,
            '„' => 0x84,
            '…' => 0x85,
            '‘' => 0x91,
            '’' => 0x92,
            '“' => 0x93,
            '”' => 0x94,
            '•' => 0x95,
            '–' => 0x96,
            '—' => 0x97,
            '™' => 0x99,
            _ => b'?',
        })
        .collect()
}

/// The PDF of `incident`.
pub fn render(incident: &Incident) -> Vec<u8> {
    let mut layout = Layout::new();
    layout.title(&format!("Incident {}", incident.reference));
    layout.title(&incident.title);
    layout.gap(4.0);
    let people = |names: &[String]| {
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(", ")
        }
    };
    let alerts: Vec<String> = incident
        .alert_ids
        .iter()
        .map(|id| format!("#{id}"))
        .collect();
    for (label, value) in [
        ("State", incident.state.as_str().replace('_', " ")),
        ("Severity", incident.severity.as_str().to_string()),
        ("Category", incident.category.clone()),
        ("Source", incident.source.as_str().to_string()),
        ("Host", incident.host.clone().unwrap_or_else(|| "-".into())),
        ("Occurred", format_ns(incident.occurred_at_ns)),
        (
            "Opened",
            format!(
                "{} by {}",
                format_ns(incident.opened_at_ns),
                incident.opened_by
            ),
        ),
        ("Assignees", people(&incident.assignees)),
        ("Followers", people(&incident.followers)),
        ("Alerts", people(&alerts)),
        (
            "Closed",
            match (&incident.closed_by, incident.closed_at_ns) {
                (Some(by), Some(at)) => format!("{} by {by}", format_ns(at)),
                _ => "-".into(),
            },
        ),
        (
            "Knowledge base",
            if incident.knowledge_base { "yes" } else { "no" }.to_string(),
        ),
    ] {
        layout.field(label, &value);
    }
    layout.heading("Description");
    layout.text(if incident.description.is_empty() {
        "-"
    } else {
        &incident.description
    });
    layout.heading("Resolution");
    if incident.resolutions.is_empty() {
        layout.text("-");
    }
    for r in &incident.resolutions {
        let kind = if r.final_ { "final" } else { "in progress" };
        layout.text(&format!("{} {} ({kind}):", format_ns(r.at_ns), r.by));
        layout.text(&r.text);
        layout.gap(3.0);
    }
    layout.heading("History");
    for c in &incident.history {
        let detail = c
            .detail
            .as_deref()
            .map(|d| format!(" — {d}"))
            .unwrap_or_default();
        layout.text(&format!(
            "{} {} {}{detail}",
            format_ns(c.at_ns),
            c.by,
            c.action
        ));
    }
    document(layout.finish(), &incident.reference)
}

/// The document around the pages' contents: catalog, page tree, the two fonts, a footer
/// with the reference and page number on each page.
fn document(pages: Vec<Content>, reference: &str) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let body_font = Ref::new(3);
    let bold_font = Ref::new(4);
    let first_page = 5;
    let count = pages.len() as i32;
    let page_ids: Vec<Ref> = (0..count).map(|n| Ref::new(first_page + 2 * n)).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().copied()).count(count);
    for (n, mut content) in pages.into_iter().enumerate() {
        let page_id = page_ids[n];
        let content_id = Ref::new(page_id.get() + 1);
        let footer = format!("trapline incident {reference} — page {} of {count}", n + 1);
        content.begin_text();
        content.set_font(Font::Body.name(), 8.0);
        content.next_line(MARGIN, MARGIN / 2.0);
        content.show(Str(&win_ansi(&footer)));
        content.end_text();
        let mut page = pdf.page(page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT));
        page.parent(tree);
        page.contents(content_id);
        let mut resources = page.resources();
        resources
            .fonts()
            .pair(Font::Body.name(), body_font)
            .pair(Font::Bold.name(), bold_font);
        resources.finish();
        page.finish();
        pdf.stream(content_id, &content.finish());
    }
    for (id, name) in [(body_font, &b"Courier"[..]), (bold_font, b"Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    pdf.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_and_bounds_lines() {
        assert_eq!(wrap("abc def ghi", 7), ["abc def", "ghi"]);
        assert_eq!(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
        assert_eq!(wrap("a\n\nb", 10), ["a", "", "b"]);
        assert_eq!(wrap("tab\there", 20), ["tab here"]);
        for line in wrap(&"word ".repeat(500), BODY_CHARS) {
            assert!(line.chars().count() <= BODY_CHARS);
        }
        assert_eq!(win_ansi("é€☃"), [0xe9, 0x80, b'?']);
    }

    #[test]
    fn a_long_incident_makes_several_pages_and_stays_bounded() {
        let mut incident = crate::incidents::lifecycle::open(
            &crate::incidents::NewIncident {
                title: "Core switch down".into(),
                description: "line\n".repeat(200),
                category: Some("network".into()),
                severity: None,
                source: crate::incidents::Source::Visual,
                alert_ids: vec![7],
                host: Some("core1".into()),
                occurred_at_ns: None,
                followers: Vec::new(),
            },
            1,
            "2026/NETWORK/1".into(),
            "viv",
            0,
        )
        .unwrap();
        let pdf = render(&incident);
        assert!(pdf.starts_with(b"%PDF-"));
        let pages = |pdf: &[u8]| {
            pdf.windows(b"/Type /Page\n".len())
                .filter(|w| *w == b"/Type /Page\n")
                .count()
        };
        assert!(pages(&pdf) >= 3, "{}", pages(&pdf));
        incident.description = "x\n".repeat(100_000);
        let huge = render(&incident);
        assert!(pages(&huge) < 100);
    }
}
