//! One file per command. Each `run` takes its parsed arguments, the resolved
//! [`Settings`] and the [`Printer`]; it calls the engine and hands rows to the
//! output layer. Aliases (`image ls` = `images`, `image rm` = `rmi`, ...) share
//! one implementation.

pub mod df;
pub mod history;
pub mod images;
pub mod import;
pub mod info;
pub mod inspect;
pub mod load;
pub mod prune;
pub mod rmi;
pub mod save;
pub mod system_check;
pub mod tag;
pub mod version;

use crate::cli::{Command, ImageCommand, SystemCommand};
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
    }
}
