//! The registry of worlds: `kind = "..."` in a sim file picks a variant.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Value;

use super::SourceFile;
use crate::core::text::elide;
use crate::core::Estimand;
use crate::sim::{hospital::HospitalWorld, iv::IvWorld, regions::RegionsWorld, Sim};
use crate::{Error, Result};

/// A world's spec, tagged by `kind`; each variant's payload is the world's parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SimSpec {
    /// Binary instrument, compliance types, unobserved confounding (`sims/iv.toml`).
    Iv(IvWorld),
    /// Hospitals, NCUs, daily cohorts, congestion; calibrated to the placement paper (`sims/swiss_ncu.toml`).
    Hospital(HospitalWorld),
    /// Regions as structural equations with a causal graph, mediators and
    /// latent nodes (`sims/regions.toml`).
    Regions(RegionsWorld),
}

impl SimSpec {
    /// Validates the parameters and builds the runnable world.
    pub fn build(&self) -> Result<Box<dyn Sim>> {
        Ok(match self {
            SimSpec::Iv(world) => Box::new(world.build()?),
            SimSpec::Hospital(world) => Box::new(world.build()?),
            SimSpec::Regions(world) => Box::new(world.build()?),
        })
    }

    /// The estimands this world's truth provides for every sample: what an
    /// estimator may target on it. Every world knows each unit's effect, so
    /// every world with a binary treatment provides the ATE, ATT and ATC; a
    /// regions world whose treatment is a dose provides the ATE (of one more
    /// unit of dose) and the average slope instead of the ATT and ATC.
    pub fn estimands(&self) -> &'static [Estimand] {
        match self {
            SimSpec::Iv(_) | SimSpec::Hospital(_) => {
                &[Estimand::Ate, Estimand::Att, Estimand::Atc, Estimand::Late]
            }
            SimSpec::Regions(w) if w.continuous_treatment() => &[
                Estimand::Ate,
                Estimand::Slope,
                Estimand::Direct,
                Estimand::Indirect,
            ],
            SimSpec::Regions(_) => &[
                Estimand::Ate,
                Estimand::Att,
                Estimand::Atc,
                Estimand::Direct,
                Estimand::Indirect,
            ],
        }
    }

    /// Whether this world's treatment is continuous (a dose): a regions
    /// world whose treatment node is continuous.
    pub fn treatment_is_dose(&self) -> bool {
        matches!(self, SimSpec::Regions(w) if w.continuous_treatment())
    }

    /// Whether this world's units are placed in daily cohorts with a known
    /// true welfare of every placement (what the paper's pipeline and
    /// placement policies need).
    pub fn places_cohorts(&self) -> bool {
        matches!(self, SimSpec::Hospital(_))
    }

    /// The periods the world runs after its observational sample (its
    /// `[periods]`), which feedback policies need; 0 for a one-period world.
    pub fn periods(&self) -> usize {
        match self {
            SimSpec::Regions(world) => world.periods.count,
            _ => 0,
        }
    }

    /// About how many rows and columns one sample of this world holds
    /// (covariates, treatment, outcome and truth columns), from its sizes
    /// alone, so that a run can judge its memory before it draws anything.
    pub fn sample_shape(&self) -> (f64, f64) {
        match self {
            SimSpec::Iv(w) => (w.n as f64, w.covariates as f64 + 12.0),
            SimSpec::Regions(w) => (
                w.n as f64,
                (w.nodes.len() + w.covariates.count) as f64 + 12.0,
            ),
            SimSpec::Hospital(w) => (
                w.scale * w.cohort_days as f64 * w.cohort.mean_size,
                (w.comorbidities + w.codes) as f64 + 30.0,
            ),
        }
    }

    /// The `kind` string of this world.
    pub fn kind(&self) -> &'static str {
        match self {
            SimSpec::Iv(_) => "iv",
            SimSpec::Hospital(_) => "hospital",
            SimSpec::Regions(_) => "regions",
        }
    }

    /// One default-parameter spec of every world, for `causim list`.
    pub fn all_defaults() -> Vec<SimSpec> {
        vec![
            SimSpec::Iv(IvWorld::default()),
            SimSpec::Hospital(HospitalWorld::default()),
            SimSpec::Regions(RegionsWorld::default()),
        ]
    }

    /// A one-line description and a description of each parameter, for `causim list`.
    pub fn docs(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self {
            SimSpec::Iv(_) => (crate::sim::iv::SUMMARY, crate::sim::iv::PARAMETERS),
            SimSpec::Hospital(_) => (
                crate::sim::hospital::SUMMARY,
                crate::sim::hospital::PARAMETERS,
            ),
            SimSpec::Regions(_) => (
                crate::sim::regions::SUMMARY,
                crate::sim::regions::PARAMETERS,
            ),
        }
    }

    /// Every parameter as (dotted key, current value), in declaration order.
    pub fn parameters(&self) -> Result<Vec<(String, Value)>> {
        fn walk(prefix: Option<&str>, value: &Value, out: &mut Vec<(String, Value)>) {
            if let Value::Table(t) = value {
                for (k, v) in t {
                    let key = prefix.map_or_else(|| k.clone(), |p| format!("{p}.{k}"));
                    match v {
                        Value::Table(_) => walk(Some(&key), v, out),
                        _ if key == "kind" => {}
                        _ => out.push((key, v.clone())),
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(None, &self.to_value()?, &mut out);
        Ok(out)
    }

    /// This spec with the parameter at dotted `key` set to `value`; the error
    /// says why (no such parameter, with the valid keys, or a wrong type).
    pub fn with(&self, key: &str, value: Value) -> std::result::Result<SimSpec, String> {
        self.with_all(&[(key, value)])
    }

    /// This spec with every `(key, value)` of `settings` set, in one pass
    /// (a sweep cell sets every axis at once); errors as in [`SimSpec::with`].
    pub fn with_all(&self, settings: &[(&str, Value)]) -> std::result::Result<SimSpec, String> {
        let mut root = self.to_value().map_err(|e| e.to_string())?;
        for (key, value) in settings {
            let mut node = &mut root;
            for part in key.split('.') {
                match node {
                    Value::Table(table) if table.contains_key(part) => {
                        node = table.get_mut(part).ok_or("a parameter vanished")?;
                    }
                    _ => return Err(self.no_parameter(key)),
                }
            }
            if matches!(node, Value::Table(_)) || *key == "kind" {
                return Err(self.no_parameter(key));
            }
            *node = value.clone();
        }
        let keys: Vec<&str> = settings.iter().map(|(k, _)| *k).collect();
        root.try_into::<SimSpec>()
            .map_err(|e| format!("`{}`: {}", keys.join("`, `"), elide(e.message().trim())))
    }

    /// The error for a key that names no parameter, with the valid keys.
    fn no_parameter(&self, key: &str) -> String {
        let keys: Vec<String> = self
            .parameters()
            .map(|p| p.into_iter().map(|(k, _)| k).collect())
            .unwrap_or_default();
        format!(
            "`{}` names no parameter of the `{}` sim; valid keys: {}",
            elide(key),
            self.kind(),
            keys.join(", ")
        )
    }

    fn to_value(&self) -> Result<Value> {
        Value::try_from(self).map_err(|e| Error::Spec(format!("cannot serialize the sim: {e}")))
    }
}

/// Just the `kind` of a sim file, with its position.
#[derive(Deserialize)]
struct KindOnly {
    kind: Option<toml::Spanned<String>>,
}

/// Reads and validates a sim file, with file and line:column in every error.
///
/// serde's internally tagged enums buffer their input and lose TOML's
/// positions, so the file is read in two steps: first its `kind`, then the
/// world's own parameters from the same text with the `kind` line blanked
/// out (positions unchanged), so a typo deep in the file still points at its line.
pub fn load_sim(path: &Path) -> Result<(SourceFile, SimSpec)> {
    let source = SourceFile::read(path)?;
    let kinds: Vec<&str> = SimSpec::all_defaults().iter().map(SimSpec::kind).collect();
    let Some(kind) = source.parse::<KindOnly>()?.kind else {
        let experiment = source
            .text
            .parse::<toml::Table>()
            .is_ok_and(|t| t.contains_key("sim") || t.contains_key("estimators"));
        let hint = if experiment {
            "this is an experiment file (it has `sim` or `[[estimators]]`), not a sim; point \
             `sim` at a world such as sims/iv.toml, or run this file itself"
        } else {
            "start the file with e.g. kind = \"iv\""
        };
        return Err(source.error_at(
            None,
            &format!("no `kind`; {hint} (kinds: {})", kinds.join(", ")),
        ));
    };
    let span = kind.span();
    let line_start = source.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
    let mut blanked = source.text.clone();
    blanked.replace_range(line_start..span.end, &" ".repeat(span.end - line_start));
    let parameters = SourceFile {
        path: source.path.clone(),
        text: blanked,
    };
    if let Some(default) = SimSpec::all_defaults()
        .into_iter()
        .find(|d| d.kind() == kind.get_ref().as_str())
    {
        super::lint::check_shapes(&parameters, &[], &default.to_value()?)?;
    }
    let spec = match kind.get_ref().as_str() {
        "iv" => SimSpec::Iv(parameters.parse()?),
        "hospital" => SimSpec::Hospital(parameters.parse()?),
        "regions" => SimSpec::Regions(parameters.parse()?),
        other => {
            return Err(source.error_at(
                Some(span),
                &format!("unknown sim kind `{other}`; kinds: {}", kinds.join(", ")),
            ))
        }
    };
    spec.build().map_err(|e| {
        let message = e.to_string();
        source.error_at(super::lint::locate(&source, &message), &message)
    })?;
    Ok((source, spec))
}
