//! How failures leave the process: Docker's `Error: <message>` on stderr and an
//! exit status (1 for failures, 125 for usage errors, as the docker CLI does).

use strata_store::StoreError;

/// Exit code of the docker CLI for flag and argument errors.
pub const USAGE_EXIT: u8 = 125;

/// A failure whose message was already printed (or that has none): exit with `code`.
#[derive(Debug)]
pub struct Exit(pub u8);

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit status {}", self.0)
    }
}

impl std::error::Error for Exit {}

/// A failure with its own exit status (Docker's `cli.StatusError`).
#[derive(Debug)]
pub struct StatusError {
    pub code: u8,
    pub message: String,
}

impl std::fmt::Display for StatusError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StatusError {}

/// What to print (if anything) and the exit status for an error.
pub fn describe(err: &anyhow::Error) -> (Option<String>, u8) {
    if let Some(Exit(code)) = err.downcast_ref::<Exit>() {
        return (None, *code);
    }
    if let Some(s) = err.downcast_ref::<StatusError>() {
        return (Some(s.message.clone()), s.code);
    }
    // Docker's run codes: 125 engine errors, 126 not executable, 127 not found.
    if let Some(r) = err.downcast_ref::<strata_runtime::RuntimeError>() {
        return (Some(message(err)), r.exit_code().clamp(1, 255) as u8);
    }
    // Writing to a closed pipe (`strata images | head -1`) is not a failure.
    if err
        .chain()
        .any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
    {
        return (None, 0);
    }
    (Some(message(err)), exit_code(err))
}

/// The message of an error chain: contexts joined with `: `, stopping at the
/// first store error (its own message already names its cause).
pub fn message(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in err.chain() {
        parts.push(e.to_string());
        if e.downcast_ref::<StoreError>().is_some() || e.downcast_ref::<std::io::Error>().is_some() {
            break;
        }
    }
    parts.join(": ")
}

/// Exit status of a failed command. The docker CLI exits 1 for every daemon
/// error and strata does the same; error kinds matter to the commands
/// themselves (`rmi -f` forgives NotFound, `inspect` words it "No such object").
pub fn exit_code(_err: &anyhow::Error) -> u8 {
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_context_and_stop_at_store_errors() {
        let e = anyhow::Error::new(StoreError::NoSuchImage("foo".into()));
        assert_eq!(describe(&e), (Some("No such image: foo".into()), 1));
        let e = e.context("removing");
        assert_eq!(message(&e), "removing: No such image: foo");
        let e = anyhow::Error::new(Exit(3));
        assert_eq!(describe(&e), (None, 3));
        let io = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "pipe");
        assert_eq!(describe(&anyhow::Error::new(io)), (None, 0));
    }
}
