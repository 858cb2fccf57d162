//! What alerting rules and dashboards name, checked against what `/metrics` serves: the
//! metrics an expression reads (with its label matchers) and the labels it groups or templates
//! by, and the samples of a Prometheus text exposition. Pure; a stack test feeds it the
//! daemon's and the processor's `/metrics` and the files in `docs/`.

use std::collections::BTreeMap;

/// A metric an expression reads, and its matchers: `(label, Some(value))` for `=`, `(label,
/// None)` for the other operators (`=~`, `!=`, `!~`: only the label must exist).
#[derive(Debug, Clone, PartialEq)]
pub struct Named {
    /// The metric's name as written (`verifier_stage_latency_seconds_bucket`).
    pub name: String,
    /// Its label matchers.
    pub matchers: Vec<(String, Option<String>)>,
}

/// One expression (a rule, or a panel's query with its legend).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refs {
    /// The metrics it reads whose names start with one of the prefixes asked for.
    pub metrics: Vec<Named>,
    /// The labels it groups by (`by (…)`) or templates (`{{label}}`, `$labels.label`), but
    /// `le` and the ones Prometheus adds when it scrapes (`job`, `instance`).
    pub labels: Vec<String>,
}

/// The labels Prometheus adds or histograms carry: present on no exposition of ours by name.
const GIVEN: [&str; 3] = ["le", "job", "instance"];

fn ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier at the start of `s`.
fn word(s: &str) -> &str {
    &s[..s.find(|c: char| !ident(c)).unwrap_or(s.len())]
}

/// The matchers of a selector body `a="x", b=~"y"`.
fn matchers(body: &str) -> Vec<(String, Option<String>)> {
    body.split(',')
        .filter_map(|m| {
            let m = m.trim();
            let label = word(m);
            let rest = m[label.len()..].trim_start();
            let value = rest.split('"').nth(1).unwrap_or("");
            (!label.is_empty()).then(|| {
                let exact = rest.starts_with('=') && !rest.starts_with("=~");
                (label.to_owned(), exact.then(|| value.to_owned()))
            })
        })
        .collect()
}

/// The metrics `text` names with one of `prefixes` (at a word's start), with their matchers.
fn metrics(text: &str, prefixes: &[&str]) -> Vec<Named> {
    let mut out = Vec::new();
    for (at, _) in text.char_indices() {
        let rest = &text[at..];
        let starts_word = text[..at].chars().next_back().is_none_or(|c| !ident(c));
        if !starts_word || !prefixes.iter().any(|p| rest.starts_with(p)) {
            continue;
        }
        let name = word(rest);
        let after = &rest[name.len()..];
        let matchers = match after.strip_prefix('{') {
            Some(body) => matchers(&body[..body.find('}').unwrap_or(body.len())]),
            None => Vec::new(),
        };
        out.push(Named {
            name: name.to_owned(),
            matchers,
        });
    }
    out
}

/// The labels `text` groups by or templates.
fn labels(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in text.split("by (").skip(1) {
        let list = &part[..part.find(')').unwrap_or(part.len())];
        out.extend(list.split(',').map(|l| l.trim().to_owned()));
    }
    for part in text.split("{{").skip(1) {
        let inner = part[..part.find("}}").unwrap_or(part.len())].trim();
        out.push(inner.strip_prefix("$labels.").unwrap_or(inner).to_owned());
    }
    for part in text.split("$labels.").skip(1) {
        out.push(word(part).to_owned());
    }
    out.retain(|l| !l.is_empty() && l.chars().all(ident) && !GIVEN.contains(&l.as_str()));
    out.sort();
    out.dedup();
    out
}

/// What `text` (one expression, with its legend or annotations) reads and groups by.
pub fn refs(text: &str, prefixes: &[&str]) -> Refs {
    Refs {
        metrics: metrics(text, prefixes),
        labels: labels(text),
    }
}

/// The samples of a text exposition: each one's name and labels.
#[derive(Debug, Clone, Default)]
pub struct Exposition(Vec<(String, BTreeMap<String, String>)>);

impl Exposition {
    /// Parses the sample lines of `text` (comments skipped), added to what is there.
    pub fn add(&mut self, text: &str) {
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = word(line);
            if name.is_empty() {
                continue;
            }
            let mut labels = BTreeMap::new();
            if let Some(body) = line[name.len()..].strip_prefix('{') {
                let body = &body[..body.rfind('}').unwrap_or(body.len())];
                for (k, v) in matchers(body) {
                    labels.insert(k, v.unwrap_or_default());
                }
            }
            self.0.push((name.to_owned(), labels));
        }
    }

    fn samples<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a BTreeMap<String, String>> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, l)| l)
    }

    /// What of `refs` has no sample here, in words (empty: everything is served).
    pub fn missing(&self, refs: &Refs) -> Vec<String> {
        let mut out = Vec::new();
        for m in &refs.metrics {
            let found = self.samples(&m.name).any(|labels| {
                m.matchers.iter().all(|(k, v)| match v {
                    Some(v) => labels.get(k) == Some(v),
                    None => labels.contains_key(k),
                })
            });
            if !found {
                out.push(format!("{} with {:?}: no such sample", m.name, m.matchers));
            }
        }
        for label in &refs.labels {
            let on_one = refs
                .metrics
                .iter()
                .any(|m| self.samples(&m.name).any(|l| l.contains_key(label)));
            if !on_one {
                let names: Vec<&str> = refs.metrics.iter().map(|m| m.name.as_str()).collect();
                out.push(format!("label {label}: on none of {names:?}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: [&str; 2] = ["verifier_", "processor_"];

    #[test]
    fn an_expression_names_its_metrics_matchers_and_labels() {
        let r = refs(
            r#"histogram_quantile(0.99, sum by (le, stage) (rate(verifier_x_bucket{stage="end_to_end", part=~"k.*"}[5m]))) > on() max(verifier_y) and up{job="a"} {{reason}} $labels.part"#,
            &P,
        );
        let names: Vec<&str> = r.metrics.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["verifier_x_bucket", "verifier_y"]);
        assert_eq!(
            r.metrics[0].matchers,
            [
                ("stage".to_owned(), Some("end_to_end".to_owned())),
                ("part".to_owned(), None)
            ]
        );
        assert_eq!(r.labels, ["part", "reason", "stage"]);
    }

    #[test]
    fn what_is_not_served_is_named_and_what_is_passes() {
        let mut e = Exposition::default();
        e.add("# HELP a b\nverifier_x_bucket{stage=\"end_to_end\",le=\"0.1\"} 3\nverifier_y 1\n");
        let ok = refs(
            r#"sum by (stage) (verifier_x_bucket{stage="end_to_end"}) + verifier_y"#,
            &P,
        );
        assert!(e.missing(&ok).is_empty(), "{:?}", e.missing(&ok));
        let bad = refs(
            r#"verifier_x_bucket{stage="queue"} + verifier_z {{reason}}"#,
            &P,
        );
        let missing = e.missing(&bad);
        assert_eq!(missing.len(), 3, "{missing:?}");
        assert!(missing[0].starts_with("verifier_x_bucket"), "{missing:?}");
        assert!(missing[1].starts_with("verifier_z"), "{missing:?}");
        assert!(missing[2].starts_with("label reason"), "{missing:?}");
    }
}
