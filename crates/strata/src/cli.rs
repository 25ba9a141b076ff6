//! Command-line definitions (clap derive). Flags, their short forms and their
//! help follow the docker CLI (v28); nothing here does any work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

mod container;
mod registry;
mod volume;

pub use container::*;
pub use registry::*;
pub use volume::*;

const FORMAT_HELP: &str = "Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template";

const INSPECT_FORMAT_HELP: &str = "Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template";

const TEMPLATE_FORMAT_HELP: &str = "Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template";

#[derive(Debug, Parser)]
#[command(
    name = "strata",
    version,
    about = "A Docker-compatible, daemonless container storage engine",
    disable_version_flag = true,
    disable_help_subcommand = true,
    arg_required_else_help = true,
    max_term_width = 100
)]
pub struct Cli {
    /// Root directory of persistent state [default: /var/lib/strata as root, else $XDG_DATA_HOME/strata]
    #[arg(long, env = "STRATA_ROOT", hide_env_values = true, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Directory for run-time state such as mount counts and locks [default: /run/strata as root]
    #[arg(long = "run-root", env = "STRATA_RUN_ROOT", hide_env_values = true, value_name = "DIR")]
    pub run_root: Option<PathBuf>,

    /// Storage driver to use (overlay2, btrfs, vfs) [default: the root's driver, or the best one for a new root]
    #[arg(
        short = 's',
        long = "storage-driver",
        env = "STRATA_STORAGE_DRIVER",
        hide_env_values = true,
        value_name = "DRIVER"
    )]
    pub storage_driver: Option<String>,

    /// Set the logging level
    #[arg(short = 'l', long = "log-level", env = "STRATA_LOG_LEVEL", hide_env_values = true, value_enum, default_value_t = LogLevel::Warn)]
    pub log_level: LogLevel,

    /// Print version information and quit
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    pub version: Option<bool>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogLevel {
    Debug,
    Info,
    Warn,
    Error,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List images
    Images(ImagesArgs),
    /// Manage images
    #[command(subcommand, arg_required_else_help = true)]
    Image(ImageCommand),
    /// Remove one or more images
    Rmi(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Return low-level information on strata objects
    Inspect(InspectArgs),
    /// Display system-wide information
    Info(InfoArgs),
    /// Manage strata
    #[command(subcommand, arg_required_else_help = true)]
    System(SystemCommand),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
    /// Show the strata version information
    Version(VersionArgs),
    /// Create a new container
    Create(Box<CreateArgs>),
    /// List containers
    Ps(PsArgs),
    /// Remove one or more containers
    Rm(RmArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(DiffArgs),
    /// Create a new image from a container's changes
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(CpArgs),
    /// Mount a container's root filesystem on the host and print its path
    Mount(MountArgs),
    /// Unmount a container's root filesystem
    #[command(visible_alias = "umount")]
    Unmount(UnmountArgs),
    /// Manage containers
    #[command(subcommand, arg_required_else_help = true)]
    Container(ContainerCommand),
    /// Manage volumes
    #[command(subcommand, arg_required_else_help = true)]
    Volume(VolumeCommand),
    /// Build an image from a Dockerfile
    Build(BuildArgs),
    /// Create and run a new container from an image
    Run(Box<RunArgs>),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Restart one or more containers
    Restart(RestartArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(WaitArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Authenticate to a registry
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// The per-container monitor (started by strata itself, not by users)
    #[command(name = "__monitor", hide = true)]
    Monitor(MonitorArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// OCI runtime binary to use (default runc)
    #[arg(long, value_name = "PATH", env = "STRATA_RUNTIME")]
    pub runtime: Option<PathBuf>,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Clone, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "int")]
    pub time: Option<u64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, value_name = "string", default_value = "KILL")]
    pub signal: String,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "int")]
    pub time: Option<u64>,
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    #[arg(value_name = "CONTAINER", required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, value_name = "string", default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short = 't', long)]
    pub timestamps: bool,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Clone, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long, value_name = "string")]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long, value_name = "string")]
    pub workdir: Option<String>,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "list")]
    pub env: Vec<String>,
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    #[arg(value_name = "COMMAND", required = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TopArgs {
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

#[derive(Debug, Clone, Args)]
pub struct MonitorArgs {
    pub container: String,
}

#[derive(Debug, Clone, Args)]
pub struct BuildArgs {
    /// Name and optionally a tag in the "name:tag" format
    #[arg(short = 't', long = "tag", value_name = "list")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: "PATH/Dockerfile")
    #[arg(short = 'f', long = "file", value_name = "string")]
    pub file: Option<PathBuf>,
    /// Set build-time variables
    #[arg(long = "build-arg", value_name = "list")]
    pub build_args: Vec<String>,
    /// Do not use cache when building the image
    #[arg(long = "no-cache")]
    pub no_cache: bool,
    /// Suppress the build output and print image ID on success
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Set the target build stage to build
    #[arg(long, value_name = "string")]
    pub target: Option<String>,
    /// The build context: a directory, or - for a tar archive (or a lone Dockerfile) on STDIN
    #[arg(value_name = "PATH|-")]
    pub context: String,
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// List images
    #[command(visible_alias = "list")]
    Ls(ImagesArgs),
    /// Remove one or more images
    #[command(visible_alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag(TagArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Display detailed information on one or more images
    Inspect(ImageInspectArgs),
    /// Remove unused images
    Prune(PruneArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(SaveArgs),
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage
    Df(DfArgs),
    /// Check the store for inconsistencies and optionally repair them
    Check(CheckArgs),
    /// Display system-wide information
    Info(InfoArgs),
}

#[derive(Debug, Clone, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=, reference=, before=, since=, label=)
    #[arg(short = 'f', long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    #[arg(long, value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Only list images matching REPOSITORY[:TAG] (shell-style patterns allowed)
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RmiArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Do not delete untagged parents
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    /// Images to remove: names, tags or (prefixes of) ids
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TagArgs {
    /// The image to tag: a name, tag or id
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name (`latest` when no tag is given)
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    #[arg(long, value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    /// Print sizes and dates in human readable format
    #[arg(
        short = 'H',
        long,
        value_name = "bool",
        default_value_t = true,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set,
    )]
    pub human: bool,
    /// Don't truncate output
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// The image: a name, tag or id
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[arg(short = 'f', long, value_name = "string", help = INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    /// Display total file sizes if the type is container
    #[arg(short = 's', long)]
    pub size: bool,
    /// Only inspect objects of the given type
    #[arg(long = "type", value_name = "string")]
    pub kind: Option<String>,
    /// Objects to inspect: names, tags or ids
    #[arg(value_name = "NAME|ID", required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct ImageInspectArgs {
    #[arg(short = 'f', long, value_name = "string", help = INSPECT_FORMAT_HELP)]
    pub format: Option<String>,
    /// Images to inspect: names, tags or ids
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct InfoArgs {
    #[arg(short = 'f', long, value_name = "string", help = TEMPLATE_FORMAT_HELP)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DfArgs {
    #[arg(long, value_name = "string", help = FORMAT_HELP)]
    pub format: Option<String>,
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// Skip the slow checks (re-hashing every layer's content)
    #[arg(long)]
    pub quick: bool,
    /// Remove what is damaged or orphaned
    #[arg(long)]
    pub repair: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change", value_name = "list")]
    pub changes: Vec<String>,
    /// Set commit message for imported image
    #[arg(short = 'm', long, value_name = "string")]
    pub message: Option<String>,
    /// Suppress the progress output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Tarball to import, or - for STDIN
    #[arg(value_name = "file|-")]
    pub source: String,
    /// Name for the new image
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long, value_name = "string")]
    pub input: Option<PathBuf>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long, value_name = "string")]
    pub output: Option<PathBuf>,
    /// Images to save: names, tags or ids (a repository name saves all its tags)
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
}

#[derive(Debug, Clone, Args)]
pub struct VersionArgs {
    #[arg(short = 'f', long, value_name = "string", help = TEMPLATE_FORMAT_HELP)]
    pub format: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Provide filter values (e.g. "until=<timestamp>")
    #[arg(long = "filter", value_name = "filter", value_parser = parse_filter)]
    pub filter: Vec<(String, String)>,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// `name=value`, as the docker CLI's `FilterOpt` parses it: the name is
/// trimmed and lower-cased, the value trimmed.
pub fn parse_filter(s: &str) -> Result<(String, String), String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err("bad format of filter (expected name=value)".into());
    };
    Ok((name.trim().to_lowercase(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn filters_parse_like_docker() {
        assert_eq!(parse_filter("Dangling = true"), Ok(("dangling".into(), "true".into())));
        assert_eq!(parse_filter("label=a=b"), Ok(("label".into(), "a=b".into())));
        assert!(parse_filter("dangling").is_err());
    }

    #[test]
    fn history_human_takes_an_optional_value() {
        let cli = Cli::try_parse_from(["strata", "history", "--human=false", "x"]).unwrap();
        let Some(Command::History(h)) = cli.command else { panic!() };
        assert!(!h.human);
        let cli = Cli::try_parse_from(["strata", "history", "-H", "x"]).unwrap();
        let Some(Command::History(h)) = cli.command else { panic!() };
        assert!(h.human);
    }
}
