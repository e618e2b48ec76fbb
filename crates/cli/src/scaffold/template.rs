//! The templates' language: `{{name}}` is replaced by a value; a line holding only
//! `{{#if flag}}`, `{{#else}}` or `{{/if}}` keeps or drops the lines between by a flag. Anything
//! else is text, and an unknown name is an error, so a template cannot silently render half.

use std::collections::BTreeMap;

/// The values and flags one rendering uses.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<&'static str, String>,
    flags: BTreeMap<&'static str, bool>,
}

impl Vars {
    /// Sets `{{name}}` to `value`.
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) -> &mut Self {
        self.values.insert(name, value.into());
        self
    }

    /// Sets the flag `name` (and its negation, `not_name`, is not needed: use `{{#else}}`).
    pub fn flag(&mut self, name: &'static str, on: bool) -> &mut Self {
        self.flags.insert(name, on);
        self
    }
}

/// Why a template did not render (a bug in the template or its caller, reported by name).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TemplateError {
    /// `{{name}}` names no value.
    #[error("line {line}: unknown value {{{{{name}}}}}")]
    UnknownValue { line: usize, name: String },
    /// `{{#if name}}` names no flag.
    #[error("line {line}: unknown flag {name:?}")]
    UnknownFlag { line: usize, name: String },
    /// `{{` without its `}}`.
    #[error("line {line}: unclosed {{{{")]
    Unclosed { line: usize },
    /// `{{#else}}` or `{{/if}}` outside a block, or a block left open.
    #[error("line {line}: unbalanced {{{{#if}}}}/{{{{/if}}}}")]
    Unbalanced { line: usize },
}

/// Renders `template` with `vars`.
pub fn render(template: &str, vars: &Vars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    // One entry per open block: (this branch kept, the block's flag).
    let mut blocks: Vec<(bool, bool)> = Vec::new();
    for (index, line) in template.split_inclusive('\n').enumerate() {
        let number = index + 1;
        let directive = line.trim();
        if let Some(name) = directive
            .strip_prefix("{{#if ")
            .and_then(|rest| rest.strip_suffix("}}"))
        {
            let on = *vars
                .flags
                .get(name.trim())
                .ok_or_else(|| TemplateError::UnknownFlag {
                    line: number,
                    name: name.trim().to_owned(),
                })?;
            blocks.push((on, on));
            continue;
        }
        if directive == "{{#else}}" {
            let block = blocks
                .last_mut()
                .ok_or(TemplateError::Unbalanced { line: number })?;
            block.0 = !block.1;
            continue;
        }
        if directive == "{{/if}}" {
            blocks
                .pop()
                .ok_or(TemplateError::Unbalanced { line: number })?;
            continue;
        }
        if blocks.iter().all(|(kept, _)| *kept) {
            substitute(line, number, vars, &mut out)?;
        }
    }
    if !blocks.is_empty() {
        return Err(TemplateError::Unbalanced {
            line: template.lines().count(),
        });
    }
    Ok(out)
}

fn substitute(
    line: &str,
    number: usize,
    vars: &Vars,
    out: &mut String,
) -> Result<(), TemplateError> {
    let mut rest = line;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or(TemplateError::Unclosed { line: number })?;
        let name = after[..end].trim();
        let value = vars
            .values
            .get(name)
            .ok_or_else(|| TemplateError::UnknownValue {
                line: number,
                name: name.to_owned(),
            })?;
        out.push_str(value);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Vars {
        let mut vars = Vars::default();
        vars.set("kind", "Captain")
            .flag("namespaced", true)
            .flag("webhook", false);
        vars
    }

    #[test]
    fn values_are_substituted_and_other_braces_kept() {
        let out = render(
            "struct {{kind}}Spec { a: {{ kind }} }\nfn f() {}\n",
            &vars(),
        )
        .unwrap();
        assert_eq!(out, "struct CaptainSpec { a: Captain }\nfn f() {}\n");
        assert_eq!(
            render("json!({\"a\": {\"b\": 1}})", &vars()).unwrap(),
            "json!({\"a\": {\"b\": 1}})"
        );
    }

    #[test]
    fn blocks_keep_or_drop_whole_lines() {
        let template = "a\n{{#if namespaced}}\nns\n{{#else}}\ncluster\n{{/if}}\n{{#if webhook}}\nhook\n{{/if}}\nb\n";
        assert_eq!(render(template, &vars()).unwrap(), "a\nns\nb\n");
        let mut cluster = vars();
        cluster.flag("namespaced", false);
        assert_eq!(render(template, &cluster).unwrap(), "a\ncluster\nb\n");
    }

    #[test]
    fn mistakes_are_errors_with_their_line() {
        assert_eq!(
            render("ok\n{{plural}}\n", &vars()),
            Err(TemplateError::UnknownValue {
                line: 2,
                name: "plural".into()
            })
        );
        assert_eq!(
            render("{{#if scoped}}\n{{/if}}\n", &vars()),
            Err(TemplateError::UnknownFlag {
                line: 1,
                name: "scoped".into()
            })
        );
        assert_eq!(
            render("a {{kind\n", &vars()),
            Err(TemplateError::Unclosed { line: 1 })
        );
        assert_eq!(
            render("{{/if}}\n", &vars()),
            Err(TemplateError::Unbalanced { line: 1 })
        );
        assert_eq!(
            render("{{#if namespaced}}\nx\n", &vars()),
            Err(TemplateError::Unbalanced { line: 2 })
        );
    }
}
