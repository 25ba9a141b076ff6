//! Images: a config (whose digest is the image ID) over a chain of layers,
//! plus the tags that name it.

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::config::ImageConfig;
use crate::error::{Result, StoreError};
use crate::meta::now_rfc3339;
use crate::reference::Reference;
use crate::types::Digest;

#[derive(Debug, Clone)]
pub struct Image {
    pub id: Digest,
    /// The config's exact bytes; `id` is their sha256.
    pub config_bytes: Vec<u8>,
    pub config: ImageConfig,
    pub top_layer: Option<Digest>,
    /// Fully qualified tags, sorted.
    pub tags: Vec<Reference>,
    /// From the config (`created`), or when it was stored.
    pub created: String,
    pub loaded_at: String,
}

/// What `rmi` did, in Docker's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RmiEvent {
    Untagged(String),
    Deleted(String),
}

impl Store {
    /// Register an image from its config bytes; all its layers must be present.
    /// Existing images are returned unchanged; `tags` move to this image.
    pub fn create_image(&self, config_bytes: &[u8], tags: &[Reference]) -> Result<Image> {
        let config = ImageConfig::parse(config_bytes)?;
        let id = Digest::of_bytes(config_bytes);
        let mut parent: Option<Digest> = None;
        for d in &config.rootfs.diff_ids {
            let diff = Digest::parse(d)?;
            parent = Some(Digest::chain(parent.as_ref(), &diff));
        }
        let created = config.created.clone().unwrap_or_else(now_rfc3339);
        self.db().try_write(|tx| {
            if let Some(top) = &parent {
                let ok: Option<i64> = tx
                    .query_row("SELECT 1 FROM layers WHERE chain_id=?1 AND state='ready'", [top.as_str()], |r| r.get(0))
                    .optional()
                    .map_err(|e| self.db().err(e))?;
                if ok.is_none() {
                    return Err(StoreError::NoSuchLayer(top.to_string()));
                }
            }
            tx.execute(
                "INSERT OR IGNORE INTO images(id, config, top_layer, created, loaded_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![id.as_str(), config_bytes, parent.as_ref().map(Digest::as_str), created, now_rfc3339()],
            )
            .map_err(|e| self.db().err(e))?;
            for t in tags {
                tx.execute(
                    "INSERT INTO tags(name, image_id, tagged_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT(name) DO UPDATE SET image_id=excluded.image_id, tagged_at=excluded.tagged_at",
                    params![t.to_string(), id.as_str(), now_rfc3339()],
                )
                .map_err(|e| self.db().err(e))?;
            }
            Ok(())
        })?;
        self.image_by_id(&id)
    }

    fn image_by_id(&self, id: &Digest) -> Result<Image> {
        let row: Option<(Vec<u8>, Option<String>, String, String)> = self
            .db()
            .conn()
            .query_row("SELECT config, top_layer, created, loaded_at FROM images WHERE id=?1", [id.as_str()], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
            .map_err(|e| self.db().err(e))?;
        let (config_bytes, top, created, loaded_at) = row.ok_or_else(|| StoreError::NoSuchImage(id.to_string()))?;
        let mut stmt = self
            .db()
            .conn()
            .prepare_cached("SELECT name FROM tags WHERE image_id=?1 ORDER BY name")
            .map_err(|e| self.db().err(e))?;
        let names: Vec<String> = stmt
            .query_map([id.as_str()], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.db().err(e))?;
        let tags = names.iter().map(|n| Reference::parse(n)).collect::<Result<Vec<_>>>()?;
        Ok(Image {
            id: id.clone(),
            config: ImageConfig::parse(&config_bytes)?,
            config_bytes,
            top_layer: top.as_deref().map(Digest::parse).transpose()?,
            tags,
            created,
            loaded_at,
        })
    }

    /// Resolve a user's image reference: a tag (`busybox`, `repo:tag`), a full
    /// `sha256:` id, or a unique prefix of an id (Docker's rules).
    pub fn image(&self, name: &str) -> Result<Image> {
        self.find_image(name)?.ok_or_else(|| StoreError::NoSuchImage(name.to_string()))
    }

    pub fn find_image(&self, name: &str) -> Result<Option<Image>> {
        let hex = name.strip_prefix("sha256:").unwrap_or(name);
        let looks_hex =
            !hex.is_empty() && hex.len() <= 64 && hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase());
        if looks_hex && (name.starts_with("sha256:") || hex.len() == 64) {
            if let Some(img) = self.image_by_prefix(hex)? {
                return Ok(Some(img));
            }
            if name.starts_with("sha256:") {
                return Ok(None);
            }
        }
        if let Ok(r) = Reference::parse(name) {
            let id: Option<String> = self
                .db()
                .conn()
                .query_row("SELECT image_id FROM tags WHERE name=?1", [r.to_string()], |row| row.get(0))
                .optional()
                .map_err(|e| self.db().err(e))?;
            if let Some(id) = id {
                return self.image_by_id(&Digest::parse(&id)?).map(Some);
            }
        }
        if looks_hex {
            return self.image_by_prefix(hex);
        }
        Ok(None)
    }

    fn image_by_prefix(&self, hex: &str) -> Result<Option<Image>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare("SELECT id FROM images WHERE id >= ?1 AND id < ?2 LIMIT 2")
            .map_err(|e| self.db().err(e))?;
        let lo = format!("sha256:{hex}");
        let hi = format!("sha256:{hex}\u{10ffff}");
        let ids: Vec<String> =
            stmt.query_map([&lo, &hi], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?;
        match ids.len() {
            0 => Ok(None),
            1 => self.image_by_id(&Digest::parse(&ids[0])?).map(Some),
            _ => Err(StoreError::invalid(hex, "ambiguous image id prefix; give more characters")),
        }
    }

    /// Every image, newest first (as `docker images` orders them).
    pub fn images(&self) -> Result<Vec<Image>> {
        let mut stmt = self
            .db()
            .conn()
            .prepare("SELECT id FROM images ORDER BY created DESC, id")
            .map_err(|e| self.db().err(e))?;
        let ids: Vec<String> =
            stmt.query_map([], |r| r.get(0)).and_then(|r| r.collect()).map_err(|e| self.db().err(e))?;
        ids.iter().map(|id| self.image_by_id(&Digest::parse(id)?)).collect()
    }

    /// `tag SOURCE TARGET`.
    pub fn tag(&self, source: &str, target: &Reference) -> Result<()> {
        let img = self.image(source)?;
        if target.digest.is_some() {
            return Err(StoreError::InvalidReference {
                reference: target.to_string(),
                reason: "refusing to create a tag with a digest reference".into(),
            });
        }
        self.db().write(|tx| {
            tx.execute(
                "INSERT INTO tags(name, image_id, tagged_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET image_id=excluded.image_id, tagged_at=excluded.tagged_at",
                params![target.to_string(), img.id.as_str(), now_rfc3339()],
            )
            .map(|_| ())
        })
    }

    /// Containers that use an image, described for errors
    /// (`stopped container 0123456789ab`).
    pub fn image_users(&self, id: &Digest) -> Result<Vec<String>> {
        let mut users = Vec::new();
        for cid in self.containers_using_image(id)? {
            let c = self.container(&cid)?;
            let state = if c.state.running { "running" } else { "stopped" };
            users.push(format!("{state} container {}", c.short_id()));
        }
        Ok(users)
    }

    /// `rmi [-f] NAME`: Docker's semantics. A tag of an image with other tags is
    /// only untagged; the last tag (or an id) deletes the image and the layers
    /// nothing else uses. An id with several repositories needs `force`.
    pub fn remove_image(&self, name: &str, force: bool) -> Result<Vec<RmiEvent>> {
        let img = self.image(name)?;
        let by_tag = Reference::parse(name).ok().filter(|r| img.tags.iter().any(|t| t == r));
        let mut events = Vec::new();
        if let Some(r) = &by_tag
            && img.tags.len() > 1
        {
            self.db().write(|tx| tx.execute("DELETE FROM tags WHERE name=?1", [r.to_string()]).map(|_| ()))?;
            events.push(RmiEvent::Untagged(r.familiar()));
            return Ok(events);
        }
        let repos: std::collections::BTreeSet<String> = img.tags.iter().map(|t| t.repository()).collect();
        if by_tag.is_none() && repos.len() > 1 && !force {
            return Err(StoreError::ImageMultiplyTagged { image: img.id.short().to_string() });
        }
        let users = self.image_users(&img.id)?;
        if !users.is_empty() && !force {
            return Err(StoreError::ImageInUse { image: name.to_string(), users: users.join(", ") });
        }
        for t in &img.tags {
            events.push(RmiEvent::Untagged(t.familiar()));
        }
        if !users.is_empty() {
            // Forced removal of an image containers use: Docker untags it and keeps it.
            self.db().write(|tx| tx.execute("DELETE FROM tags WHERE image_id=?1", [img.id.as_str()]).map(|_| ()))?;
            return Ok(events);
        }
        self.db().write(|tx| {
            tx.execute("DELETE FROM tags WHERE image_id=?1", [img.id.as_str()])?;
            tx.execute("DELETE FROM images WHERE id=?1", [img.id.as_str()]).map(|_| ())
        })?;
        events.push(RmiEvent::Deleted(img.id.to_string()));
        if let Some(top) = &img.top_layer {
            for l in self.release_layer(top)? {
                events.push(RmiEvent::Deleted(l.to_string()));
            }
        }
        Ok(events)
    }

    /// Sum of the layer tar sizes of an image (Docker's `Size`).
    pub fn image_size(&self, img: &Image) -> Result<u64> {
        match &img.top_layer {
            None => Ok(0),
            Some(top) => Ok(self.layer_chain(top)?.iter().map(|l| l.tar_size).sum()),
        }
    }
}
