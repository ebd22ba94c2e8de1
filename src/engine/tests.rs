//! Engine jobs against a real GraphDB and the vfs driver in a temp dir: import, tags and
//! removal of images, container names, removal, and start-up garbage collection. Starting
//! containers is covered by the exec driver's tests and the integration tests.

use super::container::ContainerSpec;
use super::create::ContainerCreate;
use super::images::{ImageList, ImageRemove, ImageTag, Removed};
use super::import::ImageImport;
use super::remove::ContainerRemove;
use super::testing::engine;
use crate::error::Kind;
use crate::testutil::TempDir;

fn rootfs_tar(marker: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    b.append_data(&mut h, "etc/", std::io::empty()).unwrap();
    let body = marker.as_bytes();
    let mut h = tar::Header::new_gnu();
    h.set_mode(0o644);
    h.set_size(body.len() as u64);
    b.append_data(&mut h, "etc/marker", body).unwrap();
    b.into_inner().unwrap()
}

fn import(e: &super::Engine, tar: Vec<u8>, repo: &str) -> String {
    e.run(ImageImport {
        source: Box::new(std::io::Cursor::new(tar)),
        repo: Some(repo.to_string()),
        tag: None,
        message: String::new(),
        changes: vec!["CMD [\"sh\"]".into()],
    })
    .unwrap()
}

fn create(e: &super::Engine, name: Option<&str>) -> crate::error::Result<String> {
    e.run(ContainerCreate {
        name: name.map(str::to_string),
        spec: ContainerSpec { image: "img:1".into(), ..ContainerSpec::default() },
    })
    .map(|c| c.id)
}

#[test]
fn import_tag_and_remove_images() {
    if !crate::testutil::is_root("import_tag_and_remove_images") {
        return;
    }
    let t = TempDir::new("engine-images");
    let e = engine(&t);
    let id = import(&e, rootfs_tar("one"), "img:1");
    assert!(id.starts_with("sha256:"));
    // The layer is on disk under its diff ID, the image reads back its config.
    let (rid, cfg) = e.resolve_image("img:1").unwrap();
    assert_eq!(rid, id);
    assert_eq!(cfg.config.cmd, Some(vec!["sh".to_string()]));
    let layer = cfg.rootfs.diff_ids[0].trim_start_matches("sha256:").to_string();
    assert!(e.storage.layer_exists(&layer));
    // A second tag only untags on removal; the last one deletes image and layer.
    e.run(ImageTag { source: "img:1".into(), repo: "other".into(), tag: "2".into() }).unwrap();
    let out = e.run(ImageRemove { name: "other:2".into(), force: false }).unwrap();
    assert_eq!(out, vec![Removed::Untagged("other:2".into())]);
    let out = e.run(ImageRemove { name: "img:1".into(), force: false }).unwrap();
    assert_eq!(out.len(), 3, "{out:?}");
    assert!(!e.storage.layer_exists(&layer));
    assert!(e.run(ImageList { dangling: None, references: vec![] }).unwrap().is_empty());
    // The same tarball imported twice gives one layer.
    let a = import(&e, rootfs_tar("same"), "a:1");
    let b = import(&e, rootfs_tar("same"), "b:1");
    assert_eq!(e.db.all_layer_ids().unwrap().len(), 1);
    let _ = (a, b);
}

#[test]
fn bad_imports_leave_nothing() {
    if !crate::testutil::is_root("bad_imports_leave_nothing") {
        return;
    }
    let t = TempDir::new("engine-bad-import");
    let e = engine(&t);
    let err = e
        .run(ImageImport {
            source: Box::new(std::io::Cursor::new(b"{\"not\": \"a tar\"}".repeat(100))),
            repo: Some("junk:1".into()),
            tag: None,
            message: String::new(),
            changes: vec![],
        })
        .unwrap_err();
    assert_eq!(err.kind, Kind::InvalidArgument, "{}", err.message);
    assert!(e.db.all_layer_ids().unwrap().is_empty());
    assert!(e.storage.layers().unwrap().is_empty());
    // A bad change is refused before the body is read.
    let err = e
        .run(ImageImport {
            source: Box::new(std::io::Cursor::new(rootfs_tar("x"))),
            repo: None,
            tag: None,
            message: String::new(),
            changes: vec!["FROM scratch".into()],
        })
        .unwrap_err();
    assert_eq!(err.kind, Kind::InvalidArgument);
    let err = e
        .run(ImageImport {
            source: Box::new(std::io::Cursor::new(rootfs_tar("x"))),
            repo: Some("Bad/Name".into()),
            tag: None,
            message: String::new(),
            changes: vec![],
        })
        .unwrap_err();
    assert_eq!(err.kind, Kind::InvalidArgument);
}

#[test]
fn container_names_removal_and_image_in_use() {
    if !crate::testutil::is_root("container_names_removal_and_image_in_use") {
        return;
    }
    let t = TempDir::new("engine-containers");
    let e = engine(&t);
    import(&e, rootfs_tar("c"), "img:1");
    let id = create(&e, Some("web")).unwrap();
    assert_eq!(e.lookup("web").unwrap().id, id);
    assert_eq!(e.lookup(&id[..12]).unwrap().id, id);
    assert_eq!(e.lookup("/web").unwrap().id, id);
    let err = create(&e, Some("web")).unwrap_err();
    assert_eq!(err.kind, Kind::Conflict);
    assert_eq!(create(&e, Some("x")).unwrap_err().kind, Kind::InvalidArgument);
    // A generated name, and a missing image.
    let other = create(&e, None).unwrap();
    assert!(e.lookup(&other).unwrap().snapshot().name.contains('_'));
    let err = e
        .run(ContainerCreate { name: None, spec: ContainerSpec { image: "nope:2".into(), ..ContainerSpec::default() } })
        .map(|c| c.id)
        .unwrap_err();
    assert_eq!((err.kind, err.message.as_str()), (Kind::NotFound, "No such image: nope:2"));
}

#[test]
fn start_up_collects_what_the_database_does_not_know() {
    if !crate::testutil::is_root("start_up_collects_what_the_database_does_not_know") {
        return;
    }
    let t = TempDir::new("engine-gc");
    let (id, layer) = {
        let e = engine(&t);
        import(&e, rootfs_tar("gc"), "img:1");
        let id = create(&e, Some("keep")).unwrap();
        // Leftovers of a daemon that died mid-way: a layer dir and a container layer and
        // dir without rows.
        let staging = e.storage.begin_layer(None).unwrap();
        std::fs::write(staging.dir.join("f"), "x").unwrap();
        e.storage.commit_layer(staging, &"d".repeat(64), None).unwrap();
        e.storage.create_rw(&"e".repeat(64), &[]).unwrap();
        std::fs::create_dir_all(e.container_dir(&"e".repeat(64))).unwrap();
        (id, "d".repeat(64))
    };
    let e = engine(&t);
    e.restore().unwrap();
    assert!(!e.storage.layer_exists(&layer));
    assert_eq!(e.storage.rw_layers().unwrap(), vec![id.clone()]);
    assert!(!e.container_dir(&"e".repeat(64)).exists());
    assert_eq!(e.lookup("keep").unwrap().id, id);
    e.run(ContainerRemove { id: "keep".into(), force: false }).unwrap();
    assert!(e.lookup("keep").is_err());
    assert!(!e.container_dir(&id).exists());
    assert!(e.storage.rw_layers().unwrap().is_empty());
}
