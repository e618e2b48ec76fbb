//! Static bearer tokens (`--token-auth-file`): kube-apiserver's CSV format, one token a line,
//! `token,user,uid,"group1,group2"` (at least three columns; the groups column is optional).
//! Read once at start; a later line with the same token wins, as upstream's map does.

use crate::auth::user::UserInfo;
use std::collections::HashMap;
use std::path::Path;

/// The tokens of a token file.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

impl TokenFile {
    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("token file '{}' {e}", path.display()))
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut users = HashMap::new();
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            let record = csv_record(line)?;
            if record.len() < 3 {
                return Err(format!(
                    "must have at least 3 columns (token, user name, user uid), found {}",
                    record.len()
                ));
            }
            let token = record[0].clone();
            if token.is_empty() {
                continue;
            }
            let groups: Vec<String> = record
                .get(3)
                .map(|g| {
                    g.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            users.insert(
                token,
                UserInfo::authenticated(&record[1], record[2].clone(), groups),
            );
        }
        Ok(TokenFile { users })
    }

    /// The user `token` belongs to.
    pub fn user(&self, token: &str) -> Option<&UserInfo> {
        self.users.get(token)
    }
}

/// One CSV line (RFC 4180 quoting, as Go's `encoding/csv` reads it).
fn csv_record(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            '"' if quoted => {
                if chars.peek() == Some(&'"') {
                    field.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            }
            ',' if !quoted => {
                fields.push(std::mem::take(&mut field));
                at_start = true;
            }
            c => {
                field.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("has a quoted field that does not end".into());
    }
    fields.push(field);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_name_token_user_uid_and_groups() {
        let file = TokenFile::parse(
            "t1,alice,1001,\"devs,ops\"\n\nt2,bob,1002\nt3,\"carol, c\",1003,\"\"\n",
        )
        .expect("parsed");
        let alice = file.user("t1").expect("alice");
        assert_eq!(alice.name, "alice");
        assert_eq!(alice.uid, "1001");
        assert_eq!(alice.groups, ["devs", "ops", "system:authenticated"]);
        assert_eq!(
            file.user("t2").expect("bob").groups,
            ["system:authenticated"]
        );
        assert_eq!(file.user("t3").expect("carol").name, "carol, c");
        assert!(file.user("nope").is_none());
        let err = TokenFile::parse("t1,alice\n").expect_err("too few columns");
        assert_eq!(
            err,
            "must have at least 3 columns (token, user name, user uid), found 2"
        );
    }
}
