//! Progress bars for `load`, `save` and `import`, drawn with indicatif on stderr
//! in Docker's style (`a1b2c3d4e5f6: Loading layer [=====>     ] 1.2MB/4.3MB`).
//! They are drawn only when stdout is a terminal and `-q` is not given; in all
//! other cases the engine reports to [`NoProgress`].

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use strata_store::progress::{NoProgress, Progress};

use super::printer::Printer;

/// One bar per unit of work, one unit at a time.
pub struct Bars {
    action: &'static str,
    current: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(action: &'static str) -> Bars {
        Bars { action, current: Mutex::new(None) }
    }

    fn finish_current(slot: &mut Option<ProgressBar>) {
        if let Some(bar) = slot.take() {
            bar.finish();
        }
    }
}

impl Progress for Bars {
    fn begin(&self, label: &str, total: Option<u64>) {
        let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
        Self::finish_current(&mut slot);
        let target = ProgressDrawTarget::stderr();
        let bar = match total {
            Some(n) => {
                let style = ProgressStyle::with_template("{prefix}: {msg} [{bar:50}] {bytes}/{total_bytes}")
                    .expect("valid template")
                    .progress_chars("=> ");
                ProgressBar::with_draw_target(Some(n), target).with_style(style)
            }
            None => {
                let style = ProgressStyle::with_template("{prefix}: {msg} {spinner} {bytes}").expect("valid template");
                ProgressBar::with_draw_target(None, target).with_style(style)
            }
        };
        bar.set_prefix(label.to_string());
        bar.set_message(self.action);
        *slot = Some(bar);
    }

    fn advance(&self, bytes: u64) {
        if let Some(bar) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            bar.inc(bytes);
        }
    }

    fn end(&self) {
        let mut slot = self.current.lock().unwrap_or_else(|e| e.into_inner());
        Self::finish_current(&mut slot);
    }
}

impl Drop for Bars {
    fn drop(&mut self) {
        let slot = self.current.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(bar) = slot.take() {
            bar.abandon();
        }
    }
}

/// Bars when stdout is a terminal and not `quiet`, nothing otherwise.
pub fn for_terminal(p: &Printer, quiet: bool, action: &'static str) -> Box<dyn Progress> {
    if p.stdout_is_terminal() && !quiet { Box::new(Bars::new(action)) } else { Box::new(NoProgress) }
}
