//! The system's fully qualified host name.

/// The FQDN as `hostname -f` reports it; failing that, the kernel's host name
/// (`/proc/sys/kernel/hostname`), then `/etc/hostname`. Lower-cased, trailing dot removed.
pub fn system_fqdn() -> Option<String> {
    let from_command = std::process::Command::new("hostname")
        .arg("-f")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok());
    [
        from_command,
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
        std::fs::read_to_string("/etc/hostname").ok(),
    ]
    .into_iter()
    .flatten()
    .map(|s| s.trim().trim_end_matches('.').to_ascii_lowercase())
    .find(|s| !s.is_empty())
}
