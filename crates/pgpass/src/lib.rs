//! libpq's password file, so that the verifier and the tests find a role's password where psql
//! does: `PGPASSFILE`, else `~/.pgpass`. The local stack writes `.stack/secrets/pgpass` (readable
//! by its owner only) and its scripts point `PGPASSFILE` at it, so no password has to travel in
//! an environment variable or on a command line.
//!
//! Format (libpq's): one `hostname:port:database:username:password` per line; `*` matches
//! anything in the first four fields; `\:` and `\\` escape; lines starting with `#` are comments.
//! The first matching line wins.
#![forbid(unsafe_code)]

use std::path::PathBuf;

/// What to look a password up for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// Host as the client connects to it.
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Database.
    pub database: &'a str,
    /// Role.
    pub user: &'a str,
}

/// The password for `target` in the text of a password file, if a line matches.
pub fn lookup(text: &str, target: &Target<'_>) -> Option<String> {
    let port = target.port.to_string();
    let wanted = [target.host, port.as_str(), target.database, target.user];
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(fields)
        .find(|f| {
            f[..4]
                .iter()
                .zip(wanted)
                .all(|(have, want)| have == "*" || have == want)
        })
        .map(|mut f| f.swap_remove(4))
}

/// The five fields of a line, unescaped; `None` for a line that has fewer.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.last_mut()?.extend(chars.next()),
            ':' if out.len() < 5 => out.push(String::new()),
            c => out.last_mut()?.push(c),
        }
    }
    (out.len() == 5).then_some(out)
}

/// The password file libpq would read: `PGPASSFILE`, else `~/.pgpass`.
pub fn default_path() -> Option<PathBuf> {
    match std::env::var_os("PGPASSFILE") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pgpass")),
    }
}

/// The password for `target` from the default password file, if it exists and has a line for
/// it. A file that cannot be read counts as having none, as in libpq.
pub fn find(target: &Target<'_>) -> Option<String> {
    let text = std::fs::read_to_string(default_path()?).ok()?;
    lookup(&text, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    const APP: Target<'static> = Target {
        host: "127.0.0.1",
        port: 5432,
        database: "app",
        user: "app",
    };

    #[test]
    fn the_first_matching_line_wins_and_stars_match_anything() {
        let text = "# the local stack\n127.0.0.1:5432:app:debezium:d1\n127.0.0.1:5432:*:app:a1\n*:*:*:*:any\n";
        assert_eq!(lookup(text, &APP).as_deref(), Some("a1"));
        let other = Target { user: "x", ..APP };
        assert_eq!(lookup(text, &other).as_deref(), Some("any"));
        let port = Target { port: 5433, ..APP };
        assert_eq!(lookup("127.0.0.1:5432:app:app:a1", &port), None);
    }

    #[test]
    fn escapes_and_short_lines() {
        let text = "127.0.0.1:5432:app:app:p\\:w\\\\d:more\nbroken:line\n";
        assert_eq!(lookup(text, &APP).as_deref(), Some("p:w\\d:more"));
        assert_eq!(lookup("broken:line", &APP), None);
    }
}
