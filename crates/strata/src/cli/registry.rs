//! Registry commands: `pull`, `push`, `login`, `logout`, and `volume push` /
//! `volume pull` (strata's: a volume as an OCI artifact).

use std::path::PathBuf;

use clap::Args;

/// How to reach registries (Docker keeps these in daemon.json; strata takes
/// them per command, or from the environment).
#[derive(Debug, Clone, Args)]
pub struct RegistryArgs {
    /// Registry reached over plain HTTP or unverified TLS, besides localhost and 127.0.0.0/8 (host[:port] or CIDR)
    #[arg(
        long = "insecure-registry",
        value_name = "HOST",
        env = "STRATA_INSECURE_REGISTRIES",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub insecure_registries: Vec<String>,
    /// CA certificate (PEM) to trust for registry TLS, besides the system's and certs.d/<host>/*.crt
    #[arg(
        long = "tls-ca",
        value_name = "FILE",
        env = "STRATA_REGISTRY_CA",
        value_delimiter = ':',
        hide_env_values = true
    )]
    pub tls_ca: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct PullArgs {
    /// Set platform if server is multi-platform capable
    #[arg(long, value_name = "string", env = "DOCKER_DEFAULT_PLATFORM", hide_env_values = true)]
    pub platform: Option<String>,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub image: String,
}

#[derive(Debug, Clone, Args)]
pub struct PushArgs {
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    #[arg(value_name = "NAME[:TAG]")]
    pub image: String,
}

#[derive(Debug, Clone, Args)]
pub struct LoginArgs {
    /// Username
    #[arg(short = 'u', long, value_name = "string")]
    pub username: Option<String>,
    /// Password or Personal Access Token (PAT)
    #[arg(short = 'p', long, value_name = "string")]
    pub password: Option<String>,
    /// Take the Password or Personal Access Token (PAT) from stdin
    #[arg(long = "password-stdin", conflicts_with = "password")]
    pub password_stdin: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LogoutArgs {
    /// The registry (Docker Hub when omitted)
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VolumePushArgs {
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The volume to push
    #[arg(value_name = "VOLUME")]
    pub volume: String,
    /// Where to push it
    #[arg(value_name = "NAME[:TAG]")]
    pub reference: String,
}

#[derive(Debug, Clone, Args)]
pub struct VolumePullArgs {
    /// Empty the volume first if it exists and is not empty
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub registry: RegistryArgs,
    /// The volume artifact to pull
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub reference: String,
    /// The volume to create or fill [default: the name it was pushed with]
    #[arg(value_name = "VOLUME")]
    pub volume: Option<String>,
}
