//! The registry of worlds: `kind = "..."` in a sim file picks a variant.

use std::path::Path;

use serde::{Deserialize, Serialize};
use toml::Value;

use super::SourceFile;
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
    /// every world provides the ATE, ATT and ATC.
    pub fn estimands(&self) -> &'static [Estimand] {
        match self {
            SimSpec::Iv(_) | SimSpec::Hospital(_) => {
                &[Estimand::Ate, Estimand::Att, Estimand::Atc, Estimand::Late]
            }
            SimSpec::Regions(_) => &[
                Estimand::Ate,
                Estimand::Att,
                Estimand::Atc,
                Estimand::Direct,
                Estimand::Indirect,
            ],
        }
    }

    /// Whether this world's units are placed in daily cohorts with a known
    /// true welfare of every placement (what the paper's pipeline and
    /// placement policies need).
    pub fn places_cohorts(&self) -> bool {
        matches!(self, SimSpec::Hospital(_))
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
        let valid = self.parameters().map_err(|e| e.to_string())?;
        if !valid.iter().any(|(k, _)| k == key) {
            let keys: Vec<&str> = valid.iter().map(|(k, _)| k.as_str()).collect();
            return Err(format!(
                "`{key}` names no parameter of the `{}` sim; valid keys: {}",
                self.kind(),
                keys.join(", ")
            ));
        }
        let mut root = self.to_value().map_err(|e| e.to_string())?;
        let mut node = &mut root;
        for part in key.split('.') {
            let Value::Table(table) = node else {
                return Err(format!("`{key}` names no parameter"));
            };
            node = table
                .get_mut(part)
                .ok_or_else(|| format!("`{key}` names no parameter"))?;
        }
        *node = value;
        root.try_into::<SimSpec>()
            .map_err(|e| format!("`{key}`: {}", e.message().trim()))
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
        return Err(source.error_at(
            None,
            &format!(
                "no `kind`; start the file with e.g. kind = \"iv\" (kinds: {})",
                kinds.join(", ")
            ),
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
    spec.build()
        .map_err(|e| source.error_at(None, &e.to_string()))?;
    Ok((source, spec))
}
