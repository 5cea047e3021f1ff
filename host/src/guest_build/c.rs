//! C guests: clang compiles the directory's `*.c` files for `wasm32-wasi` (preview 1, reactor
//! model) together with bindings generated here from the contract, and the core module is
//! wrapped into a component here too, with wasmtime's preview1-to-preview2 reactor adapter.
//!
//! Only clang and wasi-libc are needed on the machine (Debian: `clang-19 lld-19
//! libclang-rt-19-dev-wasm32 wasi-libc`): the bindings come from the `wit-bindgen-c` library
//! (the world is renamed `subnet`, so both worlds share one header name, `subnet.h`, and one
//! string type, `subnet_string_t`), the adapter from `wasi-preview1-component-adapter-provider`
//! and the componentization from `wit-component`.
//!
//! Steps, each failing with a [`BuildError`] that says which one:
//! 1. generate `subnet.h`, `subnet.c` and `subnet_component_type.o` into a scratch directory
//!    next to the output (removed afterwards, kept on failure for inspection), for the guest
//!    world of `sdk/wit/` (the contract's world plus WASI HTTP's `outgoing-handler`, which the
//!    SDK's `subnet_http_request` uses);
//! 2. `clang --target=wasm32-wasi -mexec-model=reactor -O2` over the guest's `*.c` files, the
//!    generated `subnet.c` and the C SDK's (`sdk/c/*.c`, header `subnet_sdk.h`);
//! 3. encode the component, validating it against the world.
//!
//! clang is `$SUBNETD_CLANG`, else `clang-19`, else `clang` on `PATH`. `$WASI_SYSROOT`, when set,
//! is passed as `--sysroot` (Debian's clang finds `/usr/include/wasm32-wasi` by itself). A
//! compile that fails because wasi-libc or the wasm32 runtime library is missing is reported as
//! a missing tool with the apt command, not as a C error.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BuildError, Language, Toolchain, run_tool};
use crate::runtime::World;

/// The name the world gets in generated C: `subnet.h`, `subnet_string_t`, ...
pub const C_WORLD_NAME: &str = "subnet";

/// The clang target: WASI preview 1, adapted to preview 2 when the component is made.
pub const TARGET: &str = "wasm32-wasi";

/// The Debian packages that make a C guest build.
pub const APT_PACKAGES: &str = "clang-19 lld-19 libclang-rt-19-dev-wasm32 wasi-libc";

fn install_hint() -> String {
    format!("apt-get install -y {APT_PACKAGES}")
}

/// The first `name` on `PATH` that is a file.
pub(crate) fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|candidate| candidate.is_file())
}

/// The clang to run.
pub fn clang_path() -> PathBuf {
    if let Some(explicit) = std::env::var_os("SUBNETD_CLANG") {
        return PathBuf::from(explicit);
    }
    find_on_path("clang-19").or_else(|| find_on_path("clang")).unwrap_or_else(|| "clang-19".into())
}

/// The guest's C sources, sorted so builds are reproducible.
fn c_sources(dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BuildError::io(dir, e))?;
    let mut sources: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "c"))
        .collect();
    sources.sort();
    if sources.is_empty() {
        return Err(BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: "a C guest needs at least one .c file".into(),
        });
    }
    Ok(sources)
}

/// Writes the C bindings of `world` (from the contract in `wit_dir`) into `out_dir`:
/// `subnet.h`, `subnet.c` and `subnet_component_type.o`. Returns the files written.
pub fn generate_bindings(wit_dir: &Path, world: World, out_dir: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let contract_error = |e: anyhow::Error| BuildError::BadOutput {
        dir: wit_dir.to_path_buf(),
        reason: format!("the contract does not give C bindings: {e:#}"),
    };
    let mut resolve = wit_parser::Resolve::default();
    // WASI 0.2.12's cli world imports the unstable `timezone` interface; this wit-parser
    // resolves that import only when the feature is on (the guest worlds never use it).
    resolve.features.insert("clocks-timezone".into());
    let (package, _) = resolve.push_dir(wit_dir).map_err(contract_error)?;
    let world_id = resolve.select_world(&[package], Some(&world.to_string())).map_err(contract_error)?;
    let opts = wit_bindgen_c::Opts { rename_world: Some(C_WORLD_NAME.into()), ..Default::default() };
    let mut files = wit_bindgen_core::Files::default();
    opts.build().generate(&resolve, world_id, &mut files).map_err(contract_error)?;
    std::fs::create_dir_all(out_dir).map_err(|e| BuildError::io(out_dir, e))?;
    let mut written = Vec::new();
    for (name, bytes) in files.iter() {
        let path = out_dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| BuildError::io(&path, e))?;
        written.push(path);
    }
    Ok(written)
}

/// Wraps a `wasm32-wasi` reactor core module (with its component-type section) into a
/// component, adapting WASI preview 1 to preview 2.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    use wasi_preview1_component_adapter_provider::{
        WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
    };
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| {
            encoder.validate(true).adapter(WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER)
        })
        .and_then(|mut encoder| encoder.encode())
        .map_err(|e| format!("{e:#}"))
}

/// Whether clang's output says the WASI sysroot or runtime library is missing, rather than
/// that the author's C is wrong.
fn missing_sysroot(output: &str) -> bool {
    let std_header = ["stdlib.h", "stdint.h", "stdio.h", "string.h", "stdbool.h", "stddef.h"]
        .iter()
        .any(|h| output.contains(&format!("'{h}' file not found")));
    std_header
        || output.contains("unable to find library -lc")
        || output.contains("libclang_rt.builtins-wasm32.a")
        || output.contains("crt1-reactor.o")
        || output.contains("unable to execute command")
        || output.contains("wasm-ld") && (output.contains("not found") || output.contains("No such file"))
}

/// The files a compile of `sources` reads (sources and the headers they include, system
/// headers aside), from `clang -MM`: make rules, `target: dep dep \` with escaped spaces.
fn read_by_compile(dir: &Path, includes: &[&Path], sources: &[PathBuf]) -> Result<Vec<PathBuf>, BuildError> {
    let mut command = Command::new(clang_path());
    command.current_dir(dir).arg(format!("--target={TARGET}")).args(["-MM", "-std=c11"]);
    for include in includes {
        command.arg("-I").arg(include);
    }
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        command.arg("--sysroot").arg(sysroot);
    }
    command.args(sources);
    let output = run_tool(command, Language::C, "clang", &install_hint(), dir)?;
    Ok(parse_make_deps(&String::from_utf8_lossy(&output.stdout))
        .into_iter()
        .map(|file| {
            let path = dir.join(file);
            path.canonicalize().unwrap_or(path)
        })
        .collect())
}

/// The prerequisites of make rules as `-M` writes them (targets dropped, `\ ` is a space).
fn parse_make_deps(text: &str) -> Vec<String> {
    let joined = text.replace("\\\n", " ").replace("\\\r\n", " ");
    let mut files = Vec::new();
    for rule in joined.lines() {
        let Some((_, deps)) = rule.split_once(": ") else { continue };
        let mut current = String::new();
        let mut chars = deps.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\\' if chars.peek() == Some(&' ') => current.push(chars.next().unwrap_or(' ')),
                ' ' | '\t' => {
                    if !current.is_empty() {
                        files.push(std::mem::take(&mut current));
                    }
                }
                other => current.push(other),
            }
        }
        if !current.is_empty() {
            files.push(current);
        }
    }
    files.sort();
    files.dedup();
    files
}

/// Builds the C guest in `dir` into a component at `out`; returns the files the compile read
/// (the guest's sources, the SDK's, and every header they include from anywhere).
pub fn build(toolchain: &Toolchain, dir: &Path, world: World, out: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let sources = c_sources(dir)?;
    let sdk = toolchain.sdk_dir().join("c");
    if !sdk.join("subnet_sdk.c").is_file() {
        return Err(BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: format!("the C SDK is not at {}", sdk.display()),
        });
    }
    let sdk_sources = c_sources(&sdk)?;
    let scratch = out.with_extension("c-build");
    let _ = std::fs::remove_dir_all(&scratch);
    let wit = super::guest_world_dir(toolchain, out)?;
    generate_bindings(&wit, world, &scratch)?;

    let core_path = scratch.join("core.wasm");
    let mut command = Command::new(clang_path());
    command
        .current_dir(dir)
        .arg(format!("--target={TARGET}"))
        .args(["-mexec-model=reactor", "-O2", "-std=c11", "-Wall", "-Wno-unused-function"])
        // A 1 MiB shadow stack instead of wasm-ld's 64 KiB: deep JSON or recursion in
        // authors' code should not corrupt the heap.
        .arg("-Wl,-z,stack-size=1048576")
        .arg("-I")
        .arg(&scratch)
        .arg("-I")
        .arg(&sdk)
        .arg("-I")
        .arg(dir);
    if let Some(sysroot) = std::env::var_os("WASI_SYSROOT") {
        command.arg("--sysroot").arg(sysroot);
    }
    command
        .args(&sources)
        .arg(scratch.join(format!("{C_WORLD_NAME}.c")))
        .args(&sdk_sources)
        .arg(scratch.join(format!("{C_WORLD_NAME}_component_type.o")))
        .arg("-o")
        .arg(&core_path);
    let clang = clang_path();
    let clang_name = clang.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    match run_tool(command, Language::C, &clang_name, &install_hint(), dir) {
        Ok(_) => {}
        Err(BuildError::ToolFailed { output, .. }) if missing_sysroot(&output) => {
            return Err(BuildError::MissingTool {
                language: Language::C,
                tool: "wasi-libc (the wasm32-wasi sysroot for clang)".into(),
                install: install_hint(),
            });
        }
        Err(e) => return Err(e),
    }

    let inputs: Vec<PathBuf> =
        read_by_compile(dir, &[&scratch, &sdk, dir], &[sources.as_slice(), sdk_sources.as_slice()].concat())?
            .into_iter()
            // The generated bindings are remade from the contract, which is tracked itself.
            .filter(|p| !p.starts_with(&scratch))
            .collect();
    let core = std::fs::read(&core_path).map_err(|e| BuildError::io(&core_path, e))?;
    let component = componentize(&core).map_err(|reason| BuildError::BadOutput {
        dir: dir.to_path_buf(),
        reason: format!("the compiled module does not make a {world} component: {reason}"),
    })?;
    std::fs::write(out, component).map_err(|e| BuildError::io(out, e))?;
    let _ = std::fs::remove_dir_all(&scratch);
    let _ = std::fs::remove_dir_all(&wit);
    Ok(inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn make_rules_give_their_prerequisites() {
        let rules = "validator.o: validator.c ../common/my\\ util.h \\\n  /sdk/c/subnet_sdk.h\nsubnet_json.o: /sdk/c/subnet_json.c /sdk/c/subnet_json.h\n";
        assert_eq!(
            parse_make_deps(rules),
            [
                "../common/my util.h",
                "/sdk/c/subnet_json.c",
                "/sdk/c/subnet_json.h",
                "/sdk/c/subnet_sdk.h",
                "validator.c"
            ]
        );
    }

    fn wit_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
    }

    #[test]
    fn bindings_for_both_worlds_share_the_subnet_prefix() {
        for (world, export) in [
            (World::Validator, "exports_subnet_plugin_validator_api_score"),
            (World::Miner, "exports_subnet_plugin_miner_api_handle"),
        ] {
            let dir = std::env::temp_dir().join(format!("subnetd-c-bindings-{world}-{}", std::process::id()));
            let files = generate_bindings(&wit_dir(), world, &dir).unwrap();
            let names: Vec<String> =
                files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
            assert!(names.contains(&"subnet.h".to_string()), "{names:?}");
            assert!(names.contains(&"subnet_component_type.o".to_string()), "{names:?}");
            let header = std::fs::read_to_string(dir.join("subnet.h")).unwrap();
            assert!(header.contains(export), "{world}: no {export}");
            assert!(header.contains("subnet_string_t"));
            assert!(header.contains("subnet_plugin_random_next_u64"));
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn a_core_module_importing_outside_the_world_is_refused() {
        // (module (import "nope" "f" (func))): no component-type section names `nope`, so the
        // encoder cannot satisfy the import and must say so rather than emit a component.
        let core = [
            0, b'a', b's', b'm', 1, 0, 0, 0, // header
            1, 4, 1, 0x60, 0, 0, // type section: () -> ()
            2, 10, 1, 4, b'n', b'o', b'p', b'e', 1, b'f', 0, 0, // import section
        ];
        let error = componentize(&core).unwrap_err();
        assert!(error.contains("nope"), "{error}");
    }

    #[test]
    fn missing_sysroot_is_told_apart_from_c_errors() {
        assert!(missing_sysroot("app.c:1:10: fatal error: 'stdlib.h' file not found"));
        assert!(missing_sysroot("wasm-ld: error: unable to find library -lc"));
        assert!(!missing_sysroot("app.c:3:5: error: use of undeclared identifier 'x'"));
    }
}
