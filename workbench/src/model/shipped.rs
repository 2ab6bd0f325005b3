//! The shipped default model, compiled into the binary.
//!
//! `models/default.wbm.json` is written by `just train-default` (fixed seeds and data:
//! the same bytes on every run) and embedded here, so `eval` and `live` have a trained
//! model with no file to find at run time; `--model default` (the default of `live`)
//! selects it. Retraining it means re-running `just train-default` and rebuilding.

use anyhow::{Context, Result};

use super::ModelFile;
use crate::engine::FeatureSchema;
use crate::eval::scorer::Scorer;

/// The bytes of `models/default.wbm.json` at build time.
pub const DEFAULT_MODEL_JSON: &[u8] = include_bytes!("../../../models/default.wbm.json");

/// The name `--model` accepts for it, and the name reports show.
pub const DEFAULT_MODEL_NAME: &str = "default";

/// The embedded default model, parsed and validated.
pub fn default_model() -> Result<ModelFile> {
    let m: ModelFile = serde_json::from_slice(DEFAULT_MODEL_JSON).context(
        "the embedded default model (models/default.wbm.json) is not a valid model file",
    )?;
    m.validate()
        .context("the embedded default model (models/default.wbm.json)")?;
    Ok(m)
}

/// The default model's scorer for rows of `schema`; refused (naming the window settings
/// it needs) when the engine computes another schema.
pub fn default_scorer(schema: &FeatureSchema) -> Result<Box<dyn Scorer>> {
    let m = default_model()?;
    m.check_schema(schema)
        .map_err(|e| anyhow::anyhow!("the default model: {e}"))?;
    m.scorer(DEFAULT_MODEL_NAME.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::WindowConfig;

    #[test]
    fn embedded_model_is_valid_and_matches_the_default_window_schema() {
        let m = default_model().unwrap();
        assert!(!m.ensemble.trees.is_empty());
        let schema = FeatureSchema::for_widths(&WindowConfig::default().widths_s);
        m.check_schema(&schema).unwrap();
        let s = default_scorer(&schema).unwrap();
        assert_eq!(s.name(), "default");
        assert_eq!(s.default_threshold(), m.threshold.value);
        // Another schema is refused with the window settings named.
        let other = FeatureSchema::for_widths(&[1.0, 5.0]);
        let err = default_scorer(&other).err().unwrap().to_string();
        assert!(err.contains("--window"), "{err}");
    }

    #[test]
    fn embedded_bytes_are_the_committed_file() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../models/default.wbm.json");
        let on_disk = std::fs::read(path).unwrap();
        assert_eq!(
            on_disk, DEFAULT_MODEL_JSON,
            "models/default.wbm.json changed since this binary was built: rebuild"
        );
    }
}
