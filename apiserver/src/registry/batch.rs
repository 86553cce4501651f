//! batch/v1 (jobs, cronjobs) and autoscaling/v2 (horizontalpodautoscalers).

use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler as HorizontalPodAutoscalerV1;
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use serde_json::{Value, json};

use super::core::{CONTAINERS_COLUMN, IMAGES_COLUMN};
use super::podspec::{default, default_template, validate_pod_spec};
use super::*;
use crate::status::FieldError;

const JOB_RESTART: &[&str] = &["OnFailure", "Never"];

const SELECTOR_COLUMN: Column = Column::new(
    "Selector",
    "string",
    "A label query over pods that should match the pod count. Normally, the system sets this field for you.",
)
.wide();

pub static GROUP: Group = Group {
    name: "batch",
    versions: &[GroupVersion {
        version: "v1",
        resources: &[
            Resource {
                group: "batch",
                name: "cronjobs",
                singular: "cronjob",
                kind: "CronJob",
                short_names: &["cj"],
                categories: &["all"],
                subresources: &[Subresource::Status],
                generation: true,
                etcd_prefix: "cronjobs",
                decode: typed::<CronJob>,
                proto: proto::CRON_JOB,
                prepare_for_create: default_cronjob,
                prepare_for_update: |new, _| default_cronjob(new),
                validate: validate_cronjob,
                columns: &[
                    NAME_COLUMN,
                    Column::new(
                        "Schedule",
                        "string",
                        "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.",
                    ),
                    Column::new(
                        "Timezone",
                        "string",
                        "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones.",
                    ),
                    Column::new(
                        "Suspend",
                        "boolean",
                        "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.",
                    ),
                    Column::new("Active", "integer", "A list of pointers to currently running jobs."),
                    Column::new(
                        "Last Schedule",
                        "string",
                        "Information when was the last time the job was successfully scheduled.",
                    ),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                    SELECTOR_COLUMN,
                ],
                cells: |o| {
                    let (c, i) = containers_and_images(&o["spec"]["jobTemplate"]["spec"]["template"]["spec"]);
                    let last = if o["status"]["lastScheduleTime"].is_string() {
                        since(&o["status"]["lastScheduleTime"])
                    } else {
                        "<none>".into()
                    };
                    vec![
                        o["metadata"]["name"].clone(),
                        o["spec"]["schedule"].clone(),
                        or_none(field_value(o, "spec.timeZone")),
                        // printBoolPtr: "True", "False" or "<unset>".
                        json!(match o["spec"]["suspend"].as_bool() {
                            Some(true) => "True",
                            Some(false) => "False",
                            None => "<unset>",
                        }),
                        json!(o["status"]["active"].as_array().map_or(0, Vec::len)),
                        json!(last),
                        json!(age(o)),
                        c,
                        i,
                        or_none(selector_string(&o["spec"]["jobTemplate"]["spec"]["selector"])),
                    ]
                },
                ..BASE
            },
            Resource {
                group: "batch",
                name: "jobs",
                singular: "job",
                kind: "Job",
                categories: &["all"],
                subresources: &[Subresource::Status],
                generation: true,
                etcd_prefix: "jobs",
                decode: typed::<Job>,
                proto: proto::JOB,
                field_selectors: &[("status.successful", "status.succeeded")],
                prepare_for_create: |o| {
                    generate_selector(o);
                    default_job_spec(&mut o["spec"]);
                    if o["metadata"]["labels"].as_object().is_none_or(|m| m.is_empty()) {
                        o["metadata"]["labels"] = o["spec"]["template"]["metadata"]["labels"].clone();
                    }
                },
                prepare_for_update: |new, _| default_job_spec(&mut new["spec"]),
                validate: |o| {
                    let mut errs = validate_job_spec(&o["spec"], "spec");
                    if o["spec"]["selector"].as_object().is_none_or(|m| m.is_empty()) {
                        errs.push(FieldError::required("spec.selector", ""));
                    }
                    // The name becomes a label value on the job's pods.
                    let name = o["metadata"]["name"].as_str().unwrap_or_default();
                    if name.len() > 63 {
                        errs.push(FieldError::invalid("metadata.name", name, "must be no more than 63 characters"));
                    }
                    errs
                },
                validate_update: |new, old| {
                    let mut errs = Vec::new();
                    if new["spec"]["selector"] != old["spec"]["selector"] {
                        errs.push(FieldError {
                            reason: "FieldValueInvalid",
                            field: "spec.selector".into(),
                            message: format!(
                                "spec.selector: Invalid value: {}: field is immutable",
                                super::apps::go_label_selector(&new["spec"]["selector"])
                            ),
                        });
                    }
                    if new["spec"]["completions"] != old["spec"]["completions"]
                        && new["spec"]["completionMode"] != "Indexed"
                    {
                        errs.push(immutable("spec.completions", &new["spec"]["completions"]));
                    }
                    // The template is fixed once the job runs; a suspended job that never
                    // started may change its pods' scheduling directives.
                    let suspended_fresh = old["spec"]["suspend"] == json!(true) && old["status"]["startTime"].is_null();
                    let mask = |o: &Value| {
                        let mut t = o["spec"]["template"].clone();
                        if suspended_fresh && let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
                            for f in ["nodeSelector", "tolerations", "affinity", "schedulingGates"] {
                                spec.shift_remove(f);
                            }
                            t["metadata"].as_object_mut().map(|m| {
                                m.shift_remove("labels");
                                m.shift_remove("annotations")
                            });
                        }
                        t
                    };
                    if mask(new) != mask(old) {
                        errs.push(FieldError {
                            reason: "FieldValueInvalid",
                            field: "spec.template".into(),
                            message: "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
                                .into(),
                        });
                    }
                    errs
                },
                columns: &[
                    NAME_COLUMN,
                    Column::new("Status", "string", "Status of the job."),
                    Column::new("Completions", "string", "The number of pods which reached phase Succeeded."),
                    Column::new("Duration", "string", "Time required to complete the job."),
                    AGE_COLUMN,
                    CONTAINERS_COLUMN,
                    IMAGES_COLUMN,
                    SELECTOR_COLUMN,
                ],
                cells: job_cells,
                ..BASE
            },
        ],
    }],
};

const HPA_BASE: Resource = Resource {
    group: "autoscaling",
    name: "horizontalpodautoscalers",
    singular: "horizontalpodautoscaler",
    kind: "HorizontalPodAutoscaler",
    short_names: &["hpa"],
    categories: &["all"],
    subresources: &[Subresource::Status],
    etcd_prefix: "horizontalpodautoscalers",
    columns: HPA_COLUMNS,
    ..BASE
};

/// autoscaling: v2 (preferred, and the stored shape) and v1 (converted).
pub static AUTOSCALING: Group = Group {
    name: "autoscaling",
    versions: &[
        GroupVersion {
            version: "v2",
            resources: &[Resource {
                version: "v2",
                decode: typed::<HorizontalPodAutoscaler>,
                prepare_for_create: default_hpa,
                prepare_for_update: |new, _| default_hpa(new),
                validate: validate_hpa,
                cells: hpa_cells,
                ..HPA_BASE
            }],
        },
        GroupVersion {
            version: "v1",
            resources: &[Resource {
                version: "v1",
                decode: typed::<HorizontalPodAutoscalerV1>,
                proto: proto::HPA_V1,
                storage_form: Some((hpa_v1_to_v2, hpa_v2_to_v1)),
                prepare_for_create: |o| default(&mut o["spec"], "minReplicas", json!(1)),
                prepare_for_update: |new, _| default(&mut new["spec"], "minReplicas", json!(1)),
                validate: |o| validate_hpa(&hpa_v1_to_v2(o.clone())),
                cells: |o| hpa_cells(&hpa_v1_to_v2(o.clone())),
                ..HPA_BASE
            }],
        },
    ],
};

fn validate_hpa(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let min = o["spec"]["minReplicas"].as_i64().unwrap_or(1);
    let max = o["spec"]["maxReplicas"].as_i64().unwrap_or(0);
    if min < 1 {
        errs.push(FieldError::invalid_value("spec.minReplicas", &json!(min), "must be greater than or equal to 1"));
    }
    if max < min {
        errs.push(FieldError::invalid_value(
            "spec.maxReplicas",
            &json!(max),
            "must be greater than or equal to `minReplicas`",
        ));
    }
    for f in ["kind", "name"] {
        if o["spec"]["scaleTargetRef"][f].as_str().is_none_or(str::is_empty) {
            errs.push(FieldError::required(&format!("spec.scaleTargetRef.{f}"), ""));
        }
    }
    errs
}

const HPA_COLUMNS: &[Column] = &[
    NAME_COLUMN,
    Column::new(
        "Reference",
        "string",
        "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count.",
    ),
    Column::new(
        "Targets",
        "string",
        "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used).",
    ),
    Column::new(
        "MinPods",
        "string",
        "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down.",
    ),
    Column::new(
        "MaxPods",
        "string",
        "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up.",
    ),
    Column::new(
        "Replicas",
        "string",
        "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler.",
    ),
    AGE_COLUMN,
];

fn hpa_cells(o: &Value) -> Vec<Value> {
    let r = &o["spec"]["scaleTargetRef"];
    let reference = format!("{}/{}", r["kind"].as_str().unwrap_or_default(), r["name"].as_str().unwrap_or_default());
    let targets: Vec<String> = o["spec"]["metrics"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            let t = &m["resource"]["target"];
            let name = m["resource"]["name"].as_str().unwrap_or("<unknown>");
            match t["averageUtilization"].as_i64() {
                Some(u) => format!("{name}: <unknown>/{u}%"),
                None => format!(
                    "{name}: <unknown>/{}",
                    t["averageValue"].as_str().or(t["value"].as_str()).unwrap_or("<unknown>")
                ),
            }
        })
        .collect();
    vec![
        o["metadata"]["name"].clone(),
        json!(reference),
        if targets.is_empty() { json!("<none>") } else { json!(targets.join(", ")) },
        json!(o["spec"]["minReplicas"].as_i64().unwrap_or(1)),
        json!(o["spec"]["maxReplicas"].as_i64().unwrap_or(0)),
        json!(o["status"]["currentReplicas"].as_i64().unwrap_or(0)),
        json!(age(o)),
    ]
}

/// autoscaling/v1 → v2: the CPU target becomes a Resource metric.
fn hpa_v1_to_v2(mut o: Value) -> Value {
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut)
        && let Some(cpu) = spec.shift_remove("targetCPUUtilizationPercentage")
    {
        spec.insert(
            "metrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": cpu}}}]),
        );
    }
    if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut)
        && let Some(cpu) = status.shift_remove("currentCPUUtilizationPercentage")
    {
        status.insert(
            "currentMetrics".into(),
            json!([{"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": cpu}}}]),
        );
    }
    o["apiVersion"] = json!("autoscaling/v2");
    o
}

/// autoscaling/v2 → v1: the CPU utilization target and current value (v1 has no place
/// for other metrics or the behavior; an update through v1 keeps only the CPU target).
fn hpa_v2_to_v1(mut o: Value) -> Value {
    let cpu = |list: &Value, side: &str| {
        list.as_array()
            .into_iter()
            .flatten()
            .find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
            .and_then(|m| m["resource"][side]["averageUtilization"].as_i64())
    };
    if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
        let target = spec.get("metrics").and_then(|m| cpu(m, "target"));
        spec.shift_remove("metrics");
        spec.shift_remove("behavior");
        if let Some(t) = target {
            spec.insert("targetCPUUtilizationPercentage".into(), json!(t));
        }
    }
    if let Some(status) = o.get_mut("status").and_then(Value::as_object_mut) {
        let current = status.get("currentMetrics").and_then(|m| cpu(m, "current"));
        status.shift_remove("currentMetrics");
        status.shift_remove("conditions");
        if let Some(c) = current {
            status.insert("currentCPUUtilizationPercentage".into(), json!(c));
        }
    }
    o["apiVersion"] = json!("autoscaling/v1");
    o
}

fn default_hpa(o: &mut Value) {
    default(&mut o["spec"], "minReplicas", json!(1));
    if o["spec"]["metrics"].as_array().is_none_or(Vec::is_empty) {
        o["spec"]["metrics"] = json!([{
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
        }]);
    }
}

/// The job strategy: a selector on the job's uid, and its labels on the template.
fn generate_selector(o: &mut Value) {
    if o["spec"]["manualSelector"] == json!(true) {
        return;
    }
    let uid = o["metadata"]["uid"].clone();
    let name = o["metadata"]["name"].clone();
    if !o["spec"].is_object() {
        o["spec"] = json!({});
    }
    if o["spec"]["selector"].as_object().is_none_or(|m| m.is_empty()) {
        o["spec"]["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
    let t = &mut o["spec"]["template"];
    if !t["metadata"].is_object() {
        t["metadata"] = json!({});
    }
    if !t["metadata"]["labels"].is_object() {
        t["metadata"]["labels"] = json!({});
    }
    let labels = &mut t["metadata"]["labels"];
    for (k, v) in [
        ("batch.kubernetes.io/controller-uid", &uid),
        ("batch.kubernetes.io/job-name", &name),
        ("controller-uid", &uid),
        ("job-name", &name),
    ] {
        default(labels, k, v.clone());
    }
}

/// `SetDefaults_Job` on a job spec.
fn default_job_spec(spec: &mut Value) {
    if !spec.is_object() {
        *spec = json!({});
    }
    if spec["completions"].is_null() && spec["parallelism"].is_null() {
        spec["completions"] = json!(1);
    }
    default(spec, "parallelism", json!(1));
    if spec["backoffLimitPerIndex"].is_null() {
        default(spec, "backoffLimit", json!(6));
    }
    default(spec, "completionMode", json!("NonIndexed"));
    default(spec, "suspend", json!(false));
    if spec["podFailurePolicy"].is_null() {
        default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    } else {
        default(spec, "podReplacementPolicy", json!("Failed"));
    }
    default_template(&mut spec["template"]);
}

fn validate_job_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let tpath = format!("{path}.template.spec");
    let mut errs = validate_pod_spec(&spec["template"]["spec"], &tpath);
    match spec["template"]["spec"]["restartPolicy"].as_str() {
        Some(rp) if JOB_RESTART.contains(&rp) => {}
        Some(rp) => errs.push(FieldError::not_supported(&format!("{tpath}.restartPolicy"), rp, JOB_RESTART)),
        None => errs.push(FieldError::required(&format!("{tpath}.restartPolicy"), "")),
    }
    for f in ["parallelism", "completions", "backoffLimit", "activeDeadlineSeconds"] {
        if let Some(n) = spec[f].as_i64()
            && n < 0
        {
            errs.push(FieldError::invalid_value(
                &format!("{path}.{f}"),
                &json!(n),
                "must be greater than or equal to 0",
            ));
        }
    }
    errs
}

fn default_cronjob(o: &mut Value) {
    let spec = &mut o["spec"];
    if !spec.is_object() {
        *spec = json!({});
    }
    default(spec, "concurrencyPolicy", json!("Allow"));
    default(spec, "suspend", json!(false));
    default(spec, "successfulJobsHistoryLimit", json!(3));
    default(spec, "failedJobsHistoryLimit", json!(1));
    default_template(&mut spec["jobTemplate"]["spec"]["template"]);
}

/// A cron schedule as robfig/cron's standard parser reads it: five fields or an `@`
/// descriptor; the error is the parser's (or upstream's rule against TZ prefixes).
fn parse_schedule(s: &str) -> Result<(), String> {
    let spec = s.trim();
    if spec.contains("TZ") {
        return Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if spec.starts_with('@') {
        let known = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];
        return if known.contains(&spec) || spec.starts_with("@every ") {
            Ok(())
        } else {
            Err(format!("unrecognized descriptor: {spec}"))
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: {spec}", fields.len()));
    }
    for f in fields {
        if !f.bytes().all(|c| c.is_ascii_alphanumeric() || b"*/,-?".contains(&c)) {
            return Err(format!("failed to parse int from {f}: strconv.Atoi: parsing {f:?}: invalid syntax"));
        }
    }
    Ok(())
}

#[cfg(test)]
fn valid_schedule(s: &str) -> bool {
    parse_schedule(s).is_ok()
}

fn validate_cronjob(o: &Value) -> Vec<FieldError> {
    let mut errs = Vec::new();
    // Job names are the cronjob's plus an 11-character suffix, within 63.
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    if name.len() > 52 {
        errs.push(FieldError::invalid("metadata.name", name, "must be no more than 52 characters"));
    }
    let schedule = o["spec"]["schedule"].as_str().unwrap_or_default();
    if schedule.is_empty() {
        errs.push(FieldError::required("spec.schedule", ""));
    } else if let Err(e) = parse_schedule(schedule) {
        errs.push(FieldError::invalid("spec.schedule", schedule, &e));
    }
    if let Some(p) = o["spec"]["concurrencyPolicy"].as_str()
        && !["Allow", "Forbid", "Replace"].contains(&p)
    {
        errs.push(FieldError::not_supported("spec.concurrencyPolicy", p, &["Allow", "Forbid", "Replace"]));
    }
    errs.extend(validate_job_spec(&o["spec"]["jobTemplate"]["spec"], "spec.jobTemplate.spec"));
    errs
}

fn job_cells(o: &Value) -> Vec<Value> {
    let (c, i) = containers_and_images(&o["spec"]["template"]["spec"]);
    let conds = o["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let has = |t: &str| conds.iter().any(|c| c["type"] == t && c["status"] == "True");
    let status = if has("Complete") {
        "Complete"
    } else if has("Failed") {
        "Failed"
    } else if o["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else if has("SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if has("FailureTarget") {
        "FailureTarget"
    } else if has("Suspended") {
        "Suspended"
    } else {
        "Running"
    };
    let succeeded = o["status"]["succeeded"].as_i64().unwrap_or(0);
    let completions = match o["spec"]["completions"].as_i64() {
        Some(n) => format!("{succeeded}/{n}"),
        None => match o["spec"]["parallelism"].as_i64().unwrap_or(0) {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match timestamp(&o["status"]["startTime"]) {
        Some(start) => {
            let end = timestamp(&o["status"]["completionTime"]).unwrap_or_else(unix_now);
            human_duration((end - start).max(0))
        }
        None => String::new(),
    };
    vec![
        o["metadata"]["name"].clone(),
        json!(status),
        json!(completions),
        json!(duration),
        json!(age(o)),
        c,
        i,
        or_none(selector_string(&o["spec"]["selector"])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules() {
        assert_eq!(parse_schedule("bogus"), Err("expected exactly 5 fields, found 1: bogus".into()));
        assert!(parse_schedule("TZ=UTC 0 * * * *").unwrap_err().starts_with("cannot use TZ"));
        for ok in ["*/1 * * * *", "0 0 * * 0", "@hourly"] {
            assert!(valid_schedule(ok), "{ok}");
        }
        for bad in ["* * *", "every minute", "@sometimes"] {
            assert!(!valid_schedule(bad), "{bad}");
        }
    }

    #[test]
    fn job_defaults_and_selector() {
        let mut job = json!({"metadata": {"name": "pi", "uid": "u1"}, "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "perl"}], "restartPolicy": "Never"}}}});
        generate_selector(&mut job);
        default_job_spec(&mut job["spec"]);
        assert_eq!(job["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"], "u1");
        assert_eq!(job["spec"]["template"]["metadata"]["labels"]["job-name"], "pi");
        assert_eq!((job["spec"]["completions"].as_i64(), job["spec"]["parallelism"].as_i64()), (Some(1), Some(1)));
        assert_eq!(job["spec"]["backoffLimit"], 6);
        assert!(validate_job_spec(&job["spec"], "spec").is_empty());
        assert_eq!(job_cells(&job)[2], "0/1");
    }
}
