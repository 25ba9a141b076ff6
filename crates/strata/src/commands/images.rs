//! `images` / `image ls` / `image list`: docker CLI's `runImages` and its
//! image formatter (`cli/command/formatter/image.go`, v28).
//!
//! One row per repository and tag; an untagged image is one `<none>   <none>`
//! row. `-q` prints each image id once.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::cli::ImagesArgs;
use crate::engine::filters::Filters;
use crate::engine::images::{ImageSummary, list_images};
use crate::output::formatter::{self, Format, RAW, TABLE, context};
use crate::output::{Printer, time, truncate_id, units};
use crate::settings::Settings;

pub const DEFAULT_TABLE: &str =
    "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
pub const DEFAULT_TABLE_DIGEST: &str = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}";
pub const QUIET: &str = "{{.ID}}";

/// How the command was invoked: `images ls` (a likely typo for `image ls`)
/// gets a hint when nothing matches, as in the docker CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalledAs {
    Images,
    ImageLs,
}

pub fn run(s: &Settings, a: &ImagesArgs, p: &mut Printer, called_as: CalledAs) -> anyhow::Result<()> {
    let store = s.open_store()?;
    let mut filters = Filters::new(&a.filter);
    if let Some(name) = &a.name {
        filters.add("reference", name);
    }
    let now = Utc::now();
    let images = list_images(&store, &filters, now)?;
    let format = image_format(a.format.as_deref().unwrap_or(TABLE), a.quiet, a.digests);
    let opts =
        RowOpts { trunc: !a.no_trunc, digests: a.digests, need_digest: a.digests || format.contains("{{.Digest}}") };
    let mut rows = image_rows(&images, &opts, now);
    if a.quiet {
        // One line per image, not per tag.
        let mut seen = std::collections::HashSet::new();
        rows.retain(|r| seen.insert(r["ID"].as_str().unwrap_or_default().to_string()));
    }
    formatter::write(p, &format, &header(), &rows)?;
    if images.is_empty()
        && called_as == CalledAs::Images
        && let Some(name) = &a.name
        && IMAGE_SUBCOMMANDS.contains(&name.as_str())
    {
        p.errln(&format!("No images found matching {name:?}: did you mean \"strata image {name}\"?"))?;
    }
    Ok(())
}

const IMAGE_SUBCOMMANDS: &[&str] =
    &["history", "import", "inspect", "list", "load", "ls", "prune", "rm", "remove", "save", "tag"];

/// `NewImageFormat`: the format for `--format`, `-q` and `--digests`.
pub fn image_format(source: &str, quiet: bool, digest: bool) -> Format {
    match source {
        TABLE if quiet => Format::new(QUIET),
        TABLE if digest => Format::new(DEFAULT_TABLE_DIGEST),
        TABLE => Format::new(DEFAULT_TABLE),
        RAW if quiet => Format::new("image_id: {{.ID}}"),
        RAW if digest => Format::new(
            "repository: {{ .Repository }}\ntag: {{.Tag}}\ndigest: {{.Digest}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n",
        ),
        RAW => Format::new(
            "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n",
        ),
        other => {
            let mut f = Format::new(other);
            if f.is_table() && digest && !f.contains("{{.Digest}}") {
                f.0.push_str("\t{{.Digest}}");
            }
            f
        }
    }
}

/// Column titles of the image context.
pub fn header() -> Value {
    formatter::header(&[
        ("ID", "IMAGE ID"),
        ("Repository", "REPOSITORY"),
        ("Tag", "TAG"),
        ("Digest", "DIGEST"),
        ("CreatedSince", "CREATED"),
        ("CreatedAt", "CREATED AT"),
        ("Size", "SIZE"),
        ("Containers", "CONTAINERS"),
        ("VirtualSize", "SIZE"),
        ("SharedSize", "SHARED SIZE"),
        ("UniqueSize", "UNIQUE SIZE"),
    ])
}

pub struct RowOpts {
    pub trunc: bool,
    /// `--digests`: digest-only references get one row per digest.
    pub digests: bool,
    /// The DIGEST column is shown (`--digests` or `{{.Digest}}` in the format).
    pub need_digest: bool,
}

/// Per-image values beyond the `images` listing (`system df -v` fills them).
#[derive(Debug, Clone, Default)]
pub struct Extra {
    pub containers: Option<u64>,
    pub shared_size: Option<u64>,
}

/// What one row shows of an image.
pub struct Row<'a> {
    pub id: &'a str,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
    pub extra: Extra,
}

/// The docker image context of one row, keys sorted as its JSON shows them.
pub fn row(img: &Row<'_>, repo: &str, tag: &str, digest: &str, trunc: bool, now: DateTime<Utc>) -> Value {
    let Row { id, created, size, extra } = img;
    let (id, size) = (*id, *size);
    // The API reports whole seconds; CREATED is computed from those.
    let created = created.and_then(|c| DateTime::from_timestamp(c.timestamp(), 0)).unwrap_or(DateTime::UNIX_EPOCH);
    let size_s = units::human_size_precision(size as f64, 3);
    let na = || Value::String("N/A".into());
    context(vec![
        ("Containers", extra.containers.map(|c| json!(c.to_string())).unwrap_or_else(na)),
        ("CreatedAt", json!(time::go_string(created))),
        ("CreatedSince", json!(units::since(created, now))),
        ("Digest", json!(digest)),
        ("ID", json!(if trunc { truncate_id(id) } else { id.to_string() })),
        ("Repository", json!(repo)),
        ("SharedSize", extra.shared_size.map(|s| json!(units::human_size(s as f64))).unwrap_or_else(na)),
        ("Size", json!(size_s)),
        ("Tag", json!(tag)),
        (
            "UniqueSize",
            extra.shared_size.map(|s| json!(units::human_size(size.saturating_sub(s) as f64))).unwrap_or_else(na),
        ),
        // Deprecated in Docker, and printed with HumanSize (four digits) unlike Size.
        ("VirtualSize", json!(units::human_size(size as f64))),
    ])
}

/// `imageFormat`: rows for every image, grouped by repository.
pub fn image_rows(images: &[ImageSummary], opts: &RowOpts, now: DateTime<Utc>) -> Vec<Value> {
    let mut rows = Vec::new();
    for img in images {
        let r = Row { id: img.image.id.as_str(), created: img.created, size: img.size, extra: Extra::default() };
        let mk = |repo: &str, tag: &str, digest: &str| row(&r, repo, tag, digest, opts.trunc, now);
        if img.is_dangling() {
            rows.push(mk("<none>", "<none>", "<none>"));
            continue;
        }
        // Repositories in order of first appearance, each with its tags / digests.
        let mut repo_tags: Vec<(String, Vec<String>)> = Vec::new();
        for r in &img.repo_tags {
            let repo = r.familiar_repository();
            let tag = r.tag.clone().unwrap_or_default();
            match repo_tags.iter_mut().find(|(n, _)| *n == repo) {
                Some((_, tags)) => tags.push(tag),
                None => repo_tags.push((repo, vec![tag])),
            }
        }
        let mut repo_digests: Vec<(String, Vec<String>)> = Vec::new();
        for r in &img.repo_digests {
            let repo = r.familiar_repository();
            let d = r.digest.clone().unwrap_or_default();
            match repo_digests.iter_mut().find(|(n, _)| *n == repo) {
                Some((_, ds)) => ds.push(d),
                None => repo_digests.push((repo, vec![d])),
            }
        }
        for (repo, tags) in &repo_tags {
            let mut digests = Vec::new();
            if let Some(i) = repo_digests.iter().position(|(n, _)| n == repo) {
                digests = repo_digests.remove(i).1;
            }
            if !opts.need_digest {
                digests.clear();
            }
            for tag in tags {
                if digests.is_empty() {
                    rows.push(mk(repo, tag, "<none>"));
                }
                for d in &digests {
                    rows.push(mk(repo, tag, d));
                }
            }
        }
        for (repo, digests) in &repo_digests {
            if opts.digests {
                for d in digests {
                    rows.push(mk(repo, "<none>", d));
                }
            } else {
                rows.push(mk(repo, "<none>", ""));
            }
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_follow_new_image_format() {
        assert_eq!(image_format("table", true, false).0, QUIET);
        assert_eq!(image_format("table", false, true).0, DEFAULT_TABLE_DIGEST);
        assert_eq!(image_format("table {{.ID}}", false, true).0, "table {{.ID}}\t{{.Digest}}");
        assert_eq!(image_format("{{.ID}}", true, false).0, "{{.ID}}");
    }

    #[test]
    fn default_table_renders_like_docker() {
        let now = Utc::now();
        let created = Some(now - chrono::Duration::days(2));
        let img = Row {
            id: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            created,
            size: 4_261_550,
            extra: Extra::default(),
        };
        let r = row(&img, "busybox", "latest", "<none>", true, now);
        let text =
            formatter::render(&image_format("table", false, false), &header(), std::slice::from_ref(&r)).unwrap();
        assert_eq!(
            text,
            "REPOSITORY   TAG       IMAGE ID       CREATED      SIZE\n\
             busybox      latest    0123456789ab   2 days ago   4.26MB\n"
        );
        let json = formatter::render(&Format::new("json"), &header(), &[r]).unwrap();
        let keys: Vec<String> =
            serde_json::from_str::<serde_json::Map<String, Value>>(json.trim()).unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "Containers",
                "CreatedAt",
                "CreatedSince",
                "Digest",
                "ID",
                "Repository",
                "SharedSize",
                "Size",
                "Tag",
                "UniqueSize",
                "VirtualSize"
            ]
        );
        assert!(json.contains(r#""Digest":"\u003cnone\u003e""#), "{json}");
    }
}
