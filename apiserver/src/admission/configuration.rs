//! `--admission-control-config-file`: an `apiserver.config.k8s.io/v1` AdmissionConfiguration
//! (YAML or JSON) naming per-plugin configurations, each inline (`configuration`) or in a
//! file (`path`, relative to the AdmissionConfiguration's directory), as upstream reads it.

use std::path::Path;

use serde_json::Value;

const API_VERSIONS: &[&str] =
    &["apiserver.config.k8s.io/v1", "apiserver.config.k8s.io/v1alpha1", "apiserver.k8s.io/v1alpha1"];

fn read(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("unable to read admission control configuration from {:?} [{e}]", path.display()))?;
    serde_saphyr::from_str::<Value>(&text)
        .map_err(|e| format!("unable to decode admission control configuration {:?}: {e}", path.display()))
}

/// The plugins' configurations, by plugin name, from an AdmissionConfiguration file.
pub fn load(path: &Path) -> Result<Vec<(String, Value)>, String> {
    let doc = read(path)?;
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    if doc["kind"] != "AdmissionConfiguration" || !API_VERSIONS.contains(&api_version) {
        return Err(format!(
            "{:?}: not an AdmissionConfiguration (want apiVersion apiserver.config.k8s.io/v1, kind AdmissionConfiguration)",
            path.display()
        ));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<(String, Value)> = Vec::new();
    for p in doc["plugins"].as_array().into_iter().flatten() {
        let name = p["name"].as_str().unwrap_or_default().to_string();
        if name.is_empty() {
            return Err(format!("{:?}: a plugin entry has no name", path.display()));
        }
        let cfg = match (p.get("configuration").filter(|c| !c.is_null()), p["path"].as_str().filter(|s| !s.is_empty()))
        {
            (Some(c), _) => c.clone(),
            (None, Some(file)) => {
                let file = Path::new(file);
                read(&if file.is_absolute() { file.to_path_buf() } else { dir.join(file) })?
            }
            (None, None) => continue,
        };
        out.push((name, cfg));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_path_configurations() {
        let dir = tempfile::tempdir().unwrap();
        let psa = "apiVersion: pod-security.admission.config.k8s.io/v1\nkind: PodSecurityConfiguration\ndefaults:\n  enforce: baseline\n";
        std::fs::write(dir.path().join("psa.yaml"), psa).unwrap();
        let main = dir.path().join("admission.yaml");
        std::fs::write(
            &main,
            "apiVersion: apiserver.config.k8s.io/v1\nkind: AdmissionConfiguration\nplugins:\n- name: PodSecurity\n  path: psa.yaml\n- name: Other\n  configuration:\n    a: 1\n",
        )
        .unwrap();
        let got = load(&main).unwrap();
        assert_eq!(got[0].0, "PodSecurity");
        assert_eq!(got[0].1["defaults"]["enforce"], "baseline");
        assert_eq!(got[1].1["a"], 1);
        std::fs::write(&main, "apiVersion: v1\nkind: ConfigMap\n").unwrap();
        assert!(load(&main).is_err());
        assert!(load(&dir.path().join("missing.yaml")).unwrap_err().starts_with("unable to read"));
    }
}
