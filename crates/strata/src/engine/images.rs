//! `images` selection: the daemon side of `docker images` (moby's
//! `ImageService.Images`): filters, dangling rules, sizes, newest first.

use chrono::{DateTime, Utc};
use strata_store::{Image, Reference, Store};

use super::filters::Filters;
use super::glob;
use crate::output::time;

/// Filter names `images` accepts.
pub const ACCEPTED_FILTERS: &[&str] = &["dangling", "label", "before", "since", "reference", "until"];

/// One image as `images` lists it.
#[derive(Debug, Clone)]
pub struct ImageSummary {
    pub image: Image,
    /// Tagged references (after the `reference=` filter).
    pub repo_tags: Vec<Reference>,
    /// Digested references.
    pub repo_digests: Vec<Reference>,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
}

impl ImageSummary {
    pub fn is_dangling(&self) -> bool {
        self.repo_tags.is_empty() && self.repo_digests.is_empty()
    }
}

/// When an image was created, from its config (or when it was stored).
pub fn created(img: &Image) -> Option<DateTime<Utc>> {
    time::parse(&img.created)
}

/// `reference.FamiliarMatch`: the pattern against `name:tag`, then against `name`.
pub fn familiar_match(pattern: &str, r: &Reference) -> anyhow::Result<bool> {
    if glob::matches(pattern, &r.familiar())? {
        return Ok(true);
    }
    Ok(glob::matches(pattern, &r.familiar_repository()).unwrap_or(false))
}

/// The images `images` shows for `filters`, newest first.
pub fn list_images(store: &Store, filters: &Filters, now: DateTime<Utc>) -> anyhow::Result<Vec<ImageSummary>> {
    filters.validate(ACCEPTED_FILTERS)?;
    let mut dangling_only = false;
    if filters.contains("dangling") {
        if filters.exact_match("dangling", "true") {
            dangling_only = true;
        } else if !filters.exact_match("dangling", "false") {
            anyhow::bail!("invalid filter 'dangling=[{}]'", filters.get("dangling").join(" "));
        }
    }
    // Several before= values resolve to the oldest image, since= to the newest.
    let mut before: Option<DateTime<Utc>> = None;
    for v in filters.get("before") {
        let t = created(&store.image(v)?).unwrap_or(DateTime::UNIX_EPOCH);
        before = Some(before.map_or(t, |b| b.min(t)));
    }
    let mut since: Option<DateTime<Utc>> = None;
    for v in filters.get("since") {
        let t = created(&store.image(v)?).unwrap_or(DateTime::UNIX_EPOCH);
        since = Some(since.map_or(t, |s| s.max(t)));
    }
    let mut until: Option<DateTime<Utc>> = None;
    for v in filters.get("until") {
        let t = super::filters::parse_timestamp(v, now)?;
        until = Some(until.map_or(t, |u| u.min(t)));
    }
    let patterns = filters.get("reference");

    let mut out = Vec::new();
    for img in store.images()? {
        let created = created(&img);
        let c = created.unwrap_or(DateTime::UNIX_EPOCH);
        if before.is_some_and(|b| c >= b) || since.is_some_and(|s| c <= s) || until.is_some_and(|u| c > u) {
            continue;
        }
        if filters.contains("label")
            && !filters.match_kv_list("label", &img.config.config.labels.clone().unwrap_or_default())
        {
            continue;
        }
        let mut repo_tags = Vec::new();
        let mut repo_digests = Vec::new();
        for r in &img.tags {
            if !patterns.is_empty() {
                let mut found = false;
                for p in &patterns {
                    if familiar_match(p, r)? {
                        found = true;
                        break;
                    }
                }
                if !found {
                    continue;
                }
            }
            if r.tag.is_some() {
                repo_tags.push(r.clone());
            } else if r.digest.is_some() {
                repo_digests.push(r.clone());
            }
        }
        if repo_tags.is_empty() && repo_digests.is_empty() {
            // dangling=false hides untagged images; a reference filter never shows them.
            if (filters.contains("dangling") && !dangling_only) || !patterns.is_empty() {
                continue;
            }
        } else if dangling_only {
            continue;
        }
        let size = store.image_size(&img)?;
        out.push(ImageSummary { image: img, repo_tags, repo_digests, created, size });
    }
    // Newest first (stable, so equal times keep the store's order).
    out.sort_by_key(|s| std::cmp::Reverse(s.created));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_match_tries_name_and_tag() {
        let r = Reference::parse("busybox:latest").unwrap();
        assert!(familiar_match("busybox", &r).unwrap());
        assert!(familiar_match("busy*", &r).unwrap());
        assert!(familiar_match("busybox:lat*", &r).unwrap());
        assert!(!familiar_match("alpine", &r).unwrap());
        let r = Reference::parse("localhost:5000/a/b:1").unwrap();
        assert!(familiar_match("localhost:5000/a/*", &r).unwrap());
        assert!(!familiar_match("*", &r).unwrap());
    }
}
