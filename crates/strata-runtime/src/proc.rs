//! `top` rows from `/proc`, in the columns of `ps -ef` (what Docker runs on
//! the host and filters by the container's pids).

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`; 100 on Linux).
const HZ: u64 = 100;

fn boot_time() -> Option<i64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    s.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse().ok())
}

fn uptime() -> Option<f64> {
    std::fs::read_to_string("/proc/uptime").ok()?.split_whitespace().next()?.parse().ok()
}

fn tty_name(dev: u64) -> String {
    if dev == 0 {
        return "?".into();
    }
    let major = (dev >> 8) & 0xfff;
    let minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
    match major {
        136..=143 => format!("pts/{}", minor + (major - 136) * 256),
        4 => format!("tty{minor}"),
        _ => "?".into(),
    }
}

/// `[[DD-]HH:]MM:SS` as ps prints cumulative CPU time (always with hours).
fn cpu_time(ticks: u64) -> String {
    let s = ticks / HZ;
    let (d, h, m, sec) = (s / 86400, (s / 3600) % 24, (s / 60) % 60, s % 60);
    if d > 0 { format!("{d}-{h:02}:{m:02}:{sec:02}") } else { format!("{h:02}:{m:02}:{sec:02}") }
}

/// One `ps -ef` row for `pid`; `None` if it is gone.
pub fn ps_row(pid: u32, users: &[(u32, String)]) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = &stat[open + 1..close];
    let f: Vec<&str> = stat[close + 2..].split(' ').collect();
    let num = |i: usize| -> u64 { f.get(i).and_then(|v| v.parse().ok()).unwrap_or(0) };
    let (ppid, tty, utime, stime, start) = (num(1), num(4), num(11), num(12), num(19));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let user = users.iter().find(|(u, _)| *u == uid).map(|(_, n)| n.clone()).unwrap_or_else(|| uid.to_string());
    let elapsed = uptime().map(|u| u - start as f64 / HZ as f64).unwrap_or(0.0);
    let c = if elapsed > 0.0 { (((utime + stime) as f64 / HZ as f64) / elapsed * 100.0) as u64 } else { 0 };
    let stime_col = boot_time()
        .and_then(|b| chrono::DateTime::from_timestamp(b + (start / HZ) as i64, 0))
        .map(|t| {
            let local = t.with_timezone(&chrono::Local);
            if local.date_naive() == chrono::Local::now().date_naive() {
                local.format("%H:%M").to_string()
            } else {
                local.format("%b%d").to_string()
            }
        })
        .unwrap_or_else(|| "?".into());
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmd = if cmdline.is_empty() {
        format!("[{comm}]")
    } else {
        let parts: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|p| !p.is_empty())
            .map(|p| String::from_utf8_lossy(p).into_owned())
            .collect();
        parts.join(" ")
    };
    Some(vec![
        user,
        pid.to_string(),
        ppid.to_string(),
        c.to_string(),
        stime_col,
        tty_name(tty),
        cpu_time(utime + stime),
        cmd,
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_row() {
        let row = ps_row(std::process::id(), &[(0, "root".into())]).unwrap();
        assert_eq!(row.len(), 8);
        assert_eq!(row[1], std::process::id().to_string());
        assert!(row[6].contains(':'));
        assert_eq!(cpu_time(100 * 3661), "01:01:01");
        assert_eq!(cpu_time(100 * 90061), "1-01:01:01");
        assert_eq!(tty_name(0), "?");
        assert_eq!(tty_name((136 << 8) | 3), "pts/3");
    }
}
