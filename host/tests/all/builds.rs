//! What `subnetd build` hands out is built from the sources it names: files a guest imports
//! from outside its directory are inputs (JavaScript through rolldown's module list, C
//! through `clang -MM`), two copies of one Rust crate in two directories each get their own
//! bytes from the shared target directory, and an example copied out of the workspace builds
//! as it is.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use subnet_host::bindings::types::{MinerRequest, Payload};
use subnet_host::caps::metagraph::MetagraphView;
use subnet_host::guest_build::{self, GuestSource};
use subnet_host::runtime::{CallEnv, World};

/// A fresh scratch directory under the repository's `target/` (inside the workspace's tree but
/// not a member, as an author's copy in a checkout would be).
fn scratch(name: &str) -> PathBuf {
    let dir = common::root().join("target").join("build-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let name = entry.file_name();
        if name == "build" || name == "target" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &to.join(&name));
        } else {
            std::fs::copy(entry.path(), to.join(&name)).unwrap();
        }
    }
}

fn build(dir: &Path, world: World, out: &Path) -> SystemTime {
    let source = GuestSource { dir: dir.to_path_buf(), world, language: None };
    guest_build::build(&common::toolchain(), &source, out).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    std::fs::metadata(out).unwrap().modified().unwrap()
}

/// Rewrites `file` with `text`, newer than anything built before.
fn edit(file: &Path, text: &str) {
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(file, text).unwrap();
}

/// `guest` (a miner that imports or includes a file of `shared/`) is rebuilt when that file
/// changes and only then; the file is listed among the build's inputs.
fn rebuilds_for_the_outside_file(root: &Path, guest: &str, shared: &Path, changed: &str) {
    let dir = root.join(guest);
    let out = root.join("build").join(format!("{guest}.wasm"));
    let first = build(&dir, World::Miner, &out);
    let listed = std::fs::read_to_string(guest_build::inputs_path(&out)).unwrap();
    let shared_abs = shared.canonicalize().unwrap();
    assert!(
        listed.lines().any(|l| Path::new(l) == shared_abs),
        "{guest}: {} not listed in:\n{listed}",
        shared.display()
    );
    assert_eq!(build(&dir, World::Miner, &out), first, "{guest}: nothing changed, no rebuild");
    edit(shared, changed);
    assert!(build(&dir, World::Miner, &out) > first, "{guest}: the outside file changed, so it rebuilt");
}

#[test]
fn files_read_from_outside_the_guest_directory_trigger_rebuilds() {
    let root = scratch("outside-inputs");
    std::fs::create_dir_all(root.join("shared")).unwrap();
    std::fs::create_dir_all(root.join("js-miner")).unwrap();
    std::fs::create_dir_all(root.join("c-miner")).unwrap();

    let factor = root.join("shared/factor.js");
    std::fs::write(&factor, "export const FACTOR = 2;\n").unwrap();
    let js = std::fs::read_to_string(common::root().join("examples/hello-subnet-js/miner/app.js")).unwrap();
    let js = js.replace("return task * 2;", "return task * FACTOR;");
    std::fs::write(root.join("js-miner/app.js"), format!("import {{ FACTOR }} from '../shared/factor.js';\n{js}"))
        .unwrap();
    rebuilds_for_the_outside_file(&root, "js-miner", &factor, "export const FACTOR = 3;\n");

    let header = root.join("shared/factor.h");
    std::fs::write(&header, "#define FACTOR 2\n").unwrap();
    let c = std::fs::read_to_string(common::root().join("examples/hello-subnet-c/miner/miner.c")).unwrap();
    let c = c.replace("number * 2", "number * FACTOR");
    std::fs::write(root.join("c-miner/miner.c"), format!("#include \"../shared/factor.h\"\n{c}")).unwrap();
    rebuilds_for_the_outside_file(&root, "c-miner", &header, "#define FACTOR 3\n");
}

async fn answer(component: &Path, number: u64) -> u64 {
    let module = common::runtime().load_miner("copy", &common::read(component)).expect("load the miner");
    let env = CallEnv::new("copies", 1, Arc::new(MetagraphView::default()));
    let request = MinerRequest {
        task_id: "t".into(),
        netuid: 1,
        validator: String::new(),
        payload: Payload { content_type: "application/json".into(), body: number.to_string().into_bytes() },
        timeout_ms: 1000,
    };
    let answer = module.handle(&env, &request).await.expect("the miner answers");
    String::from_utf8(answer.body).unwrap().parse().unwrap()
}

fn sha256(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(common::read(path)))
}

/// Two copies of the hello miner (one crate name, `hello-subnet-miner`) in two directories,
/// one edited to triple: each build hands out its own copy's bytes, also when the first is
/// built again after the second. Both copies still inherit from the workspace they were
/// copied out of, so they build through the standalone manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_one_rust_crate_build_their_own_bytes() {
    let root = scratch("rust-copies");
    let original = common::root().join("examples/hello-subnet/miner");
    let (a, b) = (root.join("hello-v2/miner"), root.join("hello-v3/miner"));
    copy_dir(&original, &a);
    copy_dir(&original, &b);
    let lib = b.join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap().replace("checked_mul(2)", "checked_mul(3)");
    std::fs::write(&lib, text).unwrap();
    let (out_a, out_b) = (root.join("a.wasm"), root.join("b.wasm"));
    build(&a, World::Miner, &out_a);
    build(&b, World::Miner, &out_b);
    assert_ne!(sha256(&out_a), sha256(&out_b), "different sources, different components");
    assert_eq!(answer(&out_a, 21).await, 42);
    assert_eq!(answer(&out_b, 21).await, 63);
    let first_a = sha256(&out_a);
    build(&a, World::Miner, &out_a);
    assert_eq!(sha256(&out_a), first_a, "rebuilding the first copy gives its own bytes, not the second's");
    assert_eq!(answer(&out_a, 5).await, 10);
}
