//! The OpenAPI documents: `/openapi/v3` (an index of group versions, then one OpenAPI
//! 3.0 document per group version) and `/openapi/v2` (one Swagger 2.0 document), as
//! `kubectl explain` and kubectl's checks for server-side features read them.
//!
//! Schemas and their descriptions come from k8s-openapi's `schemars` impls; we add what
//! clients look for on top of them: `x-kubernetes-group-version-kind` on every kind,
//! list kinds, and one path per served operation (with the `dryRun`, `fieldManager`
//! and `fieldValidation` parameters kubectl probes for). Documents are built once: the
//! served resources are fixed at start.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};

use k8s_openapi::Resource as _;
use schemars::SchemaGenerator;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::registry::{self, Resource, Subresource};

type SchemaFn = fn(&mut SchemaGenerator) -> schemars::Schema;

/// A kind with a schema: (group, version, kind, schema).
struct Kind {
    group: &'static str,
    version: &'static str,
    kind: &'static str,
    schema: SchemaFn,
}

macro_rules! kinds {
    ($($t:ty),* $(,)?) => {
        &[$(Kind {
            group: <$t>::GROUP,
            version: <$t>::VERSION,
            kind: <$t>::KIND,
            schema: |g| g.subschema_for::<$t>(),
        }),*]
    };
}

/// Every kind the apiserver may serve, with its schema.
static KINDS: &[Kind] = {
    use k8s_openapi::api::{
        admissionregistration, apps, authentication, authorization, autoscaling, batch, certificates, coordination,
        core, discovery, events, networking, node, policy, rbac, scheduling, storage,
    };
    kinds![
        core::v1::Binding,
        core::v1::ConfigMap,
        core::v1::Endpoints,
        core::v1::Event,
        core::v1::LimitRange,
        core::v1::Namespace,
        core::v1::Node,
        core::v1::PersistentVolume,
        core::v1::PersistentVolumeClaim,
        core::v1::Pod,
        core::v1::PodTemplate,
        core::v1::ReplicationController,
        core::v1::ResourceQuota,
        core::v1::Secret,
        core::v1::Service,
        core::v1::ServiceAccount,
        admissionregistration::v1::MutatingWebhookConfiguration,
        admissionregistration::v1::ValidatingWebhookConfiguration,
        apps::v1::ControllerRevision,
        apps::v1::DaemonSet,
        apps::v1::Deployment,
        apps::v1::ReplicaSet,
        apps::v1::StatefulSet,
        authentication::v1::SelfSubjectReview,
        authentication::v1::TokenRequest,
        authentication::v1::TokenReview,
        authorization::v1::LocalSubjectAccessReview,
        authorization::v1::SelfSubjectAccessReview,
        authorization::v1::SelfSubjectRulesReview,
        authorization::v1::SubjectAccessReview,
        autoscaling::v1::HorizontalPodAutoscaler,
        autoscaling::v1::Scale,
        autoscaling::v2::HorizontalPodAutoscaler,
        batch::v1::CronJob,
        certificates::v1::CertificateSigningRequest,
        batch::v1::Job,
        coordination::v1::Lease,
        discovery::v1::EndpointSlice,
        events::v1::Event,
        networking::v1::IPAddress,
        networking::v1::Ingress,
        networking::v1::IngressClass,
        networking::v1::NetworkPolicy,
        networking::v1::ServiceCIDR,
        node::v1::RuntimeClass,
        policy::v1::Eviction,
        policy::v1::PodDisruptionBudget,
        rbac::v1::ClusterRole,
        rbac::v1::ClusterRoleBinding,
        rbac::v1::Role,
        rbac::v1::RoleBinding,
        scheduling::v1::PriorityClass,
        storage::v1::CSIDriver,
        storage::v1::CSINode,
        storage::v1::StorageClass,
        storage::v1::VolumeAttachment,
        k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
    ]
};

fn kind_schema(group: &str, version: &str, kind: &str) -> Option<SchemaFn> {
    KINDS.iter().find(|k| k.group == group && k.version == version && k.kind == kind).map(|k| k.schema)
}

/// The merge tables of a resource: strategic merge patch's merging lists and server-side
/// apply's list and map types, for every field its kind's schema reaches, from the merge
/// facts in [`crate::merging`]. A custom resource's come from its CRD's schema (and it
/// has no strategic merge patch).
pub fn merge_tables(r: &Resource) -> crate::merging::KindTables {
    if let Some(c) = r.custom {
        return crate::merging::KindTables { patch: &[], assoc: c.assoc };
    }
    let made = crate::merging::cached_tables((r.group, r.version, r.kind), || {
        let f = kind_schema(r.group, r.version, r.kind)?;
        let mut g = Flavor::V3.generator();
        let root = ref_name(&f(&mut g))?;
        Some(crate::merging::tables(g.definitions(), &root))
    });
    // Every built-in kind has a schema (`every_served_kind_has_a_schema`).
    made.unwrap_or(crate::merging::KindTables { patch: crate::patch::OBJECT_META_LISTS, assoc: &[] })
}

/// Strategic merge patch's table of a resource.
pub fn patch_table(r: &Resource) -> crate::patch::PatchTable {
    merge_tables(r).patch
}

/// Which document a schema set is for: refs differ (`#/components/schemas/` or
/// `#/definitions/`).
#[derive(Clone, Copy, PartialEq)]
enum Flavor {
    V3,
    V2,
}

impl Flavor {
    fn generator(self) -> SchemaGenerator {
        let mut s = match self {
            Flavor::V3 => SchemaSettings::openapi3(),
            Flavor::V2 => SchemaSettings::draft07(),
        };
        s.meta_schema = None;
        s.into_generator()
    }

    fn reference(self, name: &str) -> Value {
        match self {
            Flavor::V3 => json!({ "$ref": format!("#/components/schemas/{name}") }),
            Flavor::V2 => json!({ "$ref": format!("#/definitions/{name}") }),
        }
    }
}

/// The name a `$ref` schema points at.
fn ref_name(s: &schemars::Schema) -> Option<String> {
    s.get("$ref")?.as_str()?.rsplit('/').next().map(str::to_string)
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({ "group": group, "kind": kind, "version": version })
}

/// Schemas and paths of a set of group versions.
struct Builder {
    flavor: Flavor,
    generator: SchemaGenerator,
    /// Extra definitions (list kinds) and GVK extensions to add: name → (schema, gvks).
    lists: BTreeMap<String, Value>,
    gvks: BTreeMap<String, Vec<Value>>,
    paths: Map<String, Value>,
}

impl Builder {
    fn new(flavor: Flavor) -> Builder {
        Builder {
            flavor,
            generator: flavor.generator(),
            lists: BTreeMap::new(),
            gvks: BTreeMap::new(),
            paths: Map::new(),
        }
    }

    /// The schema name of a kind (registered with its GVK), if we have its schema.
    fn kind(&mut self, group: &str, version: &str, kind: &str) -> Option<String> {
        let name = match kind_schema(group, version, kind) {
            Some(f) => ref_name(&f(&mut self.generator))?,
            None => self.custom_kind(group, version, kind)?,
        };
        let list = self.gvks.entry(name.clone()).or_default();
        let g = gvk(group, version, kind);
        if !list.contains(&g) {
            list.push(g);
        }
        Some(name)
    }

    /// A custom resource's schema (its CRD's `openAPIV3Schema` with the object's standard
    /// fields), named as upstream names it (`com.example.stable.v1.CronTab`).
    fn custom_kind(&mut self, group: &str, version: &str, kind: &str) -> Option<String> {
        let r = registry::all()
            .find(|r| r.custom.is_some() && r.group == group && r.version == version && r.kind == kind)?;
        let c = r.custom?;
        let reversed: Vec<&str> = group.split('.').rev().collect();
        let name = format!("{}.{version}.{kind}", reversed.join("."));
        let meta =
            ref_name(&self.generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta>())?;
        let mut schema = if c.openapi_schema.is_object() { c.openapi_schema.clone() } else { json!({}) };
        schema["type"] = json!("object");
        if !schema["properties"].is_object() {
            schema["properties"] = json!({});
        }
        let props = &mut schema["properties"];
        props["apiVersion"] = json!({
            "description": "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources",
            "type": "string",
        });
        props["kind"] = json!({
            "description": "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds",
            "type": "string",
        });
        props["metadata"] = self.with_description(
            &meta,
            "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
        );
        self.lists.insert(name.clone(), schema);
        Some(name)
    }

    /// A meta type (DeleteOptions, Status, ...) that exists in every group version.
    fn meta<T: schemars::JsonSchema>(&mut self, group: &str, version: &str, kind: Option<&str>) -> String {
        let name = ref_name(&self.generator.subschema_for::<T>()).unwrap_or_default();
        if let Some(kind) = kind {
            let list = self.gvks.entry(name.clone()).or_default();
            let g = gvk(group, version, kind);
            if !list.contains(&g) {
                list.push(g);
            }
        }
        name
    }

    /// The `<Kind>List` schema for a kind schema `item`.
    fn list(&mut self, r: &Resource, item: &str) -> String {
        let name = format!("{item}List");
        let list_meta =
            ref_name(&self.generator.subschema_for::<k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta>())
                .unwrap_or_default();
        let schema = json!({
            "description": format!("{}List is a list of {} objects.", r.kind, r.kind),
            "type": "object",
            "properties": {
                "apiVersion": {
                    "description": "The versioned schema of this representation of an object.",
                    "type": "string",
                },
                "items": {
                    "description": format!("The {} in the list.", r.name),
                    "type": "array",
                    "items": self.flavor.reference(item),
                },
                "kind": {
                    "description": "The REST resource this object represents.",
                    "type": "string",
                },
                "metadata": self.with_description(&list_meta, "Standard list metadata."),
            },
            "required": ["items"],
        });
        self.lists.insert(name.clone(), schema);
        self.gvks.insert(name.clone(), vec![gvk(r.group, r.version, &format!("{}List", r.kind))]);
        name
    }

    /// A reference with a description beside it (`allOf` in v3, where `$ref` siblings
    /// are ignored).
    fn with_description(&self, name: &str, description: &str) -> Value {
        match self.flavor {
            Flavor::V3 => json!({ "allOf": [self.flavor.reference(name)], "description": description }),
            Flavor::V2 => {
                let mut r = self.flavor.reference(name);
                r["description"] = json!(description);
                r
            }
        }
    }

    /// Adds the paths of one resource.
    fn resource(&mut self, r: &'static Resource) {
        let Some(item) = self.kind(r.group, r.version, r.kind) else {
            return;
        };
        let list = self.list(r, &item);
        let status = self.meta::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>(r.group, r.version, None);
        let delete_options = self.meta::<k8s_openapi::apimachinery::pkg::apis::meta::v1::DeleteOptions>(
            r.group,
            r.version,
            Some("DeleteOptions"),
        );
        let patch = self.meta::<k8s_openapi::apimachinery::pkg::apis::meta::v1::Patch>(r.group, r.version, None);
        let base = if r.group.is_empty() { "/api/v1".to_string() } else { format!("/apis/{}/{}", r.group, r.version) };
        let (coll, scope) = if r.namespaced {
            (format!("{base}/namespaces/{{namespace}}/{}", r.name), "Namespaced")
        } else {
            (format!("{base}/{}", r.name), "")
        };
        let id = |verb: &str, suffix: &str| {
            format!("{verb}{}{}{scope}{}{suffix}", group_id(r.group), capitalize(r.version), r.kind)
        };
        let gvk = gvk(r.group, r.version, r.kind);
        let can = |v: &str| r.verbs.contains(&v);
        let ops = Ops { flavor: self.flavor, gvk: &gvk, tag: tag(r.group, r.version), custom: r.custom.is_some() };

        let mut coll_ops = Map::new();
        if can("list") {
            coll_ops.insert("get".into(), ops.op(&id("list", ""), "list", &list, &[LIST_PARAMS], None, &[200]));
        }
        if can("create") {
            coll_ops.insert(
                "post".into(),
                ops.op(&id("create", ""), "post", &item, &[WRITE_PARAMS], Some(&item), &[200, 201, 202]),
            );
        }
        if can("deletecollection") {
            coll_ops.insert(
                "delete".into(),
                ops.op(
                    &id("delete", "").replacen("delete", "deleteCollection", 1),
                    "deletecollection",
                    &status,
                    &[LIST_PARAMS, DELETE_PARAMS],
                    Some(&delete_options),
                    &[200],
                ),
            );
        }
        self.add_path(&coll, coll_ops, r.namespaced, false);

        let mut item_ops = Map::new();
        if can("get") {
            item_ops.insert("get".into(), ops.op(&id("read", ""), "get", &item, &[], None, &[200]));
        }
        if can("update") {
            item_ops.insert(
                "put".into(),
                ops.op(&id("replace", ""), "put", &item, &[WRITE_PARAMS], Some(&item), &[200, 201]),
            );
        }
        if can("patch") {
            item_ops.insert("patch".into(), ops.patch(&id("patch", ""), &item, &patch));
        }
        if can("delete") {
            item_ops.insert(
                "delete".into(),
                ops.op(&id("delete", ""), "delete", &item, &[DELETE_PARAMS], Some(&delete_options), &[200, 202]),
            );
        }
        self.add_path(&format!("{coll}/{{name}}"), item_ops, r.namespaced, true);

        if r.namespaced && can("list") {
            let mut all = Map::new();
            all.insert(
                "get".into(),
                ops.op(
                    &id("list", "ForAllNamespaces").replace("Namespaced", ""),
                    "list",
                    &list,
                    &[LIST_PARAMS],
                    None,
                    &[200],
                ),
            );
            self.add_path(&format!("{base}/{}", r.name), all, false, false);
        }

        for sub in r.subresources {
            let (target, verbs): (Option<String>, &[&str]) = match sub {
                Subresource::Status => (Some(item.clone()), &["get", "put", "patch"]),
                Subresource::Scale => (self.kind("autoscaling", "v1", "Scale"), &["get", "put", "patch"]),
                Subresource::Binding => (self.kind("", "v1", "Binding"), &["post"]),
                Subresource::Eviction => (self.kind("policy", "v1", "Eviction"), &["post"]),
                Subresource::Approval | Subresource::Finalize => (Some(item.clone()), &["put"]),
                Subresource::EphemeralContainers => (Some(item.clone()), &["get", "put", "patch"]),
            };
            let Some(target) = target else { continue };
            let suffix = capitalize(sub.name());
            let sub_gvk = if target == item {
                gvk.clone()
            } else {
                self.gvks.get(&target).and_then(|g| g.first().cloned()).unwrap_or_else(|| gvk.clone())
            };
            let sops =
                Ops { flavor: self.flavor, gvk: &sub_gvk, tag: tag(r.group, r.version), custom: r.custom.is_some() };
            let mut m = Map::new();
            for v in verbs {
                let op = match *v {
                    "get" => sops.op(&id("read", &suffix), "get", &target, &[], None, &[200]),
                    "put" => {
                        sops.op(&id("replace", &suffix), "put", &target, &[WRITE_PARAMS], Some(&target), &[200, 201])
                    }
                    "patch" => sops.patch(&id("patch", &suffix), &target, &patch),
                    _ => sops.op(
                        &id("create", &suffix),
                        "post",
                        &target,
                        &[WRITE_PARAMS],
                        Some(&target),
                        &[200, 201, 202],
                    ),
                };
                m.insert((*v).into(), op);
            }
            self.add_path(&format!("{coll}/{{name}}/{}", sub.name()), m, r.namespaced, true);
        }
    }

    fn add_path(&mut self, path: &str, ops: Map<String, Value>, namespaced: bool, named: bool) {
        if ops.is_empty() {
            return;
        }
        let mut item = ops;
        let mut params = Vec::new();
        if named {
            params.push(param(self.flavor, "name", "path", "The name of the object.", true));
        }
        if namespaced {
            params.push(param(self.flavor, "namespace", "path", "The namespace of the object.", true));
        }
        params.push(param(self.flavor, "pretty", "query", "Whether to pretty-print the output.", false));
        item.insert("parameters".into(), Value::Array(params));
        self.paths.insert(path.to_string(), Value::Object(item));
    }

    /// Every component schema, with the GVK extensions.
    fn schemas(mut self) -> (Map<String, Value>, Map<String, Value>) {
        let mut defs: Map<String, Value> = self.generator.take_definitions(true).into_iter().collect();
        for (name, schema) in std::mem::take(&mut self.lists) {
            defs.insert(name, schema);
        }
        for (name, schema) in defs.iter_mut() {
            for fact in crate::merging::of(name) {
                let target = if fact.property.is_empty() {
                    Some(&mut *schema)
                } else {
                    schema.get_mut("properties").and_then(|p| p.get_mut(fact.property))
                };
                if let Some(Value::Object(t)) = target {
                    t.extend(fact.extensions());
                }
            }
        }
        for (name, gvks) in &self.gvks {
            if let Some(Value::Object(s)) = defs.get_mut(name) {
                s.insert("x-kubernetes-group-version-kind".into(), Value::Array(gvks.clone()));
            }
        }
        let mut sorted: Vec<(String, Value)> = defs.into_iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        (sorted.into_iter().collect(), self.paths)
    }
}

/// Query parameter groups.
const LIST_PARAMS: &[(&str, &str, &str)] = &[
    ("allowWatchBookmarks", "boolean", "Request BOOKMARK events on a watch."),
    ("continue", "string", "The continue token of the previous page."),
    ("fieldSelector", "string", "Restrict the returned objects by their fields."),
    ("labelSelector", "string", "Restrict the returned objects by their labels."),
    ("limit", "integer", "The maximum number of objects in one page."),
    ("resourceVersion", "string", "Which version of the collection a list or watch starts from."),
    ("resourceVersionMatch", "string", "How resourceVersion is applied to a list."),
    ("sendInitialEvents", "boolean", "Start a watch with the current objects as ADDED events."),
    ("timeoutSeconds", "integer", "Timeout of the list or watch call."),
    ("watch", "boolean", "Watch for changes instead of listing."),
];
const WRITE_PARAMS: &[(&str, &str, &str)] = &[
    ("dryRun", "string", "All: process the request completely but store nothing."),
    ("fieldManager", "string", "The name of the actor making the change."),
    ("fieldValidation", "string", "Ignore, Warn or Strict: what to do with unknown or duplicate fields."),
];
const DELETE_PARAMS: &[(&str, &str, &str)] = &[
    ("dryRun", "string", "All: process the request completely but store nothing."),
    ("gracePeriodSeconds", "integer", "Seconds before the object is deleted."),
    ("propagationPolicy", "string", "Orphan, Background or Foreground: what happens to dependents."),
];

fn param(flavor: Flavor, name: &str, place: &str, description: &str, required: bool) -> Value {
    typed_param(flavor, name, place, "string", description, required)
}

fn typed_param(flavor: Flavor, name: &str, place: &str, ty: &str, description: &str, required: bool) -> Value {
    let mut p = json!({ "name": name, "in": place, "description": description });
    if required {
        p["required"] = json!(true);
    }
    match flavor {
        Flavor::V3 => p["schema"] = json!({ "type": ty, "uniqueItems": true }),
        Flavor::V2 => {
            p["type"] = json!(ty);
            p["uniqueItems"] = json!(true);
        }
    }
    p
}

/// Builds operations of one kind.
struct Ops<'a> {
    flavor: Flavor,
    gvk: &'a Value,
    tag: String,
    /// A custom resource: no strategic merge patch (kubectl reads this to pick its patch type).
    custom: bool,
}

const MEDIA: &[&str] = &["application/json", "application/yaml", "application/vnd.kubernetes.protobuf"];

impl Ops<'_> {
    #[allow(clippy::too_many_arguments)]
    fn op(
        &self,
        id: &str,
        action: &str,
        response: &str,
        params: &[&[(&str, &str, &str)]],
        body: Option<&str>,
        codes: &[u16],
    ) -> Value {
        let mut parameters: Vec<Value> = params
            .iter()
            .flat_map(|g| g.iter())
            .map(|(n, ty, d)| typed_param(self.flavor, n, "query", ty, d, false))
            .collect();
        let mut op = json!({
            "tags": [self.tag],
            "operationId": id,
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": self.gvk,
        });
        let mut responses = Map::new();
        for code in codes {
            let description = match code {
                201 => "Created",
                202 => "Accepted",
                _ => "OK",
            };
            responses.insert(code.to_string(), self.response(description, response));
        }
        responses.insert("401".into(), json!({ "description": "Unauthorized" }));
        op["responses"] = Value::Object(responses);
        if let Some(body) = body {
            match self.flavor {
                Flavor::V3 => {
                    op["requestBody"] = json!({
                        "content": { "*/*": { "schema": self.flavor.reference(body) } },
                        "required": action != "delete" && action != "deletecollection",
                    })
                }
                Flavor::V2 => parameters.insert(
                    0,
                    json!({ "name": "body", "in": "body", "required": action != "delete" && action != "deletecollection", "schema": self.flavor.reference(body) }),
                ),
            }
        }
        if self.flavor == Flavor::V2 {
            op["consumes"] = json!(["*/*"]);
            op["produces"] = json!(MEDIA);
            op["schemes"] = json!(["https"]);
        }
        op["parameters"] = Value::Array(parameters);
        op
    }

    fn patch(&self, id: &str, response: &str, patch: &str) -> Value {
        let mut op = self.op(id, "patch", response, &[WRITE_PARAMS], None, &[200, 201]);
        if let Some(Value::Array(ps)) = op.get_mut("parameters") {
            ps.push(typed_param(self.flavor, "force", "query", "boolean", "Force an apply request.", false));
        }
        let types: &[&str] = if self.custom {
            &["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"]
        } else {
            &["application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json"]
        };
        match self.flavor {
            Flavor::V3 => {
                let content: Map<String, Value> =
                    types.iter().map(|t| (t.to_string(), json!({ "schema": self.flavor.reference(patch) }))).collect();
                op["requestBody"] = json!({ "content": content, "required": true });
            }
            Flavor::V2 => {
                op["consumes"] = json!(types);
                if let Some(Value::Array(ps)) = op.get_mut("parameters") {
                    ps.insert(0, json!({ "name": "body", "in": "body", "required": true, "schema": self.flavor.reference(patch) }));
                }
            }
        }
        op
    }

    fn response(&self, description: &str, schema: &str) -> Value {
        match self.flavor {
            Flavor::V3 => {
                let content: Map<String, Value> =
                    MEDIA.iter().map(|t| (t.to_string(), json!({ "schema": self.flavor.reference(schema) }))).collect();
                json!({ "description": description, "content": content })
            }
            Flavor::V2 => json!({ "description": description, "schema": self.flavor.reference(schema) }),
        }
    }
}

/// `Core`, `Apps`, `RbacAuthorization`, `Networking`: a group in operation ids.
fn group_id(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group.trim_end_matches(".k8s.io").split('.').map(capitalize).collect()
}

fn tag(group: &str, version: &str) -> String {
    let g = if group.is_empty() { "core".to_string() } else { group.trim_end_matches(".k8s.io").replace('.', "_") };
    format!("{g}_{version}")
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

fn info() -> Value {
    json!({ "title": "Kubernetes", "version": crate::discovery::version()["gitVersion"].clone() })
}

/// One group version's OpenAPI 3.0 document, and a hash of it.
struct V3Doc {
    body: Vec<u8>,
    hash: String,
}

/// The documents of the custom resources' group versions, for one registry generation.
type CustomDocs = (u64, Arc<BTreeMap<String, V3Doc>>);

fn custom_v3_docs() -> Arc<BTreeMap<String, V3Doc>> {
    static DOCS: Mutex<Option<CustomDocs>> = Mutex::new(None);
    let generation = registry::custom::generation();
    let mut cached = DOCS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((g, docs)) = cached.as_ref()
        && *g == generation
    {
        return docs.clone();
    }
    let docs = Arc::new(build_v3_docs(&registry::custom::groups()));
    *cached = Some((generation, docs.clone()));
    docs
}

/// `api/v1`, `apis/apps/v1`, ... → document.
fn v3_docs() -> &'static BTreeMap<String, V3Doc> {
    static DOCS: OnceLock<BTreeMap<String, V3Doc>> = OnceLock::new();
    DOCS.get_or_init(|| build_v3_docs(registry::GROUPS))
}

fn build_v3_docs(groups: &[&'static registry::Group]) -> BTreeMap<String, V3Doc> {
    {
        let mut docs = BTreeMap::new();
        for g in groups {
            for gv in g.versions {
                let mut b = Builder::new(Flavor::V3);
                for r in gv.resources {
                    b.resource(r);
                }
                let (schemas, paths) = b.schemas();
                let doc = json!({
                    "openapi": "3.0.0",
                    "info": info(),
                    "paths": paths,
                    "components": { "schemas": schemas },
                });
                let body = serde_json::to_vec(&doc).unwrap_or_default();
                let hash = hash_hex(&body);
                let key = if g.name.is_empty() {
                    format!("api/{}", gv.version)
                } else {
                    format!("apis/{}/{}", g.name, gv.version)
                };
                docs.insert(key, V3Doc { body, hash });
            }
        }
        docs
    }
}

/// A stable content hash (FNV-1a, 64-bit, twice with different offsets), upper-case hex
/// like upstream's: clients use it only to cache by URL.
fn hash_hex(bytes: &[u8]) -> String {
    let fnv = |mut h: u64| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100000001b3);
        }
        h
    };
    format!("{:016X}{:016X}", fnv(0xcbf29ce484222325), fnv(0x84222325cbf29ce4))
}

/// `/openapi/v3`: where each group version's document is.
pub fn v3_index() -> Value {
    let custom = custom_v3_docs();
    let paths: Map<String, Value> = v3_docs()
        .iter()
        .chain(custom.iter())
        .map(|(k, d)| (k.clone(), json!({ "serverRelativeURL": format!("/openapi/v3/{k}?hash={}", d.hash) })))
        .collect();
    json!({ "paths": paths })
}

/// `/openapi/v3/<gv>`: the document (JSON bytes) and its hash.
pub fn v3_document(gv: &str) -> Option<(Vec<u8>, String)> {
    if let Some(d) = v3_docs().get(gv) {
        return Some((d.body.clone(), d.hash.clone()));
    }
    custom_v3_docs().get(gv).map(|d| (d.body.clone(), d.hash.clone()))
}

/// `/openapi/v2`: every group version in one Swagger 2.0 document (JSON bytes), built
/// again when the served custom resources change.
pub fn v2_document() -> Arc<Vec<u8>> {
    static DOC: Mutex<Option<(u64, Arc<Vec<u8>>)>> = Mutex::new(None);
    let generation = registry::custom::generation();
    let mut cached = DOC.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((g, doc)) = cached.as_ref()
        && *g == generation
    {
        return doc.clone();
    }
    let mut b = Builder::new(Flavor::V2);
    for r in registry::all() {
        b.resource(r);
    }
    let (definitions, paths) = b.schemas();
    let doc = json!({ "swagger": "2.0", "info": info(), "paths": paths, "definitions": definitions });
    let doc = Arc::new(serde_json::to_vec(&doc).unwrap_or_default());
    *cached = Some((generation, doc.clone()));
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patch::ListMerge;

    fn doc(gv: &str) -> Value {
        serde_json::from_slice(&v3_document(gv).expect("document").0).expect("json")
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        for r in registry::all().filter(|r| r.custom.is_none()) {
            assert!(
                kind_schema(r.group, r.version, r.kind).is_some(),
                "no schema for {}/{} {}",
                r.group,
                r.version,
                r.kind
            );
        }
    }

    #[test]
    fn kinds_carry_their_group_version_kind() {
        let d = doc("apis/apps/v1");
        let dep = &d["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            dep["x-kubernetes-group-version-kind"],
            json!([{ "group": "apps", "kind": "Deployment", "version": "v1" }])
        );
        assert!(dep["description"].as_str().unwrap().contains("Deployment"));
        let list = &d["components"]["schemas"]["io.k8s.api.apps.v1.DeploymentList"];
        assert_eq!(list["properties"]["items"]["items"]["$ref"], "#/components/schemas/io.k8s.api.apps.v1.Deployment");
        // References resolve within the document.
        let text = serde_json::to_string(&d).unwrap();
        for r in text.split("\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(d["components"]["schemas"].get(name).is_some(), "dangling reference {name}");
        }
    }

    #[test]
    fn patch_operations_offer_field_validation_and_dry_run() {
        let d = doc("api/v1");
        let patch = &d["paths"]["/api/v1/namespaces/{namespace}/configmaps/{name}"]["patch"];
        assert_eq!(patch["operationId"], "patchCoreV1NamespacedConfigMap");
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "ConfigMap");
        let names: Vec<&str> =
            patch["parameters"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
        for p in ["dryRun", "fieldManager", "fieldValidation"] {
            assert!(names.contains(&p), "{p} missing from {names:?}");
        }
        assert!(d["paths"]["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces");
        assert!(d["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]["put"].is_object());
    }

    #[test]
    fn the_index_points_at_every_group_version() {
        let idx = v3_index();
        let url = idx["paths"]["apis/apps/v1"]["serverRelativeURL"].as_str().unwrap();
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        assert!(idx["paths"]["api/v1"].is_object());
        let v2: Value = serde_json::from_slice(&v2_document()).unwrap();
        assert!(v2["definitions"]["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"].is_array());
        assert_eq!(v2["swagger"], "2.0");
    }

    #[test]
    fn patch_tables_come_from_the_schemas() {
        let pods = patch_table(registry::find("pods").unwrap());
        let has = |p: &str, m: ListMerge| pods.iter().any(|(q, n)| *q == p && *n == m);
        assert!(has("spec.containers", ListMerge::ByKey("name")));
        assert!(has("spec.initContainers.ports", ListMerge::ByKey("containerPort")));
        assert!(has("spec.containers.volumeDevices", ListMerge::ByKey("devicePath")));
        assert!(has("metadata.finalizers", ListMerge::Primitive));
        assert!(has("status.conditions", ListMerge::ByKey("type")));
        // Atomic lists and lists without a strategy are not in the table.
        assert!(!pods.iter().any(|(q, _)| *q == "spec.tolerations"));
    }
}
