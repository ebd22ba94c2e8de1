//! `ImagePush`: a local image to a registry repository. Every layer goes up as the blob it
//! is kept as (so a pulled image pushes byte for byte what it pulled): skipped when the
//! repository has it (HEAD), mounted when another repository of the same registry is known
//! to hold it, uploaded otherwise; then the config, then a schema2 manifest (OCI, if a
//! layer is not Docker-gzip) under the tag. The manifest's digest is recorded as a
//! RepoDigest.

use super::progress::{short, Progress, Report, Throttle};
use super::{Engine, Job};
use crate::error::{Error, Result};
use crate::util::reference::Reference;
use crate::registry::manifest::{self, Descriptor, Manifest};
use crate::registry::{Credentials, Repository};
use std::time::Duration;

pub struct ImagePush<'a> {
    /// The image, by its local name (repository[:tag]).
    pub name: String,
    /// The tag to push; empty means the name's own tag or "latest".
    pub tag: String,
    pub creds: Option<Credentials>,
    pub progress: &'a dyn Progress,
}

pub struct Pushed {
    pub tag: String,
    pub digest: String,
    pub size: usize,
}

impl Job for ImagePush<'_> {
    type Output = Pushed;
    const NAME: &'static str = "ImagePush";

    fn target(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    fn run(self, e: &Engine) -> Result<Pushed> {
        let mut r = Reference::parse(&self.name)?;
        if !self.tag.is_empty() {
            r.tag = Some(self.tag.clone());
            r.digest = None;
        }
        let r = r.with_default_tag();
        let tag = r.tag.clone().unwrap_or_else(|| "latest".into());
        let local = format!("{}:{tag}", r.repository());
        let image_id = e
            .db
            .lookup_tag(&r.repository(), &tag)?
            .ok_or_else(|| Error::not_found(format!("An image does not exist locally with the tag: {}", r.familiar_repository())))?;
        let row = e.db.image(&image_id)?.ok_or_else(|| super::images::no_such_image(&local))?;
        let layers = e.db.image_layers(&image_id)?;
        let client = e.registry()?;
        let repo = client.repository(&r);
        let creds = self.creds.as_ref();
        let p = self.progress;
        p.report(Report::general(format!("The push refers to repository [{}]", r.familiar_repository())));

        // Newest layer first, as docker lists them.
        let mut descs = Vec::with_capacity(layers.len());
        for l in &layers {
            let digest = l.blob.clone().ok_or_else(|| {
                Error::system(format!("layer {} has no stored blob to push (re-pull or re-import the image)", l.id))
            })?;
            let blob = e.db.blob(&digest)?.ok_or_else(|| Error::system(format!("blob {digest} is missing from the graph database")))?;
            descs.push(Descriptor { media_type: blob.media_type, digest, size: blob.size as u64, platform: None, urls: vec![] });
        }
        for d in descs.iter().rev() {
            p.report(Report::line(&short(&d.digest), "Preparing"));
        }
        for d in descs.iter().rev() {
            push_blob(e, &repo, creds, d, p)?;
        }
        let config = Descriptor {
            media_type: manifest::DOCKER_CONFIG.into(),
            digest: image_id.clone(),
            size: row.config.len() as u64,
            platform: None,
            urls: vec![],
        };
        if client.blob_exists(&repo, creds, &config.digest)?.is_none() {
            client.upload_blob(&repo, creds, &config.digest, config.size, &mut &row.config[..], &mut |_| {})?;
        }
        let oci = descs.iter().any(|d| d.media_type != manifest::DOCKER_LAYER_GZIP);
        let (media_type, config, layers) = if oci {
            let layers = descs
                .into_iter()
                .map(|d| Descriptor { media_type: oci_layer_type(&d.media_type).into(), ..d })
                .collect();
            (manifest::OCI_MANIFEST, Descriptor { media_type: manifest::OCI_CONFIG.into(), ..config }, layers)
        } else {
            (manifest::DOCKER_MANIFEST, config, descs)
        };
        let m = Manifest { schema_version: 2, media_type: media_type.into(), config, layers };
        let body = serde_json::to_vec_pretty(&m).map_err(|e| Error::system(e.to_string()))?;
        let digest = client.put_manifest(&repo, creds, &tag, media_type, &body)?;
        let full = r.repository();
        e.db.insert_image(&row, &[], &[], &[(full.clone(), digest.clone())])?;
        for l in m.layers.iter().chain(std::iter::once(&m.config)) {
            e.db.add_blob_source(&l.digest, &full)?;
        }
        p.report(Report::general(format!("{tag}: digest: {digest} size: {}", body.len())));
        Ok(Pushed { tag, digest, size: body.len() })
    }
}

/// The OCI name of a stored layer's media type.
fn oci_layer_type(docker: &str) -> &str {
    match docker {
        manifest::DOCKER_LAYER_GZIP => manifest::OCI_LAYER_GZIP,
        other => other,
    }
}

fn push_blob(e: &Engine, repo: &Repository, creds: Option<&Credentials>, d: &Descriptor, p: &dyn Progress) -> Result<()> {
    let id = short(&d.digest);
    let client = e.registry()?;
    if client.blob_exists(repo, creds, &d.digest)?.is_some() {
        p.report(Report::line(&id, "Layer already exists"));
        return Ok(());
    }
    // A repository of the same registry that holds the blob can lend it.
    let prefix = format!("{}/", repo.registry);
    for source in e.db.blob_sources(&d.digest)? {
        let Some(from) = source.strip_prefix(&prefix) else { continue };
        if from == repo.name {
            continue;
        }
        if client.mount_blob(repo, creds, &d.digest, from)? {
            p.report(Report::line(&id, format!("Mounted from {from}")));
            return Ok(());
        }
    }
    let mut file = e.blobs.open(&d.digest)?;
    let mut throttle = Throttle::new(Duration::from_millis(100));
    client.upload_blob(repo, creds, &d.digest, d.size, &mut file, &mut |sent| {
        if throttle.due() || sent == d.size {
            p.report(Report::bytes(&id, "Pushing", sent, Some(d.size)));
        }
    })?;
    p.report(Report::line(&id, "Pushed"));
    Ok(())
}
