//! `login [-u USER] [-p PASS | --password-stdin] [SERVER]`: check the
//! credentials against the registry, then store them in Docker's
//! config.json (`$DOCKER_CONFIG`, `~/.docker`; mode 0600) or its credential
//! helper, so `docker` and `strata` share logins. Without `-u`/`-p` on a
//! terminal, asks for them (the password without echo).

use std::io::BufRead;
use std::process::{Command, Stdio};

use strata_registry::{Credentials, registry_domain};

use super::pull::{registry_config, registry_error};
use crate::cli::LoginArgs;
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(_s: &Settings, a: &LoginArgs, p: &mut Printer) -> anyhow::Result<()> {
    let registry = registry_domain(a.server.as_deref().unwrap_or(""));
    let config = registry_config(&a.registry);
    if a.password.is_some() {
        p.errln("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")?;
    }
    let (username, password) = if a.password_stdin {
        let Some(user) = &a.username else {
            anyhow::bail!("Must provide --username with --password-stdin");
        };
        let mut input = p.take_input();
        let mut secret = String::new();
        input.read_to_string_lossy(&mut secret)?;
        (user.clone(), secret.trim_end_matches(['\n', '\r']).to_string())
    } else {
        let user = match &a.username {
            Some(u) => u.clone(),
            None => prompt(p, "Username: ", true)?,
        };
        let password = match &a.password {
            Some(pw) => pw.clone(),
            None => prompt(p, "Password: ", false)?,
        };
        (user, password)
    };
    if username.is_empty() {
        anyhow::bail!("Username is required");
    }
    if password.is_empty() {
        anyhow::bail!("Password is required");
    }
    strata_registry::login(&config, &registry, &Credentials::new(username, password)).map_err(registry_error)?;
    p.outln("Login Succeeded")?;
    Ok(())
}

/// Ask on the terminal; the password is read with echo off (`stty -echo`).
fn prompt(p: &mut Printer, label: &str, echo: bool) -> anyhow::Result<String> {
    if !p.stdin_is_terminal() {
        anyhow::bail!("Cannot perform an interactive login from a non TTY device");
    }
    p.out(label)?;
    p.flush()?;
    let stty = |arg: &str| Command::new("stty").arg(arg).stdin(Stdio::inherit()).status();
    if !echo {
        let _ = stty("-echo");
    }
    let mut line = String::new();
    let mut input = p.take_input();
    let read = input.read_line(&mut line);
    if !echo {
        let _ = stty("echo");
        p.outln("")?;
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

trait ReadLossy {
    fn read_to_string_lossy(&mut self, out: &mut String) -> std::io::Result<()>;
}

impl<R: std::io::Read + ?Sized> ReadLossy for R {
    fn read_to_string_lossy(&mut self, out: &mut String) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        self.read_to_end(&mut bytes)?;
        out.push_str(&String::from_utf8_lossy(&bytes));
        Ok(())
    }
}
