//! [`OnnxScorer`]: scores rows with an ONNX model, through tract (default, pure Rust)
//! or onnxruntime (`--features ort`, library from `ORT_DYLIB_PATH`).
//!
//! A model written by `workbench train --export onnx` carries our metadata
//! (`workbench.*` keys): its schema fingerprint must equal the engine's, and its
//! threshold becomes the scorer's default threshold. A model without it (trained
//! elsewhere: XGBoost through onnxmltools, scikit-learn through skl2onnx with zipmap
//! off) is refused unless foreign models are allowed (`--foreign-model`); it must then
//! read one float input of exactly the schema's width, the columns in schema order
//! (`workbench schema`, the column order of `workbench features --out x.parquet`);
//! its probability output (`probabilities`, else the last output) must be `[N, 2]`
//! (column 1, the attack class, is scored) or `[N]`/`[N, 1]`; its threshold is 0.5.
//!
//! Engine choice: `WORKBENCH_ONNX_ENGINE=tract|ort` (default `tract`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use prost::Message;
use tract_onnx::pb::ModelProto;
use tract_onnx::prelude::*;

use super::export::{INPUT, OUTPUT_PROBABILITIES};
use super::{meta, ONNX_SUFFIX};
use crate::engine::FeatureSchema;
use crate::eval::scorer::{Score, Scorer};

/// Rows per model run in [`OnnxScorer::score_rows`].
pub const BATCH_ROWS: usize = 2048;

/// Environment variable choosing the engine (`tract` or `ort`).
pub const ENGINE_ENV: &str = "WORKBENCH_ONNX_ENGINE";
/// The command-line flag allowing models without workbench metadata.
pub const FOREIGN_FLAG: &str = "--foreign-model";
/// Environment variable naming libonnxruntime.so (read by `ort` too).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Which runtime runs the model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OnnxEngine {
    /// tract-onnx (pure Rust, always built).
    #[default]
    Tract,
    /// onnxruntime via `ort` (needs `--features ort` and the shared library).
    Ort,
}

impl std::str::FromStr for OnnxEngine {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "tract" => Ok(OnnxEngine::Tract),
            "ort" | "onnxruntime" => Ok(OnnxEngine::Ort),
            _ => Err(format!("ONNX engine must be `tract` or `ort`, got {s:?}")),
        }
    }
}

/// How to load an ONNX model.
#[derive(Clone, Debug, Default)]
pub struct OnnxOptions {
    pub engine: OnnxEngine,
    /// Accept models without workbench metadata (width checked against the schema).
    pub allow_foreign: bool,
    /// libonnxruntime.so for the `ort` engine (default: `ORT_DYLIB_PATH`).
    pub ort_lib: Option<PathBuf>,
}

impl OnnxOptions {
    /// Options from the environment (`WORKBENCH_ONNX_ENGINE`, `ORT_DYLIB_PATH`);
    /// foreign models are refused (`--foreign-model` sets `allow_foreign`).
    pub fn from_env() -> Result<Self> {
        let engine = match std::env::var(ENGINE_ENV) {
            Ok(v) => v
                .parse()
                .map_err(|e: String| anyhow!("{ENGINE_ENV}: {e}"))?,
            Err(_) => OnnxEngine::Tract,
        };
        let allow_foreign = false;
        let ort_lib = std::env::var_os(ORT_DYLIB_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Ok(OnnxOptions {
            engine,
            allow_foreign,
            ort_lib,
        })
    }
}

/// What the model says about itself.
#[derive(Clone, Debug)]
pub struct OnnxInfo {
    /// `metadata_props`.
    pub metadata: BTreeMap<String, String>,
    /// Name of the (single) input.
    pub input: String,
    /// Its width when fixed.
    pub width: Option<usize>,
    /// Output names in order.
    pub outputs: Vec<String>,
    /// Index of the output scored.
    pub prob_output: usize,
    /// True when the model carries workbench metadata.
    pub ours: bool,
    /// For tract: a foreign TreeEnsembleClassifier converted into our plain-operator
    /// graph ([`super::foreign`]), described; None when the graph runs as it is.
    pub converted: Option<String>,
}

enum Runner {
    Tract(Arc<TypedRunnableModel>),
    #[cfg(feature = "ort")]
    Ort(std::sync::Mutex<ort::session::Session>),
}

/// Scores rows with an ONNX model.
pub struct OnnxScorer {
    name: String,
    threshold: f64,
    width: usize,
    info: OnnxInfo,
    engine: OnnxEngine,
    runner: Runner,
}

impl std::fmt::Debug for OnnxScorer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OnnxScorer")
            .field("name", &self.name)
            .field("threshold", &self.threshold)
            .field("width", &self.width)
            .field("engine", &self.engine)
            .finish()
    }
}

/// The name a model gets in reports: its file name without `.onnx`.
pub fn onnx_model_name(path: &Path) -> String {
    let file = path
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    file.strip_suffix(ONNX_SUFFIX)
        .map(str::to_string)
        .unwrap_or(file)
}

/// Reads the metadata and the input/output names and checks them against `schema`.
pub fn inspect(
    proto: &ModelProto,
    schema: &FeatureSchema,
    allow_foreign: bool,
) -> Result<OnnxInfo> {
    let metadata: BTreeMap<String, String> = proto
        .metadata_props
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect();
    let graph = proto.graph.as_ref().context("the model has no graph")?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    let [input] = inputs.as_slice() else {
        bail!(
            "the model has {} inputs; a scorer model reads exactly one float [N, {}] input",
            inputs.len(),
            schema.len()
        );
    };
    let width = input_width(input);
    let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
    if outputs.is_empty() {
        bail!("the model has no outputs");
    }
    let prob_output = outputs
        .iter()
        .position(|o| o == OUTPUT_PROBABILITIES)
        .unwrap_or(outputs.len() - 1);
    let ours = metadata.get(meta::FORMAT).map(String::as_str) == Some(meta::FORMAT_VALUE);
    if ours {
        let version = metadata
            .get(meta::FORMAT_VERSION)
            .map(String::as_str)
            .unwrap_or("");
        if version != meta::FORMAT_VERSION_VALUE {
            bail!(
                "workbench ONNX metadata version {version:?} is not supported (this workbench reads {})",
                meta::FORMAT_VERSION_VALUE
            );
        }
        let theirs = metadata
            .get(meta::SCHEMA_FINGERPRINT)
            .context("the model's workbench metadata has no schema fingerprint")?;
        let engine_fp = schema.fingerprint();
        if *theirs != engine_fp {
            let widths = metadata
                .get(meta::SCHEMA)
                .and_then(|s| serde_json::from_str::<FeatureSchema>(s).ok())
                .map(|s| s.widths_s);
            bail!(
                "the model was trained on feature schema {theirs} ({} columns, windows {} s) but the engine computes schema {engine_fp} ({} columns, windows {:?} s); evaluate with the model's window settings or retrain it",
                width.map_or("?".to_string(), |w| w.to_string()),
                widths.map_or("?".to_string(), |w| format!("{w:?}")),
                schema.len(),
                schema.widths_s
            );
        }
        if input.name != INPUT {
            bail!("the model's input is {:?}, expected {INPUT:?}", input.name);
        }
    } else if !allow_foreign {
        bail!(
            "the model has no workbench metadata (it was not written by `workbench train --export onnx`), so nothing says which features it expects; pass {FOREIGN_FLAG} to score it anyway (its input width must equal the schema's {} columns, in schema order: `workbench schema`)",
            schema.len()
        );
    }
    if let Some(w) = width {
        if w != schema.len() {
            bail!(
                "the model reads {w} features per row but the engine's schema has {} columns",
                schema.len()
            );
        }
    }
    Ok(OnnxInfo {
        metadata,
        input: input.name.clone(),
        width,
        outputs,
        prob_output,
        ours,
        converted: None,
    })
}

fn input_width(input: &tract_onnx::pb::ValueInfoProto) -> Option<usize> {
    use tract_onnx::pb::{tensor_shape_proto::dimension::Value, type_proto};
    let Some(type_proto::Value::TensorType(t)) = input.r#type.as_ref()?.value.as_ref() else {
        return None;
    };
    let dims = &t.shape.as_ref()?.dim;
    match dims.get(1)?.value.as_ref()? {
        Value::DimValue(v) => usize::try_from(*v).ok(),
        Value::DimParam(_) => None,
    }
}

impl OnnxScorer {
    /// Loads `path` for rows of `schema` with options from the environment.
    pub fn load(path: &Path, schema: &FeatureSchema) -> Result<Self> {
        Self::load_with(path, schema, &OnnxOptions::from_env()?)
    }

    /// Loads `path` for rows of `schema`.
    pub fn load_with(path: &Path, schema: &FeatureSchema, opts: &OnnxOptions) -> Result<Self> {
        let bytes = std::fs::read(path)
            .with_context(|| format!("reading ONNX model {}", path.display()))?;
        Self::from_bytes(onnx_model_name(path), &bytes, schema, opts)
            .with_context(|| format!("ONNX model {}", path.display()))
    }

    /// A scorer for model bytes.
    pub fn from_bytes(
        name: String,
        bytes: &[u8],
        schema: &FeatureSchema,
        opts: &OnnxOptions,
    ) -> Result<Self> {
        let proto =
            ModelProto::decode(bytes).context("not an ONNX model (protobuf decoding failed)")?;
        let mut info = inspect(&proto, schema, opts.allow_foreign)?;
        let threshold = match info.metadata.get(meta::THRESHOLD) {
            Some(t) if info.ours => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .with_context(|| format!("invalid threshold {t:?} in the metadata"))?,
            _ => 0.5,
        };
        let width = schema.len();
        let has_tree_op = proto
            .graph
            .as_ref()
            .is_some_and(|g| g.node.iter().any(|n| n.op_type.starts_with("TreeEnsemble")));
        let width_ok = info.width.is_none_or(|w| w == width);
        if opts.engine == OnnxEngine::Tract && has_tree_op && !info.ours && width_ok {
            // tract refuses the base_values onnxmltools/skl2onnx write and runs the
            // operator slowly: run the same trees as our plain-operator graph.
            let prob = info.outputs[info.prob_output].clone();
            match super::foreign::convert(&proto, width, &prob) {
                Ok(Some((e, agg))) => {
                    let bytes = super::export::export_trees(
                        &e,
                        agg,
                        super::OnnxForm::Plain,
                        &[],
                    )?;
                    let plain = ModelProto::decode(bytes.as_slice())
                        .context("re-reading the converted model")?;
                    let pinfo = inspect(&plain, schema, true)?;
                    info.converted = Some(format!(
                        "TreeEnsembleClassifier ({} trees, {agg:?}) run as the plain-operator graph",
                        e.trees.len()
                    ));
                    info.input = pinfo.input.clone();
                    info.outputs = pinfo.outputs.clone();
                    info.prob_output = pinfo.prob_output;
                    let runner = Runner::Tract(tract_plan(plain, &pinfo, width)?);
                    let s = OnnxScorer {
                        name,
                        threshold,
                        width,
                        info,
                        engine: opts.engine,
                        runner,
                    };
                    s.score_rows(&vec![0f32; width], 1)
                        .context("the converted model does not run on a row of the schema")?;
                    return Ok(s);
                }
                Ok(None) => {}
                Err(e) => eprintln!(
                    "note: {name}: its TreeEnsembleClassifier cannot be converted for tract ({e:#}); running it as it is"
                ),
            }
        }
        if opts.engine == OnnxEngine::Tract && has_tree_op && info.converted.is_none() {
            // Measured: ~470 rows/s in tract 0.23 against ~1M in onnxruntime; a large
            // dataset would take hours without a word.
            eprintln!(
                "note: {name}: tract runs ai.onnx.ml TreeEnsemble operators slowly (~500 rows/s); \
                 export with `--onnx-form plain`, or set WORKBENCH_ONNX_ENGINE=ort (build with --features ort)"
            );
        }
        let runner = match opts.engine {
            OnnxEngine::Tract => Runner::Tract(tract_plan(proto, &info, width)?),
            OnnxEngine::Ort => ort_runner(bytes, opts)?,
        };
        let s = OnnxScorer {
            name,
            threshold,
            width,
            info,
            engine: opts.engine,
            runner,
        };
        // One row through the model now, so scoring cannot meet a broken graph later.
        s.score_rows(&vec![0f32; width], 1)
            .context("the model does not run on a row of the schema")?;
        Ok(s)
    }

    /// What the model says about itself.
    pub fn info(&self) -> &OnnxInfo {
        &self.info
    }

    /// The engine running it.
    pub fn engine(&self) -> OnnxEngine {
        self.engine
    }

    /// Attack probabilities of `n` rows given row-major in `values` (`n * width`),
    /// run in batches of [`BATCH_ROWS`] (intermediate tensors stay in cache).
    pub fn score_rows(&self, values: &[f32], n: usize) -> Result<Vec<f64>> {
        if values.len() != n * self.width {
            bail!(
                "{} values for {n} rows of {} features",
                values.len(),
                self.width
            );
        }
        let mut out = Vec::with_capacity(n);
        for chunk in values.chunks(BATCH_ROWS * self.width.max(1)) {
            out.extend(self.run_batch(chunk, chunk.len() / self.width.max(1))?);
        }
        Ok(out)
    }

    fn run_batch(&self, values: &[f32], n: usize) -> Result<Vec<f64>> {
        if n == 1 {
            // A single row runs as two copies: tract reduces a [1, T] tensor in
            // another summation order than [N, T] (measured: ~0.1% of rows differed
            // in the last f32 bit), and a row's score must not depend on how many
            // rows came with it.
            let twice: Vec<f32> = values.iter().chain(values).copied().collect();
            let mut p = self.run_batch(&twice, 2)?;
            p.truncate(1);
            return Ok(p);
        }
        let (shape, probs): (Vec<usize>, Vec<f32>) = match &self.runner {
            Runner::Tract(plan) => {
                let t = Tensor::from_shape(&[n, self.width], values)?;
                let out = plan.run(tvec!(t.into()))?;
                let o = out
                    .get(self.info.prob_output)
                    .context("the model returned too few outputs")?;
                let v = o.to_plain_array_view::<f32>()?;
                (v.shape().to_vec(), v.iter().copied().collect())
            }
            #[cfg(feature = "ort")]
            Runner::Ort(session) => ort_run(session, &self.info, values, n, self.width)?,
        };
        let cols = match shape.as_slice() {
            [r] if *r == n => 1,
            [r, c] if *r == n && (*c == 1 || *c == 2) => *c,
            _ => bail!(
                "output {:?} has shape {shape:?}; expected [{n}, 2], [{n}, 1] or [{n}]",
                self.info.outputs.get(self.info.prob_output)
            ),
        };
        Ok((0..n)
            .map(|r| f64::from(probs[r * cols + cols - 1]))
            .collect())
    }
}

fn tract_plan(proto: ModelProto, info: &OnnxInfo, width: usize) -> Result<Arc<TypedRunnableModel>> {
    let onnx = tract_onnx::onnx();
    let mut model = onnx
        .model_for_proto_model(&proto)
        .map_err(|e| anyhow!("tract cannot load the model: {e:#}"))?;
    let n = model.sym("N");
    model
        .set_input_fact(
            0,
            InferenceFact::dt_shape(f32::datum_type(), tvec![n.to_dim(), width.to_dim()]),
        )
        .map_err(|e| anyhow!("tract: input {:?}: {e:#}", info.input))?;
    let plan = model
        .into_optimized()
        .and_then(|m| m.into_runnable())
        .map_err(|e| anyhow!("tract cannot prepare the model: {e:#}"))?;
    Ok(plan)
}

#[cfg(not(feature = "ort"))]
fn ort_runner(_bytes: &[u8], _opts: &OnnxOptions) -> Result<Runner> {
    bail!(
        "{ENGINE_ENV}=ort needs a workbench built with `--features ort` (this one runs ONNX with tract only; unset {ENGINE_ENV} to use it)"
    )
}

#[cfg(feature = "ort")]
static ORT_ENV: std::sync::OnceLock<std::result::Result<ort::environment::Environment, String>> =
    std::sync::OnceLock::new();

#[cfg(feature = "ort")]
fn ort_runner(bytes: &[u8], opts: &OnnxOptions) -> Result<Runner> {
    let env = ORT_ENV.get_or_init(|| {
        // ort panics when the library is missing: check first.
        let Some(lib) = opts.ort_lib.clone() else {
            return Err(format!(
                "{ENGINE_ENV}=ort needs the onnxruntime shared library: set {ORT_DYLIB_ENV} to libonnxruntime.so (for example .venv/lib/python3.11/site-packages/onnxruntime/capi/libonnxruntime.so.1.31.1 from the PyPI onnxruntime wheel)"
            ));
        };
        if !lib.is_file() {
            return Err(format!(
                "{ORT_DYLIB_ENV}={}: no such file (it must name libonnxruntime.so)",
                lib.display()
            ));
        }
        let builder = ort::init_from(&lib)
            .map_err(|e| format!("loading onnxruntime from {}: {e}", lib.display()))?;
        builder
            .with_name("workbench")
            .build()
            .map_err(|e| format!("starting onnxruntime from {}: {e}", lib.display()))
    });
    let env = env.as_ref().map_err(|e| anyhow!("{e}"))?;
    let session = ort::session::Session::builder(env)
        .and_then(|mut b| b.commit_from_memory(bytes))
        .map_err(|e| anyhow!("onnxruntime cannot load the model: {e}"))?;
    Ok(Runner::Ort(std::sync::Mutex::new(session)))
}

#[cfg(feature = "ort")]
fn ort_run(
    session: &std::sync::Mutex<ort::session::Session>,
    info: &OnnxInfo,
    values: &[f32],
    n: usize,
    width: usize,
) -> Result<(Vec<usize>, Vec<f32>)> {
    let t = ort::value::Tensor::from_array(([n, width], values.to_vec()))
        .map_err(|e| anyhow!("onnxruntime input: {e}"))?;
    let mut s = session
        .lock()
        .map_err(|_| anyhow!("the onnxruntime session was poisoned by an earlier panic"))?;
    let out = s
        .run(ort::inputs![info.input.as_str() => t])
        .map_err(|e| anyhow!("onnxruntime: {e}"))?;
    let name = info
        .outputs
        .get(info.prob_output)
        .context("no probability output")?;
    let v = out
        .get(name.as_str())
        .with_context(|| format!("onnxruntime returned no output {name:?}"))?;
    let (shape, data) = v
        .try_extract_tensor::<f32>()
        .map_err(|e| anyhow!("onnxruntime output {name:?}: {e}"))?;
    let shape: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    Ok((shape, data.to_vec()))
}

impl Scorer for OnnxScorer {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn default_threshold(&self) -> f64 {
        self.threshold
    }

    /// One model run for the whole batch (rows of the schema's width; values rounded
    /// to `f32`). A failed run scores every row NaN.
    fn score_batch(&self, rows: &[f64], n: usize, out: &mut Vec<Score>) {
        if n == 0 {
            return;
        }
        let given = rows.len() / n;
        let mut values = Vec::with_capacity(n * self.width);
        for r in 0..n {
            let row = &rows[r * given..(r + 1) * given];
            values.extend((0..self.width).map(|i| row.get(i).map_or(f32::NAN, |&v| v as f32)));
        }
        match self.score_rows(&values, n) {
            Ok(p) => out.extend(p.into_iter().map(|value| Score {
                value,
                threat: None,
            })),
            Err(_) => out.extend((0..n).map(|_| Score {
                value: f64::NAN,
                threat: None,
            })),
        }
    }

    /// The attack probability of one row (values rounded to `f32`, as in training;
    /// missing columns are NaN). A failed run scores NaN (the model ran at load time,
    /// so this needs a runtime fault).
    fn score(&self, row: &[f64]) -> Score {
        let values: Vec<f32> = (0..self.width)
            .map(|i| row.get(i).map_or(f32::NAN, |&v| v as f32))
            .collect();
        let value = self
            .score_rows(&values, 1)
            .ok()
            .and_then(|v| v.first().copied())
            .unwrap_or(f64::NAN);
        Score {
            value,
            threat: None,
        }
    }
}
