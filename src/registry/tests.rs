//! The client against a real registry (Debian's docker-registry on 127.0.0.1, started per
//! test by `testreg`): pushes made with the client itself are read back by tag and by
//! digest, through an index, with basic and with bearer auth, and across a mount.

use super::manifest::{DOCKER_CONFIG, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, OCI_CONFIG, OCI_INDEX, OCI_LAYER_TAR, OCI_MANIFEST};
use super::testreg::{self, Registry, TokenUsers};
use super::*;
use crate::error::Kind;

fn client() -> Client {
    Client::new(Options { stall_timeout: Duration::from_secs(10), ..Options::default() }).unwrap()
}

fn repo(c: &Client, reg: &Registry, name: &str) -> Repository {
    c.repository(&Reference::parse(&format!("{}/{name}", reg.addr)).unwrap())
}

/// Deterministic incompressible bytes.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn creds(user: &str, pass: &str) -> Credentials {
    Credentials { username: user.into(), password: pass.into(), ..Default::default() }
}

fn push_blob(c: &Client, r: &Repository, cr: Option<&Credentials>, media_type: &str, data: &[u8]) -> Descriptor {
    let digest = sha256_digest(data);
    let mut last = 0;
    c.upload_blob(r, cr, &digest, data.len() as u64, &mut &data[..], &mut |n| last = n).unwrap();
    assert_eq!(last, data.len() as u64, "progress reaches the size");
    Descriptor { media_type: media_type.into(), digest, size: data.len() as u64, platform: None, urls: vec![] }
}

/// Pushes a one-layer image for `arch` and returns (manifest digest, manifest).
fn push_image(c: &Client, r: &Repository, cr: Option<&Credentials>, tag: &str, arch: &str, oci: bool) -> (String, Manifest) {
    let layer = noise(3000, arch.len() as u64);
    let layer = push_blob(c, r, cr, if oci { OCI_LAYER_TAR } else { DOCKER_LAYER_GZIP }, &layer);
    let config = format!(r#"{{"architecture":"{arch}","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}"]}}}}"#, layer.digest);
    let config = push_blob(c, r, cr, if oci { OCI_CONFIG } else { DOCKER_CONFIG }, config.as_bytes());
    let manifest =
        Manifest { schema_version: 2, media_type: (if oci { OCI_MANIFEST } else { DOCKER_MANIFEST }).into(), config, layers: vec![layer] };
    let body = serde_json::to_vec(&manifest).unwrap();
    let digest = c.put_manifest(r, cr, tag, &manifest.media_type, &body).unwrap();
    assert_eq!(digest, sha256_digest(&body));
    (digest, manifest)
}

#[test]
fn push_then_pull_by_tag_and_digest() {
    if !testreg::available("push_then_pull_by_tag_and_digest") {
        return;
    }
    let reg = Registry::start();
    let c = client();
    let r = repo(&c, &reg, "test/app");
    assert_eq!(r.base, reg.url());
    assert_eq!(r.registry, reg.addr);

    let big = noise(3 << 20, 7);
    let layer = push_blob(&c, &r, None, DOCKER_LAYER_GZIP, &big);
    assert_eq!(c.blob_exists(&r, None, &layer.digest).unwrap(), Some(big.len() as u64));
    let absent = sha256_digest(b"not pushed");
    assert_eq!(c.blob_exists(&r, None, &absent).unwrap(), None);
    // A second upload of the same blob is harmless.
    push_blob(&c, &r, None, DOCKER_LAYER_GZIP, &big);

    let (digest, manifest) = push_image(&c, &r, None, "v1", "amd64", false);
    let by_tag = c.resolve(&r, None, "v1", &Platform::host()).unwrap();
    assert_eq!((by_tag.digest.as_str(), by_tag.manifest_digest.as_str()), (digest.as_str(), digest.as_str()));
    assert_eq!(by_tag.manifest, manifest);
    let by_digest = c.resolve(&r, None, &digest, &Platform::host()).unwrap();
    assert_eq!(by_digest.manifest, manifest);

    let config = c.fetch_blob(&r, None, &manifest.config, MAX_CONFIG).unwrap();
    assert!(String::from_utf8(config).unwrap().contains("\"amd64\""));
    let e = c.fetch_blob(&r, None, &manifest.config, 10).unwrap_err();
    assert!(e.message.contains("more than the 10"), "{}", e.message);

    let mut blob = c.open_blob(&r, None, &layer).unwrap();
    let mut got = Vec::new();
    blob.read_to_end(&mut got).unwrap();
    assert!(got == big, "streamed blob differs");
    c.open_blob(&r, None, &layer).unwrap().finish().unwrap();
}

#[test]
fn oci_index_resolves_to_the_platform() {
    if !testreg::available("oci_index_resolves_to_the_platform") {
        return;
    }
    let reg = Registry::start();
    let c = client();
    let r = repo(&c, &reg, "multi");
    let (amd, amd_m) = push_image(&c, &r, None, "amd64-only", "amd64", true);
    let (arm, arm_m) = push_image(&c, &r, None, "arm64-only", "arm64", true);
    let entry = |digest: &str, m: &Manifest, arch: &str, variant: &str| {
        let size = serde_json::to_vec(m).unwrap().len();
        format!(
            r#"{{"mediaType":"{OCI_MANIFEST}","digest":"{digest}","size":{size},"platform":{{"os":"linux","architecture":"{arch}","variant":"{variant}"}}}}"#
        )
    };
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX}","manifests":[{},{}]}}"#,
        entry(&amd, &amd_m, "amd64", ""),
        entry(&arm, &arm_m, "arm64", "v8")
    );
    let index_digest = c.put_manifest(&r, None, "latest", OCI_INDEX, index.as_bytes()).unwrap();

    let got = c.resolve(&r, None, "latest", &Platform::parse("linux/amd64").unwrap()).unwrap();
    assert_eq!((got.digest.as_str(), got.manifest_digest.as_str()), (index_digest.as_str(), amd.as_str()));
    assert_eq!(got.manifest, amd_m);
    let got = c.resolve(&r, None, &index_digest, &Platform::parse("linux/arm64").unwrap()).unwrap();
    assert_eq!((got.digest.as_str(), got.manifest_digest.as_str()), (index_digest.as_str(), arm.as_str()));
    let e = c.resolve(&r, None, "latest", &Platform::parse("linux/s390x").unwrap()).unwrap_err();
    assert_eq!(e.kind, Kind::NotFound);
    assert!(e.message.contains("no matching manifest for linux/s390x") && e.message.contains("linux/arm64/v8"), "{}", e.message);
}

#[test]
fn missing_things_are_not_found_in_dockers_words() {
    if !testreg::available("missing_things_are_not_found_in_dockers_words") {
        return;
    }
    let reg = Registry::start();
    let c = client();
    let r = repo(&c, &reg, "test/missing");
    let e = c.resolve(&r, None, "nope", &Platform::host()).unwrap_err();
    assert_eq!(e.kind, Kind::NotFound);
    assert_eq!(e.message, format!("manifest for {}/test/missing:nope not found: manifest unknown: manifest unknown", reg.addr));
    let d = Descriptor { media_type: OCI_LAYER_TAR.into(), digest: sha256_digest(b"x"), size: 1, platform: None, urls: vec![] };
    let e = c.open_blob(&r, None, &d).err().unwrap();
    assert_eq!(e.kind, Kind::NotFound);
    assert!(e.message.starts_with(&format!("blob {} not found: blob unknown", d.digest)), "{}", e.message);
    let e = c.resolve(&r, None, "../x", &Platform::host()).unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument);
}

#[test]
fn blob_sizes_that_disagree_with_the_registry_fail() {
    if !testreg::available("blob_sizes_that_disagree_with_the_registry_fail") {
        return;
    }
    let reg = Registry::start();
    let c = client();
    let r = repo(&c, &reg, "sizes");
    let data = noise(100_000, 3);
    let d = push_blob(&c, &r, None, OCI_LAYER_TAR, &data);
    let e = c.open_blob(&r, None, &Descriptor { size: 99_999, ..d.clone() }).err().unwrap();
    assert!(e.message.contains("registry sent more than the 99999 bytes the manifest declared"), "{}", e.message);
    let mut blob = c.open_blob(&r, None, &Descriptor { size: 100_001, ..d.clone() }).unwrap();
    let e = blob.read_to_end(&mut Vec::new()).unwrap_err();
    assert!(e.to_string().starts_with(&format!("blob {}:", d.digest)), "{e}");
    // An upload whose source is shorter than announced fails instead of hanging.
    let e = c.upload_blob(&r, None, &d.digest, 100_001, &mut &data[..], &mut |_| {}).unwrap_err();
    assert!(e.message.contains("ended 1 bytes short"), "{}", e.message);
}

#[test]
fn basic_auth_registry() {
    if !testreg::available("basic_auth_registry") {
        return;
    }
    let reg = Registry::start_basic("alice", "s3cret");
    let c = client();
    let r = repo(&c, &reg, "private/app");
    let good = creds("alice", "s3cret");
    let bad = creds("alice", "wrong");

    c.login(&reg.addr, &good).unwrap();
    let e = c.login(&reg.addr, &bad).unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument);
    assert!(e.message.contains("unauthorized"), "{}", e.message);
    assert!(!e.message.contains("wrong"), "no password in errors: {}", e.message);

    let (digest, _) = push_image(&c, &r, Some(&good), "v1", "amd64", false);
    assert_eq!(c.resolve(&r, Some(&good), "v1", &Platform::host()).unwrap().digest, digest);
    let e = c.resolve(&r, None, "v1", &Platform::host()).unwrap_err();
    assert_eq!(e.kind, Kind::NotFound);
    assert!(
        e.message.starts_with(&format!(
            "pull access denied for {}/private/app, repository does not exist or may require 'docker login'",
            reg.addr
        )),
        "{}",
        e.message
    );
    let e = c.resolve(&r, Some(&bad), "v1", &Platform::host()).unwrap_err();
    assert!(e.message.contains("unauthorized"), "{}", e.message);
    let e = c.upload_blob(&r, None, &sha256_digest(b"x"), 1, &mut &b"x"[..], &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "{}", e.message);
}

#[test]
fn bearer_token_registry() {
    if !testreg::available("bearer_token_registry") {
        return;
    }
    let users = TokenUsers { user: "bob".into(), pass: "hunter2".into(), identity_token: "refresh-me".into() };
    let reg = Registry::start_token("berth-test-registry", users);
    let c = client();
    let r = repo(&c, &reg, "team/app");
    let good = creds("bob", "hunter2");

    c.login(&reg.addr, &good).unwrap();
    let e = c.login(&reg.addr, &creds("bob", "nope")).unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (Kind::InvalidArgument, "unauthorized: incorrect username or password"));

    let e = c.upload_blob(&r, None, &sha256_digest(b"x"), 1, &mut &b"x"[..], &mut |_| {}).unwrap_err();
    assert_eq!(e.kind, Kind::InvalidArgument, "anonymous push refused: {}", e.message);
    assert!(e.message.contains("unauthorized") || e.message.contains("denied"), "{}", e.message);

    let (digest, manifest) = push_image(&c, &r, Some(&good), "v1", "amd64", false);
    let before = reg.token_requests();
    for _ in 0..3 {
        let got = c.resolve(&r, Some(&good), "v1", &Platform::host()).unwrap();
        assert_eq!(got.digest, digest);
        c.fetch_blob(&r, Some(&good), &manifest.config, MAX_CONFIG).unwrap();
    }
    assert!(reg.token_requests() - before <= 1, "one pull token, then the cache: {} requests", reg.token_requests() - before);

    // Layer downloads run in worker threads sharing one client and its token cache.
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| c.fetch_blob(&r, Some(&good), &manifest.layers[0], MAX_CONFIG).unwrap());
        }
    });
    assert!(reg.token_requests() - before <= 1, "threads share the cached token");

    let e = c.resolve(&r, None, "v1", &Platform::host()).unwrap_err();
    assert_eq!(e.kind, Kind::NotFound, "{}", e.message);
    assert!(e.message.contains("pull access denied"), "{}", e.message);

    // An identity token from an earlier login is exchanged with the OAuth2 POST.
    let identity = Credentials { username: "bob".into(), identity_token: "refresh-me".into(), ..Default::default() };
    assert_eq!(c.resolve(&r, Some(&identity), "v1", &Platform::host()).unwrap().digest, digest);
    let wrong = Credentials { identity_token: "stale".into(), ..Default::default() };
    let e = c.resolve(&r, Some(&wrong), "v1", &Platform::host()).unwrap_err();
    assert_eq!((e.kind, e.message.as_str()), (Kind::InvalidArgument, "unauthorized: refresh token refused"));
}

#[test]
fn cross_repository_mount() {
    if !testreg::available("cross_repository_mount") {
        return;
    }
    let reg = Registry::start();
    let c = client();
    let from = repo(&c, &reg, "base/os");
    let to = repo(&c, &reg, "apps/web");
    let d = push_blob(&c, &from, None, OCI_LAYER_TAR, &noise(5000, 11));
    assert_eq!(c.blob_exists(&to, None, &d.digest).unwrap(), None);
    assert!(c.mount_blob(&to, None, &d.digest, &from.name).unwrap());
    assert_eq!(c.blob_exists(&to, None, &d.digest).unwrap(), Some(5000));
    // A blob the source does not have: the registry opens an upload instead.
    assert!(!c.mount_blob(&to, None, &sha256_digest(b"elsewhere"), &from.name).unwrap());
    assert!(c.mount_blob(&to, None, &d.digest, "bad name").is_err());
}

#[test]
fn client_and_blobs_cross_threads() {
    fn shared<T: Send + Sync>() {}
    fn sent<T: Send>() {}
    shared::<Client>();
    sent::<Blob>();
}

#[test]
fn repositories_as_docker_addresses_them() {
    let c = Client::new(Options { insecure: vec!["myreg:5000".into()], ..Options::default() }).unwrap();
    let at = |s: &str| {
        let r = c.repository(&Reference::parse(s).unwrap());
        (r.base, r.name, r.registry)
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(at("busybox"), s("https://registry-1.docker.io", "library/busybox", "docker.io"));
    assert_eq!(at("docker.io/user/app:v1"), s("https://registry-1.docker.io", "user/app", "docker.io"));
    assert_eq!(at("index.docker.io/library/alpine"), s("https://registry-1.docker.io", "library/alpine", "docker.io"));
    assert_eq!(at("ghcr.io/org/tool"), s("https://ghcr.io", "org/tool", "ghcr.io"));
    assert_eq!(at("127.0.0.1:5000/a/b"), s("http://127.0.0.1:5000", "a/b", "127.0.0.1:5000"));
    assert_eq!(at("localhost/app"), s("http://localhost", "app", "localhost"));
    assert_eq!(at("localhost:5000/app"), s("http://localhost:5000", "app", "localhost:5000"));
    assert_eq!(at("[::1]:5000/app"), s("http://[::1]:5000", "app", "[::1]:5000"));
    assert_eq!(at("myreg:5000/app"), s("http://myreg:5000", "app", "myreg:5000"));
    assert_eq!(at("myreg:5001/app"), s("https://myreg:5001", "app", "myreg:5001"));
    assert!(Client::new(Options { insecure: vec![" ".into()], ..Options::default() }).is_err());
}
