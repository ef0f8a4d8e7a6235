//! Rule files (`rules::load::load_texts`): TOML with conditions, templates, thresholds,
//! expectations and maintenance windows, compiled into a `RuleSet` — or every error as
//! `file:line:col` — then each sample event qualified by it, as the writer thread does.
//!
//! Checks: no panic (an operator's typo must never take the reload thread down), every error
//! position inside the file.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trapline::rules::Scratch;
use trapline::rules::load_texts;
use trapline_fuzz::sample_events;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match load_texts([("fuzz.toml", text)]) {
        Ok(rules) => {
            let mut scratch = Scratch::default();
            for event in sample_events() {
                let mut event = event.clone();
                let verdict = rules.qualify(&mut event, &mut scratch);
                let _ = rules.category_of(&verdict);
            }
        }
        Err(errors) => {
            let lines = text.split('\n').count();
            for error in errors {
                assert!(
                    error.line >= 1 && error.line <= lines,
                    "{error} in {lines} lines"
                );
            }
        }
    }
});
