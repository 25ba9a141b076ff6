//! `volume` commands: Docker's (`create`, `ls`, `inspect`, `rm`, `prune`)
//! and strata's (`clone`, `rename`, `update`).

use clap::{Args, Subcommand};

use super::{FORMAT_HELP, INSPECT_FORMAT_HELP, parse_filter};

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes
    Prune(VolumePruneArgs),
    /// Create a volume with the labels, options and data of another
    Clone(VolumeCloneArgs),
    /// Rename an unused volume
    Rename(VolumeRenameArgs),
    /// Add or remove labels of a volume
    Update(VolumeUpdateArgs),
    /// Write a volume's data as a tar archive (backup), with its labels and options
    Export(VolumeExportArgs),
    /// Restore a volume from a tar archive (strata's export, Podman's, or a plain tar)
    Import(VolumeImportArgs),
    /// Push a volume to a registry as an OCI artifact
    Push(super::VolumePushArgs),
    /// Pull a volume artifact from a registry into a volume
    Pull(super::VolumePullArgs),
}

#[derive(Debug, Clone, Args)]
pub struct VolumeExportArgs {
    /// Write to a file instead of STDOUT (.tar.gz/.tgz and .tar.zst pick the compression)
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<std::path::PathBuf>,
    /// Compression: none, gzip or zstd (default: from the file name, else none)
    #[arg(long, value_name = "string", value_parser = ["none", "gzip", "zstd"])]
    pub compress: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub volume: String,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeImportArgs {
    /// Empty an existing, non-empty volume first
    #[arg(long)]
    pub replace: bool,
    /// Suppress the progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    #[arg(value_name = "VOLUME")]
    pub volume: String,
    /// The archive, or - for STDIN (gzip and zstd are detected)
    #[arg(value_name = "FILE|-")]
    pub input: String,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeCreateArgs {
    /// Specify volume driver name
    #[arg(short = 'd', long, value_name = "string", default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume
    #[arg(long = "label", value_name = "list")]
    pub labels: Vec<String>,
    /// Set driver specific options
    #[arg(short = 'o', long = "opt", value_name = "map")]
    pub opts: Vec<String>,
    /// Specify volume name
    #[arg(long = "name", hide = true, value_name = "string")]
    pub name_flag: Option<String>,
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeLsArgs {
    /// Provide filter values (e.g. "dangling=true")
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    #[arg(long, value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display the size of each volume's data
    #[arg(long)]
    pub size: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeInspectArgs {
    #[arg(short = 'f', long, value_name = "string", help = INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub volumes: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "label=<label>")
    #[arg(long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// List what would be removed, remove nothing
    #[arg(long = "dry-run")]
    pub dry_run: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeCloneArgs {
    #[arg(value_name = "SOURCE")]
    pub source: String,
    #[arg(value_name = "TARGET")]
    pub target: String,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeRenameArgs {
    #[arg(value_name = "VOLUME")]
    pub volume: String,
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

#[derive(Debug, Clone, Args)]
pub struct VolumeUpdateArgs {
    /// Add or change a label (KEY=VALUE)
    #[arg(long = "label-add", value_name = "list")]
    pub label_add: Vec<String>,
    /// Remove a label (KEY)
    #[arg(long = "label-rm", value_name = "list")]
    pub label_rm: Vec<String>,
    #[arg(value_name = "VOLUME")]
    pub volume: String,
}
