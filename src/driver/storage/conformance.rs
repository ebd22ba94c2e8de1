//! The storage driver conformance suite: one set of cases written against
//! `&dyn StorageDriver`, run against every driver (moby's graphtest, in small). A
//! container's view is checked the way the monitor builds it: the test performs the
//! driver's `RootfsMount` itself (in the host namespace, undone by a Drop guard), so the
//! cases need root and skip otherwise. Nothing here is compiled outside tests.

use super::{overlay, vfs, StorageDriver};
use crate::error::Kind;
use crate::graph::layer::apply;
use crate::monitor::proto::RootfsMount;
use crate::testutil::{is_root, TempDir};
use crate::util::id::random_id;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Runs `case` against each driver in its own data root.
fn each_driver(test: &str, case: fn(&dyn StorageDriver)) {
    if !is_root(test) {
        return;
    }
    let t = TempDir::new(&format!("conf-{test}"));
    let v = vfs::Vfs::new(t.path()).unwrap();
    case(&v);
    if overlay::supported(t.path()) {
        let o = overlay::Overlay::new(t.path()).unwrap();
        case(&o);
    } else {
        eprintln!("skipped {test} for overlay: overlay mounts do not work here");
    }
}

enum E<'a> {
    Dir(&'a str),
    File(&'a str, &'a str),
    Mode(&'a str, &'a str, u32),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

fn tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mtime(1_500_000_000);
        h.set_mode(0o755);
        h.set_size(0);
        let (name, data) = match *e {
            E::Dir(n) => {
                h.set_entry_type(tar::EntryType::Directory);
                (n, "")
            }
            E::File(n, d) => (n, d),
            E::Mode(n, d, m) => {
                h.set_mode(m);
                (n, d)
            }
            E::Symlink(n, t) | E::Hardlink(n, t) => {
                let kind = if matches!(e, E::Symlink(..)) {
                    tar::EntryType::Symlink
                } else {
                    tar::EntryType::Link
                };
                h.set_entry_type(kind);
                h.set_link_name(t).unwrap();
                (n, "")
            }
            E::Fifo(n) => {
                h.set_entry_type(tar::EntryType::Fifo);
                (n, "")
            }
        };
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

fn add_layer(d: &dyn StorageDriver, id: &str, parent: Option<&str>, entries: &[E]) -> bool {
    let s = d.begin_layer(parent).unwrap();
    apply(&mut &tar(entries)[..], &s.dir, d.whiteout_mode()).unwrap();
    d.commit_layer(s, id, parent).unwrap()
}

/// The container's root, mounted as the monitor would mount it; unmounted on drop.
struct View {
    target: PathBuf,
}

impl View {
    fn mount(d: &dyn StorageDriver, ctr: &str, layers: &[String]) -> View {
        let m: RootfsMount = d.rootfs_mount(ctr, layers).unwrap();
        match m.fstype.as_str() {
            "bind" => {
                mount(Some(&m.source), &m.target, None::<&str>, MsFlags::MS_BIND, None::<&str>)
                    .unwrap()
            }
            "overlay" => {
                // The monitor chdirs into data_dir; threads share the cwd, so the test
                // spells the same paths out instead.
                let base = m.data_dir.clone().expect("overlay mounts are relative to data_dir");
                let data = absolute(&m.data, &base);
                assert!(m.data.len() < 4096);
                mount(
                    Some("overlay"),
                    &m.target,
                    Some("overlay"),
                    MsFlags::empty(),
                    Some(data.as_str()),
                )
                .unwrap();
            }
            other => panic!("unknown rootfs type {other}"),
        }
        View { target: m.target }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.target.join(rel)
    }

    /// Every path in the view with a short description ("dir", file content, "-> target").
    fn listing(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![self.target.clone()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                let rel = p.strip_prefix(&self.target).unwrap().to_string_lossy().into_owned();
                let m = fs::symlink_metadata(&p).unwrap();
                let what = if m.is_symlink() {
                    format!("-> {}", fs::read_link(&p).unwrap().display())
                } else if m.is_dir() {
                    stack.push(p);
                    "dir".to_string()
                } else if m.file_type().is_fifo() {
                    "fifo".to_string()
                } else {
                    fs::read_to_string(&p).unwrap()
                };
                out.insert(rel, what);
            }
        }
        out
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = umount2(&self.target, MntFlags::MNT_DETACH);
    }
}

fn absolute(data: &str, base: &Path) -> String {
    data.split(',')
        .map(|opt| match opt.split_once('=') {
            Some((k @ ("lowerdir" | "upperdir" | "workdir"), v)) => {
                let dirs: Vec<String> =
                    v.split(':').map(|d| base.join(d).display().to_string()).collect();
                format!("{k}={}", dirs.join(":"))
            }
            _ => opt.to_string(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

fn expect(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn staging_is_empty(d: &dyn StorageDriver) -> bool {
    fs::read_dir(d.home().join("staging")).map(|mut e| e.next().is_none()).unwrap_or(true)
}

fn stack_two_layers(d: &dyn StorageDriver) -> (String, String) {
    let (l1, l2) = (random_id(), random_id());
    assert!(add_layer(
        d,
        &l1,
        None,
        &[
            E::File("a", "a1"),
            E::File("b", "b1"),
            E::Dir("d"),
            E::File("d/x", "x1"),
            E::File("d/y", "y1"),
            E::Dir("o"),
            E::File("o/old", "old"),
            E::File("o/sub/old", "old"),
            E::Mode("bin/su", "su", 0o4755),
            E::Hardlink("bin/su2", "bin/su"),
            E::Symlink("bin/sh", "/bin/su"),
            E::Fifo("run/fifo"),
        ],
    ));
    assert!(add_layer(
        d,
        &l2,
        Some(&l1),
        &[
            E::File(".wh.a", ""),
            E::File("d/.wh.x", ""),
            E::File("d/z", "z2"),
            E::File("o/.wh..wh..opq", ""),
            E::File("o/new", "new"),
            E::File("b", "b2"),
        ],
    ));
    (l1, l2)
}

fn case_layers_stack_into_the_expected_view(d: &dyn StorageDriver) {
    let (l1, l2) = stack_two_layers(d);
    let ctr = random_id();
    let image = vec![l1.clone(), l2.clone()];
    d.create_rw(&ctr, &image).unwrap();
    let v = View::mount(d, &ctr, &image);
    let want = expect(&[
        ("b", "b2"),
        ("bin", "dir"),
        ("bin/sh", "-> /bin/su"),
        ("bin/su", "su"),
        ("bin/su2", "su"),
        ("d", "dir"),
        ("d/y", "y1"),
        ("d/z", "z2"),
        ("o", "dir"),
        ("o/new", "new"),
        ("run", "dir"),
        ("run/fifo", "fifo"),
    ]);
    assert_eq!(v.listing(), want, "{}", d.name());
    let su = fs::metadata(v.p("bin/su")).unwrap();
    assert_eq!(su.permissions().mode() & 0o7777, 0o4755, "{}", d.name());
    assert_eq!(su.mtime(), 1_500_000_000, "{}", d.name());
    assert_eq!(su.ino(), fs::metadata(v.p("bin/su2")).unwrap().ino(), "{}: hardlink", d.name());
    // The base layer alone still shows its own files.
    let ctr1 = random_id();
    d.create_rw(&ctr1, &image[..1]).unwrap();
    let v1 = View::mount(d, &ctr1, &image[..1]);
    assert_eq!(fs::read_to_string(v1.p("a")).unwrap(), "a1", "{}", d.name());
    assert_eq!(fs::read_to_string(v1.p("o/sub/old")).unwrap(), "old", "{}", d.name());
    drop((v, v1));
    d.remove_rw(&ctr).unwrap();
    d.remove_rw(&ctr1).unwrap();
    assert!(d.layer_size(&l1).unwrap() >= 2 + 2 + 2 + 2 + 3 + 3 + 2);
    assert!(staging_is_empty(d), "{}", d.name());
}

fn case_second_commit_of_an_id_loses(d: &dyn StorageDriver) {
    let id = random_id();
    assert!(add_layer(d, &id, None, &[E::File("f", "first")]));
    assert!(!add_layer(d, &id, None, &[E::File("f", "second")]), "{}", d.name());
    assert!(d.layer_exists(&id));
    assert!(staging_is_empty(d), "{}", d.name());
    let ctr = random_id();
    d.create_rw(&ctr, std::slice::from_ref(&id)).unwrap();
    let v = View::mount(d, &ctr, std::slice::from_ref(&id));
    assert_eq!(fs::read_to_string(v.p("f")).unwrap(), "first", "{}", d.name());
    drop(v);
    d.remove_rw(&ctr).unwrap();
}

fn case_layers_list_and_remove(d: &dyn StorageDriver) {
    let (a, b, ctr) = (random_id(), random_id(), random_id());
    assert!(add_layer(d, &a, None, &[E::File("f", "a")]));
    assert!(add_layer(d, &b, Some(&a), &[E::File("g", "b")]));
    d.create_rw(&ctr, &[a.clone(), b.clone()]).unwrap();
    let layers = d.layers().unwrap();
    assert!(layers.contains(&a) && layers.contains(&b), "{}", d.name());
    assert!(!layers.contains(&ctr), "{}: a container layer is not an image layer", d.name());
    assert_eq!(d.rw_layers().unwrap(), vec![ctr.clone()], "{}", d.name());
    assert_eq!(d.remove_layer(&ctr).unwrap_err().kind, Kind::InvalidArgument, "{}", d.name());
    assert_eq!(d.remove_rw(&a).unwrap_err().kind, Kind::InvalidArgument, "{}", d.name());
    d.remove_rw(&ctr).unwrap();
    d.remove_rw(&ctr).unwrap();
    assert!(d.rw_layers().unwrap().is_empty());
    d.remove_layer(&b).unwrap();
    assert!(!d.layer_exists(&b));
    assert!(!d.layers().unwrap().contains(&b));
    d.remove_layer(&b).unwrap();
    d.remove_layer(&a).unwrap();
    assert!(d.layers().unwrap().is_empty(), "{}", d.name());
    assert!(staging_is_empty(d), "{}", d.name());
    if d.name() == "overlay" {
        assert_eq!(fs::read_dir(d.home().join("l")).unwrap().count(), 0, "short links are removed");
    }
    assert_eq!(d.begin_layer(Some(&a)).unwrap_err().kind, Kind::NotFound);
    assert_eq!(
        d.create_rw(&random_id(), std::slice::from_ref(&a)).unwrap_err().kind,
        Kind::NotFound
    );
    assert_eq!(d.begin_layer(Some("../../etc")).unwrap_err().kind, Kind::InvalidArgument);
}

fn case_rw_layer_changes_stay_in_the_container(d: &dyn StorageDriver) {
    let l = random_id();
    assert!(add_layer(d, &l, None, &[E::File("etc/conf", "image"), E::File("gone", "g")]));
    let (c1, c2) = (random_id(), random_id());
    d.create_rw(&c1, std::slice::from_ref(&l)).unwrap();
    assert_eq!(
        d.create_rw(&c1, std::slice::from_ref(&l)).unwrap_err().kind,
        Kind::Conflict,
        "{}",
        d.name()
    );
    d.create_rw(&c2, std::slice::from_ref(&l)).unwrap();
    {
        let v = View::mount(d, &c1, std::slice::from_ref(&l));
        fs::write(v.p("etc/conf"), "changed").unwrap();
        fs::write(v.p("new"), "0123456789").unwrap();
        fs::remove_file(v.p("gone")).unwrap();
    }
    assert!(d.rw_size(&c1).unwrap() >= 10, "{}", d.name());
    let v2 = View::mount(d, &c2, std::slice::from_ref(&l));
    assert_eq!(
        v2.listing(),
        expect(&[("etc", "dir"), ("etc/conf", "image"), ("gone", "g")]),
        "{}",
        d.name()
    );
    drop(v2);
    let v1 = View::mount(d, &c1, std::slice::from_ref(&l));
    assert_eq!(
        v1.listing(),
        expect(&[("etc", "dir"), ("etc/conf", "changed"), ("new", "0123456789")]),
        "{}",
        d.name()
    );
    drop(v1);
    d.remove_rw(&c1).unwrap();
    d.remove_rw(&c2).unwrap();
}

fn case_empty_image(d: &dyn StorageDriver) {
    let ctr = random_id();
    d.create_rw(&ctr, &[]).unwrap();
    let v = View::mount(d, &ctr, &[]);
    assert!(v.listing().is_empty(), "{}", d.name());
    fs::write(v.p("x"), "x").unwrap();
    drop(v);
    assert_eq!(d.graph_data(&ctr, &[]).is_empty(), d.name() == "vfs");
    d.remove_rw(&ctr).unwrap();
}

fn case_cleanup_removes_leftovers(d: &dyn StorageDriver) {
    let s = d.begin_layer(None).unwrap();
    fs::write(s.dir.join("half"), "written").unwrap();
    let aborted = d.begin_layer(None).unwrap();
    let root = aborted.root.clone();
    d.abort(aborted);
    assert!(!root.exists());
    // The daemon "dies" here: the staging is never committed nor aborted.
    assert!(s.root.exists());
    d.cleanup().unwrap();
    assert!(!s.root.exists(), "{}", d.name());
    assert!(staging_is_empty(d));
}

#[test]
fn layers_stack_into_the_expected_view() {
    each_driver("layers_stack_into_the_expected_view", case_layers_stack_into_the_expected_view);
}

#[test]
fn second_commit_of_an_id_loses() {
    each_driver("second_commit_of_an_id_loses", case_second_commit_of_an_id_loses);
}

#[test]
fn layers_list_and_remove() {
    each_driver("layers_list_and_remove", case_layers_list_and_remove);
}

#[test]
fn rw_layer_changes_stay_in_the_container() {
    each_driver(
        "rw_layer_changes_stay_in_the_container",
        case_rw_layer_changes_stay_in_the_container,
    );
}

#[test]
fn empty_image() {
    each_driver("empty_image", case_empty_image);
}

#[test]
fn cleanup_removes_leftovers() {
    each_driver("cleanup_removes_leftovers", case_cleanup_removes_leftovers);
}

#[test]
fn choose_by_name() {
    let t = TempDir::new("conf-choose");
    assert_eq!(super::choose(Some("vfs"), t.path()).unwrap().name(), "vfs");
    let e = super::choose(Some("zfs"), t.path()).err().unwrap();
    assert_eq!(e.kind, Kind::InvalidArgument);
    if is_root("choose_by_name (overlay)") && overlay::supported(t.path()) {
        assert_eq!(super::choose(Some("overlay2"), t.path()).unwrap().name(), "overlay");
    }
}
