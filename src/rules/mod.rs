//! Rule files (`*.toml` in the rules directory, loaded in name order).
//!
//! Today this module only checks that a rules directory is readable and that each file is TOML
//! made of `[[rule]]` and `[[maintenance]]` tables, reporting `file:line:col: message`. The
//! condition language, actions and stateful rules come with the rules issue; until then levels
//! come from [`crate::normalize::LevelTable`], which mirrors the default pack in `rules/`.

pub mod condition;
pub mod template;

use std::path::{Path, PathBuf};

/// The default rule pack shipped in the repository's `rules/` and built into the binary.
pub const DEFAULT_PACK: &[(&str, &str)] = &[(
    "00-default.toml",
    include_str!("../../rules/00-default.toml"),
)];

/// Lists the `*.toml` files of `dir` in name order.
pub fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    Ok(files)
}

/// Checks one rule file's text; `name` is used in messages.
pub fn check_text(name: &str, text: &str) -> Result<(), String> {
    let table: toml::Table = toml::from_str(text).map_err(|error| {
        let (line, col) = error
            .span()
            .map(|s| crate::config::line_col(text, s.start))
            .unwrap_or((1, 1));
        format!("{name}:{line}:{col}: {}", error.message())
    })?;
    for (key, value) in &table {
        let is_array_of_tables = value
            .as_array()
            .is_some_and(|items| items.iter().all(toml::Value::is_table));
        if !matches!(key.as_str(), "rule" | "maintenance") || !is_array_of_tables {
            let offset = text.find(key.as_str()).unwrap_or(0);
            let (line, col) = crate::config::line_col(text, offset);
            return Err(format!(
                "{name}:{line}:{col}: unexpected top-level key {key:?} (expected [[rule]] or [[maintenance]] tables)"
            ));
        }
    }
    Ok(())
}

/// Checks every rule file of `dir`; returns one message per problem.
pub fn check_dir(dir: &Path) -> Result<(), Vec<String>> {
    let files = rule_files(dir).map_err(|e| vec![e])?;
    let errors: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let name = path.display().to_string();
            match std::fs::read_to_string(path) {
                Ok(text) => check_text(&name, &text).err(),
                Err(e) => Some(format!("{name}: {e}")),
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_pack_is_valid() {
        for (name, text) in DEFAULT_PACK {
            check_text(name, text).unwrap();
        }
    }

    #[test]
    fn errors_point_into_the_file() {
        let err = check_text("r.toml", "[[rule]]\nname = \"x\"\nlevel = \n").unwrap_err();
        assert!(err.starts_with("r.toml:3:"), "{err}");
        let err = check_text("r.toml", "[[rule]]\nname = \"x\"\n[other]\n").unwrap_err();
        assert!(
            err.starts_with("r.toml:3:2: unexpected top-level key"),
            "{err}"
        );
    }
}
