//! Tests of layer application: Docker's semantics, and every way an untrusted tar tries to
//! write outside its directory. Tars are built in memory with raw headers, so names the
//! tar crate's builder refuses (`../x`, `/etc/x`) can be written. Each test puts `dest`
//! two levels inside a temp dir holding a sentinel, and checks that nothing beside `dest`
//! changed.

use super::apply::clean;
use super::header::pax_time;
use super::*;
use crate::error::Kind;
use crate::testutil::{is_root, TempDir};
use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use tar::EntryType as T;

const MTIME: u64 = 1_600_000_000;

struct Tar(tar::Builder<Vec<u8>>);

impl Tar {
    fn new() -> Tar {
        Tar(tar::Builder::new(Vec::new()))
    }

    fn header(kind: T, name: &str, mode: u32, size: u64) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(MTIME);
        // Raw bytes: the builder would refuse the hostile names these tests need.
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        h
    }

    fn put(&mut self, mut h: tar::Header, data: &[u8]) -> &mut Tar {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(&mut self, name: &str, data: &str, mode: u32) -> &mut Tar {
        let h = Tar::header(T::Regular, name, mode, data.len() as u64);
        self.put(h, data.as_bytes())
    }

    fn dir(&mut self, name: &str, mode: u32) -> &mut Tar {
        let h = Tar::header(T::Directory, name, mode, 0);
        self.put(h, b"")
    }

    fn link(&mut self, kind: T, name: &str, target: &str) -> &mut Tar {
        let mut h = Tar::header(kind, name, 0o777, 0);
        h.set_link_name_literal(target).unwrap();
        self.put(h, b"")
    }

    fn node(&mut self, kind: T, name: &str, major: u32, minor: u32) -> &mut Tar {
        let mut h = Tar::header(kind, name, 0o640, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.put(h, b"")
    }

    fn pax(&mut self, recs: &[(&str, &[u8])]) -> &mut Tar {
        self.0.append_pax_extensions(recs.iter().copied()).unwrap();
        self
    }

    fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.0, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }
}

/// `<tmp>/a/b/dest` beside `<tmp>/outside/sentinel`, and a unique host path an absolute
/// name could hit.
struct Sandbox {
    t: TempDir,
    dest: PathBuf,
}

impl Sandbox {
    fn new(name: &str) -> Sandbox {
        let t = TempDir::new(name);
        let dest = t.path().join("a/b/dest");
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(t.path().join("outside")).unwrap();
        fs::write(t.path().join("outside/sentinel"), "host").unwrap();
        Sandbox { t, dest }
    }

    fn apply(&self, tar: &[u8], mode: WhiteoutMode) -> Result<ApplyStats> {
        apply(&mut &tar[..], &self.dest, mode)
    }

    /// Everything under the temp dir except `dest`'s content is as it was.
    fn check_outside(&self) {
        let mut found = BTreeSet::new();
        let mut stack = vec![self.t.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                found.insert(p.strip_prefix(self.t.path()).unwrap().to_string_lossy().into_owned());
                if p.is_dir() && !p.is_symlink() && p != self.dest {
                    stack.push(p);
                }
            }
        }
        let want: BTreeSet<String> = ["a", "a/b", "a/b/dest", "outside", "outside/sentinel"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(found, want, "something was written outside dest");
        assert_eq!(fs::read_to_string(self.t.path().join("outside/sentinel")).unwrap(), "host");
        assert_eq!(fs::metadata(self.t.path().join("outside/sentinel")).unwrap().nlink(), 1);
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }
}

fn unique(tag: &str) -> String {
    format!("berth-escape-{tag}-{}", &crate::util::id::random_id()[..12])
}

#[test]
fn clean_names_against_a_virtual_root() {
    let s = |x: &str| {
        clean(x.as_bytes())
            .iter()
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("/")
    };
    assert_eq!(s("./etc/passwd"), "etc/passwd");
    assert_eq!(s("/etc//passwd"), "etc/passwd");
    assert_eq!(s("../../etc/x"), "etc/x");
    assert_eq!(s("a/../../b/./c/.."), "b");
    assert_eq!(s("./"), "");
    assert_eq!(s(".."), "");
}

#[test]
fn pax_times_parse_with_nanoseconds() {
    let t = pax_time(b"1600000000.123456789").unwrap();
    assert_eq!((t.tv_sec(), t.tv_nsec()), (1_600_000_000, 123_456_789));
    let t = pax_time(b"12.5").unwrap();
    assert_eq!((t.tv_sec(), t.tv_nsec()), (12, 500_000_000));
    let t = pax_time(b"-1.25").unwrap();
    assert_eq!((t.tv_sec(), t.tv_nsec()), (-2, 750_000_000));
    let t = pax_time(b"1600000000.1234567891234").unwrap();
    assert_eq!(t.tv_nsec(), 123_456_789);
    assert!(pax_time(b"x").is_none());
    assert!(pax_time(b"").is_none());
}

#[test]
fn files_dirs_modes_and_times() {
    let s = Sandbox::new("layer-basic");
    let tar = Tar::new()
        .dir("./", 0o755)
        .dir("etc/", 0o751)
        .file("etc/hosts", "127.0.0.1 localhost\n", 0o644)
        .file("bin/su", "suid", 0o4755)
        .dir("tmp", 0o1777)
        .pax(&[("mtime", b"1600000001.123456789"), ("atime", b"1600000002.5")])
        .file("etc/precise", "p", 0o600)
        .bytes();
    let stats = s.apply(&tar, WhiteoutMode::Delete).unwrap();
    assert_eq!(stats.entries, 6);
    assert_eq!(stats.bytes, tar.len() as u64);
    assert_eq!(fs::read_to_string(s.p("etc/hosts")).unwrap(), "127.0.0.1 localhost\n");
    let mode = |p: &str| fs::symlink_metadata(s.p(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("etc"), 0o751);
    assert_eq!(mode("bin/su"), 0o4755);
    assert_eq!(mode("tmp"), 0o1777);
    assert_eq!(mode("bin"), 0o755, "missing parents are made 0755");
    let m = fs::metadata(s.p("etc/precise")).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_600_000_001, 123_456_789));
    assert_eq!((m.atime(), m.atime_nsec()), (1_600_000_002, 500_000_000));
    // Directory times are set after their children were created.
    assert_eq!(fs::metadata(s.p("etc")).unwrap().mtime(), MTIME as i64);
    assert_eq!(fs::metadata(&s.dest).unwrap().mtime(), MTIME as i64);
    s.check_outside();
}

#[test]
fn symlinks_hardlinks_and_fifos() {
    let s = Sandbox::new("layer-links");
    let tar = Tar::new()
        .file("bin/busybox", "bb", 0o755)
        .link(T::Link, "bin/sh", "bin/busybox")
        .link(T::Link, "bin/ls", "./bin/../bin/busybox")
        .link(T::Symlink, "bin/abs", "/etc/shadow")
        .link(T::Symlink, "bin/rel", "../../../x")
        .node(T::Fifo, "run/fifo", 0, 0)
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    let ino = |p: &str| fs::symlink_metadata(s.p(p)).unwrap().ino();
    assert_eq!(ino("bin/sh"), ino("bin/busybox"));
    assert_eq!(ino("bin/ls"), ino("bin/busybox"));
    assert_eq!(fs::read_link(s.p("bin/abs")).unwrap(), Path::new("/etc/shadow"));
    assert_eq!(fs::read_link(s.p("bin/rel")).unwrap(), Path::new("../../../x"));
    assert_eq!(fs::symlink_metadata(s.p("bin/abs")).unwrap().mtime(), MTIME as i64);
    let fifo = fs::symlink_metadata(s.p("run/fifo")).unwrap();
    assert!(fifo.file_type().is_fifo());
    assert_eq!(fifo.permissions().mode() & 0o7777, 0o640);
    s.check_outside();
}

#[test]
fn devices_owners_and_capabilities() {
    if !is_root("devices_owners_and_capabilities") {
        return;
    }
    let s = Sandbox::new("layer-root");
    // VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_BIND_SERVICE (linux/capability.h).
    let cap: Vec<u8> =
        [0x0200_0001u32, 1 << 10, 0, 0, 0].iter().flat_map(|w| w.to_le_bytes()).collect();
    let mut t = Tar::new();
    t.node(T::Char, "dev/null", 1, 3);
    t.node(T::Block, "dev/loop9", 7, 9);
    let mut h = Tar::header(T::Regular, "bin/ping", 0o4755, 1);
    h.set_uid(1000);
    h.set_gid(1001);
    t.pax(&[("SCHILY.xattr.security.capability", &cap), ("SCHILY.xattr.user.note", b"kept")]);
    t.put(h, b"x");
    let mut h = Tar::header(T::Symlink, "bin/link", 0o777, 0);
    h.set_link_name_literal("ping").unwrap();
    h.set_uid(42);
    t.put(h, b"");
    let mut h = Tar::header(T::Directory, "home/user", 0o700, 0);
    h.set_uid(1000);
    t.put(h, b"");
    s.apply(&t.bytes(), WhiteoutMode::Delete).unwrap();
    let null = fs::symlink_metadata(s.p("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert!(fs::symlink_metadata(s.p("dev/loop9")).unwrap().file_type().is_block_device());
    let ping = fs::metadata(s.p("bin/ping")).unwrap();
    assert_eq!((ping.uid(), ping.gid()), (1000, 1001));
    assert_eq!(ping.permissions().mode() & 0o7777, 0o4755, "chown must not clear setuid");
    let name = CString::new("security.capability").unwrap();
    assert_eq!(crate::sys::file::lgetxattr(&s.p("bin/ping"), &name).unwrap(), cap);
    assert_eq!(fs::symlink_metadata(s.p("bin/link")).unwrap().uid(), 42);
    assert_eq!(fs::metadata(s.p("home/user")).unwrap().uid(), 1000);
    s.check_outside();
}

#[test]
fn delete_mode_whiteouts_and_opaque_dirs() {
    let s = Sandbox::new("layer-wh-delete");
    let lower = Tar::new()
        .file("keep", "k", 0o644)
        .file("gone", "g", 0o644)
        .file("dir/gone/deep", "d", 0o644)
        .file("opq/old", "o", 0o644)
        .file("opq/sub/old", "o", 0o644)
        .file("opq/sub/kept-late", "o", 0o644)
        .bytes();
    s.apply(&lower, WhiteoutMode::Delete).unwrap();
    let upper = Tar::new()
        .file(".wh.gone", "", 0o644)
        .file("dir/.wh.gone", "", 0o644)
        .file(".wh.never-existed", "", 0o644)
        .file("opq/-first", "written before the marker", 0o644)
        .dir("opq/sub", 0o755)
        .file("opq/.wh..wh..opq", "", 0o644)
        .file("opq/new", "n", 0o644)
        .file("opq/sub/kept-late", "new", 0o644)
        .file(".wh..wh.plnk/123.456", "aufs", 0o644)
        .bytes();
    s.apply(&upper, WhiteoutMode::Delete).unwrap();
    assert!(s.p("keep").exists());
    assert!(!s.p("gone").exists());
    assert!(!s.p("dir/gone").exists());
    assert!(s.p("dir").is_dir());
    assert!(!s.p("opq/old").exists());
    assert!(!s.p("opq/sub/old").exists());
    assert_eq!(fs::read_to_string(s.p("opq/-first")).unwrap(), "written before the marker");
    assert_eq!(fs::read_to_string(s.p("opq/new")).unwrap(), "n");
    assert_eq!(fs::read_to_string(s.p("opq/sub/kept-late")).unwrap(), "new");
    assert!(!s.p(".wh..wh.plnk").exists());
    for e in fs::read_dir(&s.dest).unwrap() {
        assert!(!e.unwrap().file_name().to_string_lossy().starts_with(".wh."));
    }
    s.check_outside();
}

#[test]
fn overlay_mode_whiteouts_and_opaque_dirs() {
    if !is_root("overlay_mode_whiteouts_and_opaque_dirs") {
        return;
    }
    let s = Sandbox::new("layer-wh-overlay");
    let tar = Tar::new()
        .file("etc/x", "x", 0o644)
        .file("etc/.wh.x", "", 0o644)
        .file(".wh.gone", "", 0o644)
        .file("deep/er/.wh.y", "", 0o644)
        .dir("opq", 0o755)
        .file("opq/.wh..wh..opq", "", 0o644)
        .file("opq/new", "n", 0o644)
        .file("made/.wh..wh..opq", "", 0o644)
        .bytes();
    s.apply(&tar, WhiteoutMode::Overlay).unwrap();
    for w in ["etc/x", "gone", "deep/er/y"] {
        let m = fs::symlink_metadata(s.p(w)).unwrap();
        assert!(m.file_type().is_char_device(), "{w}");
        assert_eq!(m.rdev(), 0, "{w}");
    }
    let name = CString::new("trusted.overlay.opaque").unwrap();
    for d in ["opq", "made"] {
        assert_eq!(crate::sys::file::lgetxattr(&s.p(d), &name).unwrap(), b"y", "{d}");
    }
    assert!(s.p("opq/new").exists());
    assert!(!s.p(".wh.gone").exists());
    s.check_outside();
}

#[test]
fn forged_overlay_xattrs_are_dropped() {
    if !is_root("forged_overlay_xattrs_are_dropped") {
        return;
    }
    let s = Sandbox::new("layer-forged");
    let tar = Tar::new()
        .pax(&[("SCHILY.xattr.trusted.overlay.redirect", b"/etc")])
        .dir("d", 0o755)
        .bytes();
    s.apply(&tar, WhiteoutMode::Overlay).unwrap();
    let name = CString::new("trusted.overlay.redirect").unwrap();
    assert!(crate::sys::file::lgetxattr(&s.p("d"), &name).is_err());
}

#[test]
fn climbing_and_absolute_names_land_inside() {
    let s = Sandbox::new("layer-climb");
    let abs = unique("abs");
    let tar = Tar::new()
        .file("../../x", "climb", 0o644)
        .file("../../../../../../outside/sentinel", "overwrite", 0o644)
        .file(&format!("/{abs}"), "abs", 0o644)
        .dir("/../..", 0o755)
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read_to_string(s.p("x")).unwrap(), "climb");
    assert_eq!(fs::read_to_string(s.p("outside/sentinel")).unwrap(), "overwrite");
    assert_eq!(fs::read_to_string(s.p(&abs)).unwrap(), "abs");
    assert!(!Path::new("/").join(&abs).exists());
    s.check_outside();
}

#[test]
fn symlinked_parents_resolve_inside() {
    let s = Sandbox::new("layer-symparent");
    let host = unique("host");
    let tar = Tar::new()
        .link(T::Symlink, "evil", "/")
        .file("evil/x", "via root link", 0o644)
        .file(&format!("evil/{host}"), "h", 0o644)
        .link(T::Symlink, "up", "../../../../../")
        .file("up/y", "via climbing link", 0o644)
        .link(T::Symlink, "out", "../../../outside")
        .dir("mk", 0o755)
        .link(T::Symlink, "mk/deeper", "../../..")
        .file("mk/deeper/z", "via nested link", 0o644)
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read_to_string(s.p("x")).unwrap(), "via root link");
    assert_eq!(fs::read_to_string(s.p("y")).unwrap(), "via climbing link");
    assert_eq!(fs::read_to_string(s.p("z")).unwrap(), "via nested link");
    assert!(s.p(&host).exists());
    assert!(!Path::new("/").join(&host).exists());
    // A dangling link's parent (no "outside" inside dest) is an error, never a host write.
    let tar = Tar::new().file("out/sentinel", "overwrite", 0o644).bytes();
    assert!(s.apply(&tar, WhiteoutMode::Delete).is_err());
    s.check_outside();
}

#[test]
fn entries_replace_symlinks_instead_of_writing_through() {
    let s = Sandbox::new("layer-replace");
    let out = s.t.path().join("outside");
    let tar = Tar::new()
        .link(T::Symlink, "f", &out.join("sentinel").to_string_lossy())
        .file("f", "replaced", 0o644)
        .link(T::Symlink, "d", &out.to_string_lossy())
        .dir("d", 0o755)
        .file("d/sentinel", "inside", 0o644)
        .link(T::Symlink, "n", "../../../outside/sentinel")
        .node(T::Fifo, "n", 0, 0)
        .link(T::Symlink, "l", "../../../outside/sentinel")
        .file("target", "t", 0o644)
        .link(T::Link, "l", "target")
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read_to_string(s.p("f")).unwrap(), "replaced");
    assert!(!fs::symlink_metadata(s.p("d")).unwrap().is_symlink());
    assert_eq!(fs::read_to_string(s.p("d/sentinel")).unwrap(), "inside");
    assert!(fs::symlink_metadata(s.p("n")).unwrap().file_type().is_fifo());
    assert_eq!(fs::read_to_string(s.p("l")).unwrap(), "t");
    s.check_outside();
}

#[test]
fn hardlinks_never_reach_host_files() {
    let s = Sandbox::new("layer-hardlink");
    for target in ["../../outside/sentinel", "../../../outside/sentinel", "/etc/passwd", "/"] {
        let tar = Tar::new().link(T::Link, "h", target).bytes();
        let e = s.apply(&tar, WhiteoutMode::Delete).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument, "{target}: {e}");
        assert!(!s.p("h").exists());
    }
    // With a same-named file inside, the link goes to that one, never the host's.
    let host = fs::metadata("/etc/passwd").unwrap();
    let tar = Tar::new()
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n", 0o644)
        .link(T::Symlink, "evil", "/")
        .link(T::Link, "h1", "/etc/passwd")
        .link(T::Link, "h2", "../../../etc/passwd")
        .link(T::Link, "h3", "evil/etc/passwd")
        .link(T::Link, "h4", "evil")
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    let inner = fs::metadata(s.p("etc/passwd")).unwrap();
    for h in ["h1", "h2", "h3"] {
        let m = fs::metadata(s.p(h)).unwrap();
        assert_eq!(m.ino(), inner.ino(), "{h}");
        assert_ne!((m.dev(), m.ino()), (host.dev(), host.ino()), "{h}");
    }
    // A hardlink to a symlink links the symlink itself.
    assert_eq!(fs::read_link(s.p("h4")).unwrap(), Path::new("/"));
    let tar = Tar::new().dir("d", 0o755).link(T::Link, "hd", "d").bytes();
    assert!(s.apply(&tar, WhiteoutMode::Delete).is_err(), "hardlink to a directory");
    s.check_outside();
}

#[test]
fn whiteouts_through_symlinks_stay_inside() {
    let s = Sandbox::new("layer-wh-escape");
    let out = s.t.path().join("outside");
    let tar = Tar::new()
        .link(T::Symlink, "evil", &out.to_string_lossy())
        .file("evil/.wh.sentinel", "", 0o644)
        .file("../../outside/.wh.sentinel", "", 0o644)
        .link(T::Symlink, "root", "/")
        .file("root/.wh..wh..opq", "", 0o644)
        .bytes();
    // "evil" dangles inside dest, so its whiteout has nothing to remove.
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    s.check_outside();
}

#[test]
fn directories_and_files_replace_each_other() {
    let s = Sandbox::new("layer-dirfile");
    let tar = Tar::new()
        .file("a/b/c", "c", 0o644)
        .file("a", "now a file", 0o644)
        .file("f", "f", 0o644)
        .dir("f", 0o700)
        .file("f/inner", "i", 0o644)
        .dir("keep", 0o755)
        .file("keep/x", "x", 0o644)
        .dir("keep", 0o711)
        .bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read_to_string(s.p("a")).unwrap(), "now a file");
    assert_eq!(fs::read_to_string(s.p("f/inner")).unwrap(), "i");
    assert_eq!(fs::read_to_string(s.p("keep/x")).unwrap(), "x");
    assert_eq!(fs::metadata(s.p("keep")).unwrap().permissions().mode() & 0o777, 0o711);
    s.check_outside();
}

#[test]
fn not_a_tar_is_an_invalid_argument() {
    let s = Sandbox::new("layer-garbage");
    let json = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}"#;
    let random: Vec<u8> =
        (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let mut truncated = Tar::new().file("big", &"x".repeat(5000), 0o644).bytes();
    truncated.truncate(2048);
    for (what, bytes) in
        [("json", &json[..]), ("random", &random[..]), ("truncated", &truncated[..])]
    {
        let e = s.apply(bytes, WhiteoutMode::Delete).unwrap_err();
        assert_eq!(e.kind, Kind::InvalidArgument, "{what}: {e}");
        assert!(e.message.contains("tar") || e.message.contains("archive"), "{what}: {e}");
    }
    s.check_outside();
}

#[test]
fn a_failing_reader_is_not_blamed_on_the_archive() {
    struct Broken(usize);
    impl Read for Broken {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::from_raw_os_error(libc::ECONNRESET));
            }
            let n = buf.len().min(self.0);
            buf[..n].fill(0);
            self.0 -= n;
            Ok(n)
        }
    }
    let s = Sandbox::new("layer-broken");
    let tar = Tar::new().file("f", &"y".repeat(100_000), 0o644).bytes();
    let mut r = io::Read::chain(&tar[..2048], Broken(0));
    let e = apply(&mut r, &s.dest, WhiteoutMode::Delete).unwrap_err();
    assert_ne!(e.kind, Kind::InvalidArgument, "{e}");
    assert!(e.message.contains("read layer"), "{e}");
}

#[test]
fn the_whole_stream_is_consumed() {
    let s = Sandbox::new("layer-stream");
    let mut tar = Tar::new().file("f", "data", 0o644).bytes();
    tar.extend_from_slice(&[0u8; 8192]);
    let mut r = &tar[..];
    let stats = apply(&mut r, &s.dest, WhiteoutMode::Delete).unwrap();
    assert_eq!(stats.bytes, tar.len() as u64);
    assert!(r.is_empty());
    let empty = s.apply(b"", WhiteoutMode::Delete).unwrap();
    assert_eq!(empty, ApplyStats { bytes: 0, entries: 0 });
}

#[test]
fn decompress_detects_gzip_and_refuses_zstd() {
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write as _;
    let tar = Tar::new().file("f", "zipped", 0o644).bytes();
    let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    assert!(is_gzip(&gz));
    assert!(!is_gzip(&tar));
    let mut out = Vec::new();
    decompress(Box::new(io::Cursor::new(gz))).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, tar);
    let mut out = Vec::new();
    decompress(Box::new(io::Cursor::new(tar.clone()))).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, tar);
    let zstd = vec![0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0];
    let e = decompress(Box::new(io::Cursor::new(zstd))).err().unwrap();
    assert_eq!(e.kind, Kind::InvalidArgument);
    assert!(e.message.contains("zstd"));
    let mut out = Vec::new();
    decompress(Box::new(io::Cursor::new(vec![1u8]))).unwrap().read_to_end(&mut out).unwrap();
    assert_eq!(out, [1]);
}

#[test]
fn blank_fields_long_names_and_old_style_dirs() {
    let s = Sandbox::new("layer-formats");
    let long = format!("{}/{}", "d".repeat(120), "f".repeat(130));
    let mut b = tar::Builder::new(Vec::new());
    // A GNU header with blank uid, gid and mtime fields (as some tools write them), and
    // a name too long for the header (a GNU long-name entry precedes it).
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o640);
    b.append_data(&mut h, &long, &b"long"[..]).unwrap();
    let mut pax_long = Tar::new();
    pax_long.pax(&[("path", format!("p/{}", "x".repeat(200)).as_bytes())]);
    let mut tar = b.into_inner().unwrap();
    tar.truncate(tar.len() - 1024);
    tar.extend(pax_long.file("ignored-short-name", "pax", 0o644).bytes());
    let old_dir = Tar::new().file("olddir/", "", 0o750).bytes();
    s.apply(&tar, WhiteoutMode::Delete).unwrap();
    s.apply(&old_dir, WhiteoutMode::Delete).unwrap();
    assert_eq!(fs::read_to_string(s.p(&long)).unwrap(), "long");
    assert_eq!(fs::metadata(s.p(&long)).unwrap().mtime(), 0);
    assert_eq!(fs::read_to_string(s.p(&format!("p/{}", "x".repeat(200)))).unwrap(), "pax");
    assert!(!s.p("ignored-short-name").exists());
    let m = fs::metadata(s.p("olddir")).unwrap();
    assert!(m.is_dir());
    assert_eq!(m.permissions().mode() & 0o777, 0o750);
    s.check_outside();
}
