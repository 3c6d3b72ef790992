//! Replays the inputs of the cargo-fuzz target `handler` (`fuzz/`): every file under
//! `fuzz/regressions/handler/` (a body that found a bug) and `fuzz/seeds/handler/`, through
//! `Function::handle_json` with the shipped model, with the target's invariants. So `cargo test`
//! on stable keeps the fixes without cargo-fuzz.

use service::Function;
use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the service crate lives in the workspace")
}

#[test]
fn handler_inputs() {
    let function = Function::load(&root().join("models/artifacts")).expect("the shipped model");
    let mut files: Vec<PathBuf> = ["regressions", "seeds"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(root().join("fuzz").join(d).join("handler"))
                .map(|it| it.map(|e| e.expect("a directory entry").path()).collect())
                .unwrap_or_else(|_| Vec::new())
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no inputs for the handler fuzz target");
    for file in files {
        let name = file.display();
        let body = std::fs::read(&file).expect("a fuzz input");
        match function.handle_json(&body) {
            Ok(response) => {
                assert!(
                    !response.predictions.is_empty(),
                    "{name}: an empty response"
                );
                for p in &response.predictions {
                    assert!(
                        (0.0..=1.0).contains(&p.probability),
                        "{name}: probability {} out of [0, 1]",
                        p.probability
                    );
                }
                let json = serde_json::to_vec(&response).expect("a response serializes");
                serde_json::from_slice::<serde_json::Value>(&json)
                    .unwrap_or_else(|e| panic!("{name}: the response is not JSON: {e}"));
            }
            Err(e) => {
                assert!(!e.error_type().is_empty(), "{name}: an empty errorType");
                assert!(!e.to_string().is_empty(), "{name}: an empty errorMessage");
            }
        }
    }
}
