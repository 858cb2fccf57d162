//! The ready file (`--ready-file PATH`): once a binary is ready, it writes one JSON object with
//! its pid and the addresses it bound, e.g. `{"pid": 4242, "metrics": "127.0.0.1:40123"}`, so
//! that a script or a test waits for the file instead of reading log lines (and learns the port
//! the OS picked for port 0). The file appears whole: it is written beside its final name and
//! renamed into place.

use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// The ready file's content: the process id and each `(name, address)`, `null` for an endpoint
/// that is off.
pub fn json(pid: u32, endpoints: &[(&str, Option<SocketAddr>)]) -> String {
    let mut out = format!("{{\"pid\": {pid}");
    for (name, addr) in endpoints {
        match addr {
            Some(a) => out.push_str(&format!(", \"{}\": \"{a}\"", escape(name))),
            None => out.push_str(&format!(", \"{}\": null", escape(name))),
        }
    }
    out.push_str("}\n");
    out
}

fn escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| match c {
            '"' | '\\' => vec!['\\', c],
            c if c.is_control() => format!("\\u{:04x}", c as u32).chars().collect(),
            c => vec![c],
        })
        .collect()
}

/// Writes the ready file of this process at `path`, whole: a file beside it, then a rename.
pub fn write(path: &Path, endpoints: &[(&str, Option<SocketAddr>)]) -> io::Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the ready file needs a file name",
        )
    })?;
    let mut partial = name.to_os_string();
    partial.push(format!(".{}.partial", std::process::id()));
    let partial = path.with_file_name(partial);
    std::fs::write(&partial, json(std::process::id(), endpoints))?;
    std::fs::rename(&partial, path)
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn the_json_names_the_pid_and_every_endpoint() {
        let addr: SocketAddr = "127.0.0.1:40123".parse().unwrap();
        assert_eq!(
            json(42, &[("metrics", Some(addr)), ("status", None)]),
            "{\"pid\": 42, \"metrics\": \"127.0.0.1:40123\", \"status\": null}\n"
        );
        assert_eq!(json(7, &[]), "{\"pid\": 7}\n");
        assert_eq!(escape("a\"b\\c\n"), "a\\\"b\\\\c\\u000a");
    }

    #[test]
    fn the_file_appears_whole_and_nothing_else_is_left() {
        let dir = std::env::temp_dir().join(format!("telemetry-ready-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.ready");
        let addr: SocketAddr = "127.0.0.1:9".parse().unwrap();
        write(&path, &[("metrics", Some(addr))]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"metrics\": \"127.0.0.1:9\""), "{text}");
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("x.ready")]);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(write(&dir.join("missing").join("x.ready"), &[]).is_err());
    }
}
