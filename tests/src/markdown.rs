//! Relative links in the repository's Markdown, pure: each link's target, and the anchors a
//! page's headings give, as GitHub makes them. `tests/tests/links.rs` checks that every link
//! of every page resolves.

use std::collections::HashSet;

/// A link written in a page: `[text](target)` or `![alt](target)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// 1-based line of the page.
    pub line: usize,
    /// The target as written: a path, `path#anchor`, `#anchor`, or a URL.
    pub target: String,
}

impl Link {
    /// A link that leaves the repository (`https:`, `mailto:`, …).
    pub fn is_external(&self) -> bool {
        self.target
            .split_once(':')
            .is_some_and(|(scheme, _)| scheme.chars().all(|c| c.is_ascii_alphabetic()))
    }

    /// The path and the anchor (either may be empty).
    pub fn parts(&self) -> (&str, &str) {
        self.target
            .split_once('#')
            .unwrap_or((self.target.as_str(), ""))
    }
}

/// Each line outside fenced code blocks, with its 1-based number.
fn prose(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    text.lines().enumerate().filter_map(move |(i, l)| {
        if l.trim_start().starts_with("```") {
            fenced = !fenced;
            return None;
        }
        (!fenced).then_some((i + 1, l))
    })
}

/// The line without its inline code spans (`` `[a](b)` `` is not a link).
fn without_code(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Every link of a page, in order.
pub fn links(text: &str) -> Vec<Link> {
    let mut out = Vec::new();
    for (line, l) in prose(text) {
        let l = without_code(l);
        let mut rest = l.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            if !target.is_empty() {
                out.push(Link {
                    line,
                    target: target.to_owned(),
                });
            }
            rest = &after[end..];
        }
    }
    out
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens.
pub fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Every anchor a page's headings give; a repeated heading gets `-1`, `-2`, ….
pub fn anchors(text: &str) -> HashSet<String> {
    let mut out = HashSet::new();
    for (_, l) in prose(text) {
        let hashes = l.chars().take_while(|c| *c == '#').count();
        let Some(heading) = l[hashes..].strip_prefix(' ') else {
            continue;
        };
        if !(1..=6).contains(&hashes) {
            continue;
        }
        let base = slug(heading);
        let mut s = base.clone();
        let mut n = 0;
        while out.contains(&s) {
            n += 1;
            s = format!("{base}-{n}");
        }
        out.insert(s);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_become_github_anchors() {
        assert_eq!(slug("The demo: `scripts/demo/`"), "the-demo-scriptsdemo");
        assert_eq!(
            slug("`bench/profile.sh`: which stage holds end to end, and why"),
            "benchprofilesh-which-stage-holds-end-to-end-and-why"
        );
        let a = anchors("# Title\n## Passwords\n```\n# not a heading\n```\n## Passwords\n#no");
        let mut a: Vec<_> = a.into_iter().collect();
        a.sort();
        assert_eq!(a, ["passwords", "passwords-1", "title"]);
    }

    #[test]
    fn links_outside_code_with_their_lines() {
        let page = "see [a](docs/a.md#x) and ![p](img.png \"t\")\n```\n[no](skip.md)\n```\n`[no](code.md)` [u](https://x.org)";
        let got: Vec<_> = links(page)
            .into_iter()
            .map(|l| (l.line, l.target))
            .collect();
        assert_eq!(
            got,
            [
                (1, "docs/a.md#x".to_owned()),
                (1, "img.png".to_owned()),
                (5, "https://x.org".to_owned())
            ]
        );
        let l = Link {
            line: 1,
            target: "docs/a.md#x".into(),
        };
        assert_eq!((l.parts(), l.is_external()), (("docs/a.md", "x"), false));
    }
}
