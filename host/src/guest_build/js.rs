//! JavaScript guests: `sdk/js/build.mjs` bundles the guest's entry module with the JS SDK
//! (imported as `subnet-sdk`) and any npm packages in the guest's own `node_modules` (rolldown),
//! then embeds the bundle in StarlingMonkey with componentize-js.
//!
//! The entry module is `app.js`, or the `main` of the guest's `package.json`. The bundle is
//! kept next to the component as `<module>.wasm.bundle.js` (for a component built at
//! `build/validator.wasm`, `build/validator.wasm.bundle.js`): the line numbers of a guest's
//! JavaScript stack traces (`app.bundle.js:LINE`) refer to it. componentize-js's `http`
//! feature is on, so the guest's global `fetch` sends requests through `wasi:http`'s
//! `outgoing-handler`, which the host serves under the subnet's `outbound_hosts` (refusing
//! everything when there is none); `fetch-event` (an incoming-request export) is off. A
//! component that imports any other `wasi:http` interface is refused at build time: no host
//! serves it.
//!
//! Tools: `node` (`$SUBNETD_NODE`, else `node` on `PATH`) and the SDK's pinned npm packages in
//! `sdk/js/node_modules` (componentize-js, rolldown). When either is missing the error names
//! the command that installs it (`npm ci --prefix <sdk/js>`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{BuildError, Language, Toolchain, run_tool};
use crate::runtime::World;

/// The componentize-js release the SDK pins (sdk/js/package.json).
pub const COMPONENTIZE_JS_VERSION: &str = "0.23.0";

/// The node executable to run.
pub fn node_path() -> PathBuf {
    std::env::var_os("SUBNETD_NODE").map(PathBuf::from).unwrap_or_else(|| "node".into())
}

/// The guest's entry module: `package.json`'s `main` when it names one, else `app.js`.
pub fn entry_module(dir: &Path) -> Result<PathBuf, BuildError> {
    let manifest = dir.join("package.json");
    if manifest.is_file() {
        let text = std::fs::read_to_string(&manifest).map_err(|e| BuildError::io(&manifest, e))?;
        let doc: serde_json::Value = serde_json::from_str(&text).map_err(|e| BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: format!("package.json does not parse: {e}"),
        })?;
        if let Some(main) = doc.get("main").and_then(|m| m.as_str()) {
            let path = dir.join(main);
            return if path.is_file() {
                Ok(path)
            } else {
                Err(BuildError::BadOutput {
                    dir: dir.to_path_buf(),
                    reason: format!("package.json's main `{main}` does not exist"),
                })
            };
        }
    }
    let app = dir.join("app.js");
    if app.is_file() {
        Ok(app)
    } else {
        Err(BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: "a JavaScript guest needs an app.js (or a package.json whose main names its entry)".into(),
        })
    }
}

/// Where the bundled source of the component at `out` is kept: beside the final component
/// (`out` may carry the builder's temporary `.partial` suffix, which is dropped).
pub fn bundle_path(out: &Path) -> PathBuf {
    let stem = if out.extension().is_some_and(|e| e == "partial") { out.with_extension("") } else { out.to_path_buf() };
    let mut name = stem.into_os_string();
    name.push(".bundle.js");
    PathBuf::from(name)
}

/// Builds the JavaScript guest in `dir` into a component at `out`; returns every file rolldown
/// bundled (the guest's modules wherever they live, its npm packages and the SDK).
pub fn build(toolchain: &Toolchain, dir: &Path, world: World, out: &Path) -> Result<Vec<PathBuf>, BuildError> {
    let entry = entry_module(dir)?;
    let sdk = toolchain.sdk_dir().join("js");
    let script = sdk.join("build.mjs");
    if !script.is_file() {
        return Err(BuildError::BadOutput {
            dir: dir.to_path_buf(),
            reason: format!("the JavaScript SDK is not at {}", sdk.display()),
        });
    }
    let install = format!("npm ci --prefix {}", sdk.display());
    for package in ["@bytecodealliance/componentize-js", "rolldown"] {
        if !sdk.join("node_modules").join(package).join("package.json").is_file() {
            return Err(BuildError::MissingTool {
                language: Language::JavaScript,
                tool: format!("{package} (npm package of the JavaScript SDK)"),
                install,
            });
        }
    }
    let mut command = Command::new(node_path());
    command
        .current_dir(dir)
        .arg(&script)
        .arg("--app")
        .arg(&entry)
        .arg("--wit")
        .arg(toolchain.wit_dir())
        .args(["--world", &world.to_string()])
        .arg("--out")
        .arg(out)
        .arg("--bundle")
        .arg(bundle_path(out))
        .arg("--inputs")
        .arg(super::inputs_path(out));
    run_tool(command, Language::JavaScript, "node", "apt-get install -y nodejs npm", dir)?;
    let listed = super::inputs_path(out);
    let inputs = std::fs::read_to_string(&listed).map_err(|e| BuildError::io(&listed, e))?;
    let inputs: Vec<PathBuf> = inputs.lines().filter(|l| !l.is_empty()).map(PathBuf::from).collect();
    // What the host serves of wasi:http is the client side; a later componentize-js that
    // imports more must fail here, not when a daemon loads the module.
    let bytes = std::fs::read(out).map_err(|e| BuildError::io(out, e))?;
    let bad_output = |reason: String| BuildError::BadOutput { dir: dir.to_path_buf(), reason };
    let unserved: Vec<String> = component_imports(&bytes)
        .map_err(bad_output)?
        .into_iter()
        .filter(|name| name.starts_with("wasi:http/") && !SERVED_HTTP.iter().any(|s| name.starts_with(s)))
        .collect();
    if !unserved.is_empty() {
        return Err(bad_output(format!(
            "the component imports {}, which no subnetd host serves (only {})",
            unserved.join(", "),
            SERVED_HTTP.join(" and ")
        )));
    }
    Ok(inputs)
}

/// The `wasi:http` interfaces the host links (`caps::http`): `fetch` needs no more.
const SERVED_HTTP: [&str; 2] = ["wasi:http/outgoing-handler@", "wasi:http/types@"];

/// The interfaces (`package/interface@version`) and functions a component imports.
pub fn component_imports(component: &[u8]) -> Result<Vec<String>, String> {
    let decoded = wit_component::decode(component).map_err(|e| format!("{e:#}"))?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("not a component".into());
    };
    Ok(resolve.worlds[world]
        .imports
        .keys()
        .map(|key| match key {
            wit_parser::WorldKey::Interface(id) => resolve.id_of(*id).unwrap_or_else(|| resolve.name_world_key(key)),
            wit_parser::WorldKey::Name(name) => name.clone(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_read_from_components_only() {
        // An empty component (preamble only) imports nothing; bytes that are not wasm fail.
        assert_eq!(component_imports(b"\0asm\x0d\0\x01\0").unwrap(), Vec::<String>::new());
        assert!(component_imports(b"not wasm").is_err());
    }

    #[test]
    fn the_bundle_sits_beside_the_final_component() {
        assert_eq!(bundle_path(Path::new("b/validator.wasm.partial")), Path::new("b/validator.wasm.bundle.js"));
        assert_eq!(bundle_path(Path::new("b/m.wasm")), Path::new("b/m.wasm.bundle.js"));
    }

    #[test]
    fn the_entry_is_package_main_or_app_js() {
        let dir = std::env::temp_dir().join(format!("subnetd-js-entry-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(matches!(entry_module(&dir), Err(BuildError::BadOutput { .. })));
        std::fs::write(dir.join("app.js"), "").unwrap();
        assert_eq!(entry_module(&dir).unwrap(), dir.join("app.js"));
        std::fs::write(dir.join("package.json"), r#"{"main": "src/main.js"}"#).unwrap();
        assert!(matches!(entry_module(&dir), Err(BuildError::BadOutput { .. })));
        std::fs::create_dir_all(dir.join("src")).unwrap();
        std::fs::write(dir.join("src/main.js"), "").unwrap();
        assert_eq!(entry_module(&dir).unwrap(), dir.join("src/main.js"));
        std::fs::write(dir.join("package.json"), "{").unwrap();
        assert!(matches!(entry_module(&dir), Err(BuildError::BadOutput { .. })));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
