//! One file per command. Each `run` takes its parsed arguments, the resolved
//! [`Settings`] and the [`Printer`]; it calls the engine and hands rows to the
//! output layer. Aliases (`image ls` = `images`, `image rm` = `rmi`, ...) share
//! one implementation.

pub mod build;
pub mod commit;
pub mod container_prune;
pub mod cp;
pub mod create;
pub mod df;
pub mod diff;
pub mod export;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod load;
pub mod login;
pub mod logout;
pub mod mount;
pub mod prune;
pub mod ps;
pub mod pull;
pub mod push;
pub mod rename;
pub mod rm;
pub mod rmi;
pub mod rt;
pub mod save;
pub mod system_check;
pub mod tag;
pub mod unmount;
pub mod version;
pub mod volume;
pub mod volume_pull;
pub mod volume_push;

use crate::cli::{Command, ContainerCommand, ImageCommand, SystemCommand, VolumeCommand};
use crate::output::Printer;
use crate::settings::Settings;

pub fn run(command: Command, s: &Settings, p: &mut Printer) -> anyhow::Result<()> {
    match command {
        Command::Images(a) => images::run(s, &a, p, images::CalledAs::Images),
        Command::Image(c) => match c {
            ImageCommand::Ls(a) => images::run(s, &a, p, images::CalledAs::ImageLs),
            ImageCommand::Rm(a) => rmi::run(s, &a, p),
            ImageCommand::Tag(a) => tag::run(s, &a, p),
            ImageCommand::History(a) => history::run(s, &a, p),
            ImageCommand::Inspect(a) => inspect::run_image(s, &a, p),
            ImageCommand::Prune(a) => prune::run(s, &a, p),
            ImageCommand::Import(a) => import::run(s, &a, p),
            ImageCommand::Load(a) => load::run(s, &a, p),
            ImageCommand::Save(a) => save::run(s, &a, p),
        },
        Command::Rmi(a) => rmi::run(s, &a, p),
        Command::Tag(a) => tag::run(s, &a, p),
        Command::History(a) => history::run(s, &a, p),
        Command::Inspect(a) => inspect::run(s, &a, p),
        Command::Info(a) => info::run(s, &a, p),
        Command::System(c) => match c {
            SystemCommand::Df(a) => df::run(s, &a, p),
            SystemCommand::Check(a) => system_check::run(s, &a, p),
            SystemCommand::Info(a) => info::run(s, &a, p),
        },
        Command::Import(a) => import::run(s, &a, p),
        Command::Load(a) => load::run(s, &a, p),
        Command::Save(a) => save::run(s, &a, p),
        Command::Version(a) => version::run(&a, p),
        Command::Create(a) => create::run(s, &a, p),
        Command::Ps(a) => ps::run(s, &a, p),
        Command::Rm(a) => rm::run(s, &a, p),
        Command::Rename(a) => rename::run(s, &a, p),
        Command::Diff(a) => diff::run(s, &a, p),
        Command::Commit(a) => commit::run(s, &a, p),
        Command::Export(a) => export::run(s, &a, p),
        Command::Cp(a) => cp::run(s, &a, p),
        Command::Mount(a) => mount::run(s, &a, p),
        Command::Unmount(a) => unmount::run(s, &a, p),
        Command::Container(c) => match c {
            ContainerCommand::Ls(a) => ps::run(s, &a, p),
            ContainerCommand::Create(a) => create::run(s, &a, p),
            ContainerCommand::Rm(a) => rm::run(s, &a, p),
            ContainerCommand::Inspect(a) => inspect::run_container(s, &a, p),
            ContainerCommand::Rename(a) => rename::run(s, &a, p),
            ContainerCommand::Diff(a) => diff::run(s, &a, p),
            ContainerCommand::Commit(a) => commit::run(s, &a, p),
            ContainerCommand::Export(a) => export::run(s, &a, p),
            ContainerCommand::Cp(a) => cp::run(s, &a, p),
            ContainerCommand::Mount(a) => mount::run(s, &a, p),
            ContainerCommand::Unmount(a) => unmount::run(s, &a, p),
            ContainerCommand::Prune(a) => container_prune::run(s, &a, p),
        },
        Command::Build(a) => build::run(s, &a, p),
        Command::Run(a) => rt::run::run(s, &a, p),
        Command::Start(a) => rt::lifecycle::start(s, &a, p),
        Command::Stop(a) => rt::lifecycle::stop(s, &a, p),
        Command::Kill(a) => rt::lifecycle::kill(s, &a, p),
        Command::Restart(a) => rt::lifecycle::restart(s, &a, p),
        Command::Wait(a) => rt::lifecycle::wait(s, &a, p),
        Command::Logs(a) => rt::logs::run(s, &a, p),
        Command::Exec(a) => rt::exec::run(s, &a, p),
        Command::Top(a) => rt::lifecycle::top(s, &a, p),
        Command::Pull(a) => pull::run(s, &a, p),
        Command::Push(a) => push::run(s, &a, p),
        Command::Login(a) => login::run(s, &a, p),
        Command::Logout(a) => logout::run(s, &a, p),
        Command::Monitor(_) => unreachable!("handled in main before any output"),
        Command::Volume(c) => match c {
            VolumeCommand::Create(a) => volume::create::run(s, &a, p),
            VolumeCommand::Ls(a) => volume::ls::run(s, &a, p),
            VolumeCommand::Inspect(a) => inspect::run_volume(s, &a, p),
            VolumeCommand::Rm(a) => volume::rm::run(s, &a, p),
            VolumeCommand::Prune(a) => volume::prune::run(s, &a, p),
            VolumeCommand::Clone(a) => volume::clone::run(s, &a, p),
            VolumeCommand::Rename(a) => volume::rename::run(s, &a, p),
            VolumeCommand::Update(a) => volume::update::run(s, &a, p),
            VolumeCommand::Export(a) => volume::export::run(s, &a, p),
            VolumeCommand::Import(a) => volume::import::run(s, &a, p),
            VolumeCommand::Push(a) => volume_push::run(s, &a, p),
            VolumeCommand::Pull(a) => volume_pull::run(s, &a, p),
        },
    }
}
