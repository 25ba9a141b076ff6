//! `history` / `image history`: the image config's history, newest first, as
//! moby's `ImageHistory` builds it and the docker CLI's history formatter prints it.
//!
//! The top row carries the image id; older entries show `<missing>` (their
//! intermediate images do not exist locally, as for any pulled image). SIZE is
//! the uncompressed size of the layer an entry created, `0B` for entries that
//! created none (`empty_layer`).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use strata_store::{Image, Store};

use crate::cli::HistoryArgs;
use crate::output::formatter::{self, Format, TABLE, context};
use crate::output::{Printer, ellipsis, time, truncate_id, units};
use crate::settings::Settings;

pub const DEFAULT_TABLE: &str = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
pub const NON_HUMAN_TABLE: &str = "table {{.ID}}\t{{.CreatedAt}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";

/// One history entry, as the API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    /// Unix seconds.
    pub created: i64,
    pub created_by: String,
    pub comment: String,
    pub size: u64,
}

pub fn run(s: &Settings, a: &HistoryArgs, p: &mut Printer) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let img = store.image(&a.image)?;
    let items = history_items(&store, &img)?;
    let format = history_format(a.format.as_deref().unwrap_or(TABLE), a.quiet, a.human);
    let rows: Vec<Value> = items.iter().map(|i| row(i, !a.no_trunc, a.human, Utc::now())).collect();
    formatter::write(p, &format, &header(), &rows)
}

/// `newHistoryFormat`.
pub fn history_format(source: &str, quiet: bool, human: bool) -> Format {
    match source {
        TABLE if quiet => Format::new("{{.ID}}"),
        TABLE if !human => Format::new(NON_HUMAN_TABLE),
        TABLE => Format::new(DEFAULT_TABLE),
        other => Format::new(other),
    }
}

pub fn header() -> Value {
    formatter::header(&[
        ("ID", "IMAGE"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("CreatedBy", "CREATED BY"),
        ("Size", "SIZE"),
        ("Comment", "COMMENT"),
    ])
}

/// The image's history entries, newest first, with layer sizes.
pub fn history_items(store: &Store, img: &Image) -> anyhow::Result<Vec<Item>> {
    let chain = match &img.top_layer {
        Some(top) => store.layer_chain(top)?,
        None => Vec::new(),
    };
    let mut layers = chain.iter();
    let mut items = Vec::new();
    for h in &img.config.history {
        let size = if h.empty_layer {
            0
        } else {
            layers.next().ok_or_else(|| anyhow::anyhow!("too many non-empty layers in History section"))?.tar_size
        };
        let created = h.created.as_deref().and_then(time::parse).map(time::unix).unwrap_or(0);
        items.push(Item {
            id: "<missing>".into(),
            created,
            created_by: h.created_by.clone().unwrap_or_default(),
            comment: h.comment.clone().unwrap_or_default(),
            size,
        });
    }
    items.reverse();
    if let Some(first) = items.first_mut() {
        first.id = img.id.to_string();
    }
    Ok(items)
}

/// Created before this, a date is shown as `N/A` (the docker CLI's `epoch`).
const EPOCH_2000: i64 = 946_684_800;

/// The docker CLI's `historyContext` for one entry.
pub fn row(i: &Item, trunc: bool, human: bool, now: DateTime<Utc>) -> Value {
    let created: DateTime<Utc> = Utc.timestamp_opt(i.created, 0).single().unwrap_or(DateTime::UNIX_EPOCH);
    let created_at = time::rfc3339(created);
    let since = if !human {
        created_at.clone()
    } else if i.created <= EPOCH_2000 {
        "N/A".to_string()
    } else {
        units::since(created, now)
    };
    let created_by = i.created_by.replace('\t', " ");
    let created_by = if trunc { ellipsis(&created_by, 45) } else { created_by };
    let size = if human { units::human_size_precision(i.size as f64, 3) } else { i.size.to_string() };
    context(vec![
        ("Comment", json!(i.comment)),
        ("CreatedAt", json!(created_at)),
        ("CreatedBy", json!(created_by)),
        ("CreatedSince", json!(since)),
        ("ID", json!(if trunc { truncate_id(&i.id) } else { i.id.clone() })),
        ("Size", json!(size)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_docker_history_table() {
        let now = Utc::now();
        let items = [
            Item {
                id: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
                created: now.timestamp() - 3 * 86400,
                created_by: "/bin/sh -c #(nop)  CMD [\"sh\"]".into(),
                comment: String::new(),
                size: 0,
            },
            Item {
                id: "<missing>".into(),
                created: now.timestamp() - 3 * 86400,
                created_by: "/bin/sh -c #(nop) ADD file:6b1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d in / ".into(),
                comment: String::new(),
                size: 4_261_550,
            },
        ];
        let rows: Vec<Value> = items.iter().map(|i| row(i, true, true, now)).collect();
        let text = formatter::render(&history_format("table", false, true), &header(), &rows).unwrap();
        assert_eq!(
            text,
            "IMAGE          CREATED      CREATED BY                                      SIZE      COMMENT\n\
             0123456789ab   3 days ago   /bin/sh -c #(nop)  CMD [\"sh\"]                   0B        \n\
             <missing>      3 days ago   /bin/sh -c #(nop) ADD file:6b1a2b3c4d5e6f7a8…   4.26MB    \n"
        );
        let q = formatter::render(&history_format("table", true, true), &header(), &rows).unwrap();
        assert_eq!(q, "0123456789ab\n<missing>\n");
    }

    #[test]
    fn non_human_prints_rfc3339_and_bytes() {
        let i =
            Item { id: "x".into(), created: 1_483_272_003, created_by: "rose".into(), comment: "c".into(), size: 7 };
        let r = row(&i, true, false, Utc::now());
        assert_eq!(r["Size"], "7");
        assert_eq!(r["CreatedSince"], r["CreatedAt"]);
    }
}
