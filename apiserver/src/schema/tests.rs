//! Unit tests of the structural-schema engine. Expected messages are upstream's wording (see the
//! comments in `upstream_wording` for where each was observed).

use serde_json::{Value, json};

use super::*;

const BASE: &str = "spec.versions[0].schema.openAPIV3Schema";

fn schema(v: Value) -> Structural {
    Structural::new(&v, BASE).unwrap_or_else(|e| panic!("schema refused: {e:?}"))
}

fn refusal(v: Value) -> Vec<String> {
    match Structural::new(&v, BASE) {
        Ok(_) => panic!("schema accepted: {v}"),
        Err(errs) => errs.into_iter().map(|e| e.message).collect(),
    }
}

fn messages(s: &Structural, obj: Value) -> Vec<String> {
    s.validate(&obj).into_iter().map(|e| e.message).collect()
}

fn object(props: Value) -> Value {
    json!({"type": "object", "properties": props})
}

#[test]
fn structural_invariants_with_upstream_messages() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            object(json!({"spec": {"properties": {"a": {"type": "string"}}}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields",
            ],
        ),
        (
            json!({"type": "string"}),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root"#,
            ],
        ),
        (
            json!({"properties": {"a": {"type": "string"}}}),
            vec!["spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root"],
        ),
        (
            object(json!({"list": {"type": "array"}})),
            vec!["spec.versions[0].schema.openAPIV3Schema.properties[list].items: Required value: must be specified"],
        ),
        (
            object(json!({"list": {"type": "array", "items": {}}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[list].items.type: Required value: must not be empty for specified array items",
            ],
        ),
        (
            json!({"type": "object", "nullable": true}),
            vec!["spec.versions[0].schema.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root"],
        ),
        (
            object(json!({"a": {"type": "string", "anyOf": [{"type": "string", "description": "x"}]}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[a].anyOf[0].description: Forbidden: must be empty to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].anyOf[0].type: Forbidden: must be empty to be structural",
            ],
        ),
        (
            object(
                json!({"a": {"type": "object", "allOf": [{"default": 1, "nullable": true, "x-kubernetes-list-type": "set"}]}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].default: Forbidden: must be undefined to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].nullable: Forbidden: must be false to be structural",
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].x-kubernetes-list-type: Forbidden: must be undefined to be structural",
                // The CRD OpenAPI checks (after the structural ones) look into allOf too.
                "spec.versions[0].schema.openAPIV3Schema.properties[a].allOf[0].type: Required value: must be array if x-kubernetes-list-type is specified",
            ],
        ),
        (
            json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}}),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
            ],
        ),
        (
            json!({"type": "object", "properties": {"metadata": {"type": "string"}}}),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[metadata].type: Invalid value: "string": must be object"#,
            ],
        ),
        (
            json!({"type": "object", "properties": {"kind": {"type": "integer"}}}),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[kind].type: Invalid value: "integer": must be string"#,
            ],
        ),
        (
            json!({"type": "object", "anyOf": [{"properties": {"missing": {"minLength": 1}}}]}),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[missing]: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.anyOf[0].properties[missing]",
            ],
        ),
        (
            object(
                json!({"spec": {"type": "object", "properties": {"metadata": {"type": "object"}}, "anyOf": [{"properties": {"metadata": {}}}]}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[spec].anyOf[0].properties[metadata]: Forbidden: must not be specified in a nested context",
            ],
        ),
        (
            object(json!({"e": {"type": "string", "x-kubernetes-embedded-resource": true}})),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields"#,
                r#"spec.versions[0].schema.openAPIV3Schema.properties[e].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#,
            ],
        ),
        (
            object(
                json!({"m": {"type": "object", "additionalProperties": {"type": "string"}, "allOf": [{"x-kubernetes-validations": [{"rule": "true"}]}]}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[m].allOf[0].x-kubernetes-validations: Forbidden: must be empty to be structural",
            ],
        ),
        (
            json!({"type": "object", "allOf": [{"properties": {"m": {"properties": {"k": {"maxLength": 2}}}}}], "properties": {"m": {"type": "object", "additionalProperties": {"type": "string"}}}}),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[m].properties[k]: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.allOf[0].properties[m].properties[k]",
            ],
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root",
            ],
        ),
        (
            object(json!({"p": {"type": "string", "pattern": "a("}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[p].pattern: Invalid value: \"a(\": must be a valid regular expression, but isn't: error parsing regexp: missing closing ): `a(`",
            ],
        ),
    ];
    for (schema, want) in cases {
        assert_eq!(refusal(schema.clone()), want, "{schema}");
    }
}

#[test]
fn crd_openapi_restrictions() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            object(json!({"l": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            ],
        ),
        (
            object(json!({"r": {"$ref": "#/definitions/x", "type": "object"}})),
            vec!["spec.versions[0].schema.openAPIV3Schema.properties[r].$ref: Forbidden: $ref is not supported"],
        ),
        (
            object(
                json!({"m": {"type": "object", "properties": {"a": {"type": "string"}}, "additionalProperties": {"type": "string"}}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
            ],
        ),
        (
            json!({"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}}),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[metadata].default: Forbidden: must not be set in top-level metadata",
            ],
        ),
        (
            object(json!({"a": {"type": "string", "x-kubernetes-preserve-unknown-fields": false}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
            ],
        ),
        (
            object(
                json!({"l": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "x-kubernetes-list-type": "map"}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
            ],
        ),
        (
            object(json!({"l": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "bag"}})),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#,
            ],
        ),
        (
            object(
                json!({"l": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}, "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"]}}),
            ),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[l].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            ],
        ),
        (
            object(json!({"t": {"type": "null"}})),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[t].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string""#,
                "spec.versions[0].schema.openAPIV3Schema.properties[t].type: Forbidden: type cannot be set to null, use nullable as an alternative",
            ],
        ),
        (
            object(json!({"a": {"type": "string", "x-kubernetes-validations": [{"rule": " "}]}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[a].x-kubernetes-validations[0].rule: Required value: rule is not specified",
            ],
        ),
    ];
    for (schema, want) in cases {
        assert_eq!(refusal(schema.clone()), want, "{schema}");
    }
}

#[test]
fn defaults_must_be_pruned_and_valid() {
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            object(
                json!({"a": {"type": "object", "properties": {"b": {"type": "string"}}, "default": {"b": "x", "c": 1}}}),
            ),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[a].default: Invalid value: map[string]interface {}{"b":"x", "c":1}: must not have unknown fields"#,
            ],
        ),
        (
            object(json!({"a": {"type": "object", "properties": {"b": {"type": "integer"}}, "default": {"b": "x"}}})),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[a].default.b: Invalid value: "string": b in body must be of type integer: "string""#,
            ],
        ),
        (
            // kube-openapi names additional properties `<path>.<key>` even at the root of the default.
            object(json!({"m": {"type": "object", "additionalProperties": {"type": "string"}, "default": {"a": 1}}})),
            vec![
                r#"spec.versions[0].schema.openAPIV3Schema.properties[m].default.a: Invalid value: "integer": .a in body must be of type string: "integer""#,
            ],
        ),
        (
            object(json!({"a": {"type": "integer", "minimum": 3, "default": 1}})),
            vec![
                "spec.versions[0].schema.openAPIV3Schema.properties[a].default: Invalid value: 1:  in body should be greater than or equal to 3",
            ],
        ),
    ];
    for (schema, want) in cases {
        assert_eq!(refusal(schema.clone()), want, "{schema}");
    }
    // Defaults inside an embedded resource's object meta must make valid metadata.
    let embedded = object(json!({"t": {
        "type": "object",
        "x-kubernetes-embedded-resource": true,
        "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "default": "a/b"}}}},
    }}));
    assert_eq!(
        refusal(embedded),
        [
            r#"spec.versions[0].schema.openAPIV3Schema.properties[t].properties[metadata].properties[name].default: Invalid value: "a/b": must result in valid metadata: metadata.name: Invalid value: "a/b": may not contain '/'"#
        ]
    );
    // Structural errors hide default errors, as upstream checks defaults only on structural schemas.
    let both = object(json!({"a": {"type": "integer", "default": "x"}, "b": {}}));
    assert_eq!(
        refusal(both),
        [
            "spec.versions[0].schema.openAPIV3Schema.properties[b].type: Required value: must not be empty for specified object fields"
        ]
    );
}

#[test]
fn accepted_schemas() {
    let s = schema(json!({
        "type": "object",
        "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}},
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "self.replicas >= 0", "message": "no"}],
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "port": {"x-kubernetes-int-or-string": true, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                },
                "oneOf": [{"required": ["replicas"]}, {"required": ["port"]}],
            },
        },
    }));
    assert_eq!(s.at(".spec.replicas").map(|r| r.type_.as_str()), Some("integer"));
    assert_eq!(s.at("spec.labels.anything").map(|r| r.type_.as_str()), Some("string"));
    assert!(s.at(".spec.nothing").is_none());
    assert!(s.has_validation_rules());
    // The int-or-string pattern under allOf is structural too.
    schema(object(
        json!({"p": {"x-kubernetes-int-or-string": true, "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"maxLength": 3}]}}),
    ));
}

#[test]
fn pruning_drops_unknown_fields_and_reports_them() {
    let s = schema(json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "known": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string"}}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true, "properties": {"inner": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                    "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "properties": {"spec": {"type": "object", "properties": {"x": {"type": "string"}}}}},
                },
            },
        },
    }));
    let mut obj = json!({
        "apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a"},
        "extra": true,
        "spec": {
            "known": "k", "unknown": 1,
            "list": [{"a": "x", "b": "y"}],
            "free": {"anything": {"goes": 1}, "inner": {"x": "1", "y": "2"}},
            "map": {"k1": {"v": "1", "w": "2"}},
            "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "bogus": 1}, "spec": {"x": "1", "y": 2}, "status": {}},
        },
    });
    let dropped = s.prune(&mut obj);
    assert_eq!(
        dropped,
        [
            "extra",
            "spec.free.inner.y",
            "spec.list[0].b",
            "spec.map.k1.w",
            "spec.template.metadata.bogus",
            "spec.template.spec.y",
            "spec.template.status",
            "spec.unknown",
        ]
    );
    assert_eq!(
        obj,
        json!({
            "apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a"},
            "spec": {
                "known": "k",
                "list": [{"a": "x"}],
                "free": {"anything": {"goes": 1}, "inner": {"x": "1"}},
                "map": {"k1": {"v": "1"}},
                "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"x": "1"}},
            },
        })
    );
    // Without any schema for a nested object, everything in it goes; the root meta stays.
    let bare = schema(json!({"type": "object"}));
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}, "spec": {"a": 1}});
    assert_eq!(bare.prune(&mut obj), ["spec"]);
    assert_eq!(obj, json!({"apiVersion": "a/v1", "kind": "K", "metadata": {"name": "x"}}));
}

#[test]
fn defaulting_nested_in_arrays_and_of_objects() {
    let s = schema(json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "default": {},
                "properties": {
                    "replicas": {"type": "integer", "default": 1},
                    "strategy": {"type": "object", "default": {"type": "Rolling"}, "properties": {"type": {"type": "string"}, "maxSurge": {"type": "integer", "default": 25}}},
                    "ports": {"type": "array", "items": {"type": "object", "properties": {"protocol": {"type": "string", "default": "TCP"}, "port": {"type": "integer"}}}},
                    "nullable": {"type": "string", "nullable": true, "default": "d"},
                    "plain": {"type": "string"},
                },
            },
        },
    }));
    let mut obj = json!({"apiVersion": "a/v1", "kind": "K", "metadata": {}});
    s.apply_defaults(&mut obj);
    assert_eq!(obj["spec"], json!({"replicas": 1, "strategy": {"type": "Rolling", "maxSurge": 25}, "nullable": "d"}));
    let mut obj = json!({"spec": {"replicas": null, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}], "nullable": null, "plain": null}});
    s.apply_defaults(&mut obj);
    assert_eq!(
        obj["spec"],
        json!({
            "replicas": 1,
            "ports": [{"port": 80, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "nullable": null,
            "strategy": {"type": "Rolling", "maxSurge": 25},
        })
    );
}

fn keyword_schema(prop: Value) -> Structural {
    schema(object(json!({"spec": {"type": "object", "properties": {"x": prop}}})))
}

fn check(prop: Value, value: Value) -> Vec<String> {
    messages(&keyword_schema(prop), json!({"spec": {"x": value}}))
}

#[test]
fn validation_keywords() {
    let cases: Vec<(Value, Value, Vec<&str>)> = vec![
        (
            json!({"type": "integer"}),
            json!("3"),
            vec![r#"spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#],
        ),
        (
            json!({"type": "integer"}),
            json!(1.5),
            vec![r#"spec.x: Invalid value: "number": spec.x in body must be of type integer: "number""#],
        ),
        (json!({"type": "integer"}), json!(2.0), vec![]),
        (json!({"type": "number"}), json!(2), vec![]),
        (
            json!({"type": "string"}),
            Value::Null,
            vec![r#"spec.x: Invalid value: "null": spec.x in body must be of type string: "null""#],
        ),
        (json!({"type": "string", "nullable": true}), Value::Null, vec![]),
        (
            json!({"type": "string", "nullable": true, "enum": ["a"]}),
            Value::Null,
            vec![r#"spec.x: Unsupported value: "null": supported values: "a""#],
        ),
        (
            json!({"type": "boolean"}),
            json!({}),
            vec![r#"spec.x: Invalid value: "object": spec.x in body must be of type boolean: "object""#],
        ),
        (
            json!({"type": "string", "format": "date-time"}),
            json!("soon"),
            vec![r#"spec.x: Invalid value: "soon": spec.x in body must be of type date-time: "soon""#],
        ),
        (json!({"type": "string", "format": "int32"}), json!("soon"), vec![]),
        (
            json!({"type": "string", "enum": ["a", "b"]}),
            json!("c"),
            vec![r#"spec.x: Unsupported value: "c": supported values: "a", "b""#],
        ),
        (
            json!({"type": "integer", "enum": [1, 2]}),
            json!(3),
            vec![r#"spec.x: Unsupported value: 3: supported values: "1", "2""#],
        ),
        (
            json!({"type": "integer", "minimum": 1}),
            json!(0),
            vec!["spec.x: Invalid value: 0: spec.x in body should be greater than or equal to 1"],
        ),
        (
            json!({"type": "integer", "minimum": 1, "exclusiveMinimum": true}),
            json!(1),
            vec!["spec.x: Invalid value: 1: spec.x in body should be greater than 1"],
        ),
        (
            json!({"type": "integer", "maximum": 10}),
            json!(11),
            vec!["spec.x: Invalid value: 11: spec.x in body should be less than or equal to 10"],
        ),
        (
            json!({"type": "number", "maximum": 1.5, "exclusiveMaximum": true}),
            json!(1.5),
            vec!["spec.x: Invalid value: 1.5: spec.x in body should be less than 1.5"],
        ),
        (
            json!({"type": "integer", "multipleOf": 5}),
            json!(7),
            vec!["spec.x: Invalid value: 7: spec.x in body should be a multiple of 5"],
        ),
        (json!({"type": "number", "multipleOf": 0.5}), json!(1.5), vec![]),
        (
            json!({"type": "string", "minLength": 3}),
            json!("ab"),
            vec![r#"spec.x: Invalid value: "ab": spec.x in body should be at least 3 chars long"#],
        ),
        (
            json!({"type": "string", "maxLength": 3}),
            json!("abcd"),
            vec!["spec.x: Too long: may not be more than 3 bytes"],
        ),
        (json!({"type": "string", "maxLength": 3}), json!("äöü"), vec![]),
        (
            json!({"type": "string", "pattern": "^[a-z]+$"}),
            json!("A1"),
            vec![r#"spec.x: Invalid value: "A1": spec.x in body should match '^[a-z]+$'"#],
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "minItems": 2}),
            json!(["a"]),
            vec!["spec.x: Invalid value: 1: spec.x in body should have at least 2 items"],
        ),
        (
            json!({"type": "array", "items": {"type": "string"}, "maxItems": 1}),
            json!(["a", "b"]),
            vec!["spec.x: Too many: 2: must have at most 1 items"],
        ),
        (
            json!({"type": "array", "items": {"type": "integer"}}),
            json!([1, "b"]),
            vec![r#"spec.x[1]: Invalid value: "string": spec.x[1] in body must be of type integer: "string""#],
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}, "minProperties": 2}),
            json!({"a": "1"}),
            vec!["spec.x: Invalid value: 1: spec.x in body should have at least 2 properties"],
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 1}),
            json!({"a": "1", "b": "2"}),
            vec!["spec.x: Too many: 2: must have at most 1 items"],
        ),
        (
            json!({"type": "object", "additionalProperties": {"type": "string"}}),
            json!({"a": 1}),
            vec![r#"spec.x.a: Invalid value: "integer": spec.x.a in body must be of type string: "integer""#],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["a", "b"]}),
            json!({"a": "1"}),
            vec!["spec.x.b: Required value"],
        ),
        (
            json!({"type": "object", "additionalProperties": false}),
            json!({"foo": 1}),
            vec![r#"spec.x: Invalid value: "foo": spec.x.foo in body is a forbidden property"#],
        ),
        (
            json!({"x-kubernetes-int-or-string": true}),
            json!(true),
            vec![r#"spec.x: Invalid value: "boolean": spec.x in body must be of type integer,string: "boolean""#],
        ),
        (json!({"x-kubernetes-int-or-string": true}), json!("50%"), vec![]),
        (json!({"x-kubernetes-int-or-string": true}), json!(3), vec![]),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}),
            json!({}),
            vec![
                r#"<nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf)"#,
                "spec.x.a: Required value",
            ],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}),
            json!({"a": "1", "b": "2"}),
            vec![
                r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
            ],
        ),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}),
            json!({}),
            vec![
                r#"<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid"#,
                "spec.x.a: Required value",
            ],
        ),
        (
            json!({"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]}),
            json!("a"),
            vec![
                r#"spec.x: Invalid value: "a": spec.x in body should be at least 2 chars long"#,
                r#"<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf)"#,
            ],
        ),
        (
            json!({"type": "string", "not": {"enum": ["no"]}}),
            json!("no"),
            vec![r#"<nil>: Invalid value: "": "spec.x" must not validate the schema (not)"#],
        ),
        (
            json!({"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}),
            json!(["a", "b", "a", "a", "b"]),
            vec![r#"spec.x[2]: Duplicate value: "a""#, r#"spec.x[4]: Duplicate value: "b""#],
        ),
        (
            json!({"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"], "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}}),
            json!([{"name": "a", "v": 1}, {"name": "b"}, {"name": "a", "v": 2}]),
            vec![r#"spec.x[2]: Duplicate value: map[string]interface {}{"name":"a"}"#],
        ),
        (
            json!({"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}),
            json!({"metadata": {"name": "a/b"}, "kind": "bad_kind"}),
            vec![
                "spec.x.apiVersion: Required value",
                r#"spec.x.kind: Invalid value: "bad_kind": may have mixed case, but should otherwise match: a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"#,
                r#"spec.x.metadata.name: Invalid value: "a/b": may not contain '/'"#,
            ],
        ),
    ];
    for (prop, value, want) in cases {
        assert_eq!(check(prop.clone(), value.clone()), want, "{prop} with {value}");
    }
}

#[test]
fn field_errors_render_through_status() {
    // What the API client sees in the end, through `status::ApiError::invalid`.
    let s = keyword_schema(json!({"type": "integer"}));
    let errs = s.validate(&json!({"spec": {"x": "string"}}));
    let status = crate::status::ApiError::invalid("Thing", "a", &errs).to_status();
    assert_eq!(
        status["message"],
        r#"Thing "a" is invalid: spec.x: Invalid value: "string": spec.x in body must be of type integer: "string""#
    );
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldValueTypeInvalid");
    assert_eq!(status["details"]["causes"][0]["field"], "spec.x");
    assert_eq!(
        status["details"]["causes"][0]["message"],
        r#"Invalid value: "string": spec.x in body must be of type integer: "string""#
    );
}

#[test]
fn json_paths() {
    let obj = json!({"spec": {"replicas": 3, "list": [{"a": 1}]}, "metadata": {"labels": {"app": "x"}}});
    assert_eq!(json_path(&obj, ".spec.replicas"), Some(&json!(3)));
    assert_eq!(json_path(&obj, ".spec.list[0].a"), Some(&json!(1)));
    assert_eq!(json_path(&obj, ".metadata.labels.app"), Some(&json!("x")));
    assert_eq!(json_path(&obj, ".spec.missing"), None);
    assert_eq!(json_path(&obj, ".spec.list[1].a"), None);
    assert_eq!(json_path(&obj, "."), Some(&obj));
    let pod = json!({"spec": {"containers": [{"image": "a"}, {"name": "x"}, {"image": "b"}]}});
    assert_eq!(json_path_all(&pod, ".spec.containers[*].image"), [&json!("a"), &json!("b")]);
    assert_eq!(json_path_all(&pod, ".spec.containers[0].image"), [&json!("a")]);
    assert!(json_path_all(&pod, ".spec.missing[*]").is_empty());
    assert_eq!(json_path(&pod, ".spec.containers[*].image"), None);
}

#[test]
fn updates_ratchet_unchanged_values() {
    let s = keyword_schema(
        json!({"type": "object", "properties": {"a": {"type": "string", "maxLength": 2}, "b": {"type": "integer"}, "c": {"type": "string"}}, "required": ["c"]}),
    );
    let old = json!({"spec": {"x": {"a": "long", "b": 1}}});
    // `a` was already too long: it is let through. `c` was missing before too, but the object that
    // requires it changed, so (as upstream, which ratchets per schema node) that error stays.
    let new = json!({"spec": {"x": {"a": "long", "b": "one"}}});
    assert_eq!(s.validate(&new).len(), 3);
    assert_eq!(
        s.validate_update(&new, &old).into_iter().map(|e| e.message).collect::<Vec<_>>(),
        [
            r#"spec.x.b: Invalid value: "string": spec.x.b in body must be of type integer: "string""#,
            "spec.x.c: Required value"
        ]
    );
    // Changing the bad value is validated again.
    let changed = json!({"spec": {"x": {"a": "longer", "b": 1, "c": "x"}}});
    assert_eq!(
        s.validate_update(&changed, &old).into_iter().map(|e| e.message).collect::<Vec<_>>(),
        ["spec.x.a: Too long: may not be more than 2 bytes"]
    );
}

/// Messages as upstream prints them, from texts observed in public material (tests of
/// kube-apiserver's users and of kubernetes itself, error reports quoting a real apiserver):
/// - `properties[a].type: Required value: must not be empty for specified object fields`: the
///   NonStructuralSchema condition message checked by kubernetes' apiextensions integration tests;
/// - `<nil>: Invalid value: "": "spec" must validate at least one schema (anyOf)` followed by
///   `spec.ingress: Required value`: a CiliumNetworkPolicy refused by a real apiserver;
/// - `"spec.source" must validate one and only one schema (oneOf). Found 2 valid alternatives`:
///   a VolumeSnapshot refused by a real apiserver (Velero documentation);
/// - `...constants[0].name: Invalid value: "": ...constants[0].name in body should be at least 1
///   chars long`: Pinniped's CRD validation tests;
/// - `uniqueItems cannot be set to true since the runtime complexity becomes quadratic`: kube-rs
///   and Crossplane documentation quoting the apiserver.
#[test]
fn upstream_wording() {
    let refused = refusal(object(json!({"a": {"properties": {"b": {"type": "string"}}}})));
    assert_eq!(
        refused,
        [
            "spec.versions[0].schema.openAPIV3Schema.properties[a].type: Required value: must not be empty for specified object fields"
        ]
    );

    let cnp = schema(object(json!({"spec": {
        "type": "object",
        "properties": {"ingress": {"type": "array", "items": {"type": "object"}}, "egress": {"type": "array", "items": {"type": "object"}}, "enableDefaultDeny": {"type": "object"}},
        "anyOf": [{"required": ["ingress"]}, {"required": ["egress"]}],
    }})));
    assert_eq!(
        messages(&cnp, json!({"spec": {"enableDefaultDeny": {}}})),
        [
            r#"<nil>: Invalid value: "": "spec" must validate at least one schema (anyOf)"#,
            "spec.ingress: Required value"
        ]
    );

    let snapshot = schema(object(json!({"spec": {"type": "object", "properties": {"source": {
        "type": "object",
        "properties": {"persistentVolumeClaimName": {"type": "string"}, "volumeSnapshotContentName": {"type": "string"}},
        "oneOf": [{"required": ["persistentVolumeClaimName"]}, {"required": ["volumeSnapshotContentName"]}],
    }}}})));
    assert_eq!(
        messages(
            &snapshot,
            json!({"spec": {"source": {"persistentVolumeClaimName": "pvc", "volumeSnapshotContentName": "vsc"}}})
        ),
        [
            r#"<nil>: Invalid value: "": "spec.source" must validate one and only one schema (oneOf). Found 2 valid alternatives"#
        ]
    );

    let idp = schema(object(
        json!({"spec": {"type": "object", "properties": {"identityProviders": {"type": "array", "items": {
            "type": "object",
            "properties": {"transforms": {"type": "object", "properties": {"constants": {"type": "array", "items": {
                "type": "object", "properties": {"name": {"type": "string", "minLength": 1}},
            }}}}},
        }}}}}),
    ));
    assert_eq!(
        messages(&idp, json!({"spec": {"identityProviders": [{"transforms": {"constants": [{"name": ""}]}}]}})),
        [
            r#"spec.identityProviders[0].transforms.constants[0].name: Invalid value: "": spec.identityProviders[0].transforms.constants[0].name in body should be at least 1 chars long"#
        ]
    );

    let unique = refusal(object(json!({"s": {"type": "array", "items": {"type": "string"}, "uniqueItems": true}})));
    assert!(
        unique[0]
            .ends_with("Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic")
    );
}

#[test]
fn patterns_have_go_semantics() {
    // RE2's Perl classes are ASCII-only.
    assert!(go_regex(r"^\d+$").unwrap().is_match("123"));
    assert!(!go_regex(r"^\d+$").unwrap().is_match("١٢٣"));
    assert!(go_regex(r"^[\d.]+$").unwrap().is_match("1.2"));
    assert!(go_regex(r"^[]a]+$").unwrap().is_match("]a"));
    assert!(go_regex(r"^\w+\s\S$").unwrap().is_match("ab x"));
    assert!(!go_regex(r"^\w+$").unwrap().is_match("é"));
    assert!(go_regex(r"\bx\b").unwrap().is_match("a x b"));
    assert!(go_regex(r"^a\.b$").unwrap().is_match("a.b"));
}

/// The shapes controller-gen emits (kubebuilder's CronJob tutorial and typical operators): metadata
/// as a bare object, quantities as int-or-string with a pattern, embedded templates, map lists,
/// CEL rules, status with conditions.
#[test]
fn a_controller_gen_schema_round_trip() {
    let s = schema(json!({
        "description": "CronJob is the Schema for the cronjobs API",
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string", "description": "APIVersion defines the versioned schema"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["schedule"],
                "x-kubernetes-validations": [{"rule": "self.schedule != ''", "message": "schedule must be set"}],
                "properties": {
                    "schedule": {"type": "string", "minLength": 0},
                    "concurrencyPolicy": {"type": "string", "enum": ["Allow", "Forbid", "Replace"], "default": "Allow"},
                    "startingDeadlineSeconds": {"type": "integer", "format": "int64", "minimum": 0},
                    "suspend": {"type": "boolean"},
                    "memory": {
                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                        "pattern": "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$",
                        "x-kubernetes-int-or-string": true,
                    },
                    "jobTemplate": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": true,
                        "x-kubernetes-preserve-unknown-fields": true,
                    },
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                        "items": {
                            "type": "object",
                            "required": ["containerPort"],
                            "properties": {
                                "containerPort": {"type": "integer", "format": "int32"},
                                "protocol": {"type": "string", "default": "TCP"},
                            },
                        },
                    },
                    "selector": {
                        "type": "object",
                        "x-kubernetes-map-type": "atomic",
                        "properties": {"matchLabels": {"type": "object", "additionalProperties": {"type": "string"}}},
                    },
                },
            },
            "status": {
                "type": "object",
                "properties": {
                    "active": {"type": "array", "x-kubernetes-list-type": "atomic", "items": {"type": "object", "x-kubernetes-map-type": "atomic", "properties": {"name": {"type": "string"}}}},
                    "lastScheduleTime": {"type": "string", "format": "date-time"},
                    "conditions": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["type"],
                        "items": {
                            "type": "object",
                            "required": ["type", "status"],
                            "properties": {
                                "type": {"type": "string", "maxLength": 316},
                                "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
                                "observedGeneration": {"type": "integer", "format": "int64", "minimum": 0},
                            },
                        },
                    },
                },
            },
        },
    }));
    let mut obj = json!({
        "apiVersion": "batch.tutorial.kubebuilder.io/v1",
        "kind": "CronJob",
        "metadata": {"name": "cj", "namespace": "default"},
        "spec": {
            "schedule": "*/1 * * * *",
            "memory": "128Mi",
            "jobTemplate": {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"labels": {"a": "b"}}, "spec": {"anything": true}},
            "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}],
            "typo": 1,
        },
        "status": {"lastScheduleTime": "2024-01-01T00:00:00Z", "conditions": [{"type": "Ready", "status": "True"}]},
    });
    assert_eq!(s.prune(&mut obj), ["spec.typo"]);
    s.apply_defaults(&mut obj);
    assert_eq!(obj["spec"]["concurrencyPolicy"], "Allow");
    assert_eq!(obj["spec"]["ports"][0]["protocol"], "TCP");
    assert_eq!(s.validate(&obj), []);

    obj["spec"]["memory"] = json!("lots");
    obj["spec"]["ports"][1]["protocol"] = json!("TCP");
    obj["status"]["conditions"][0]["status"] = json!("Maybe");
    obj["spec"]["startingDeadlineSeconds"] = json!(-1);
    assert_eq!(
        messages(&s, obj),
        [
            r#"spec.memory: Invalid value: "lots": spec.memory in body should match '^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$'"#,
            "spec.startingDeadlineSeconds: Invalid value: -1: spec.startingDeadlineSeconds in body should be greater than or equal to 0",
            r#"status.conditions[0].status: Unsupported value: "Maybe": supported values: "True", "False", "Unknown""#,
            r#"spec.ports[1]: Duplicate value: map[string]interface {}{"containerPort":80, "protocol":"TCP"}"#,
        ]
    );
}

#[test]
fn structural_is_shareable() {
    fn shareable<T: Clone + std::fmt::Debug + Send + Sync + 'static>() {}
    shareable::<Structural>();
}

#[test]
fn odd_inputs_do_not_panic() {
    let s = keyword_schema(json!({"type": "integer", "multipleOf": -1, "minimum": -1e300, "maximum": 1e300}));
    assert_eq!(s.validate(&json!({"spec": {"x": i64::MIN}})), []);
    let s = keyword_schema(json!({"type": "number", "multipleOf": 0.1}));
    assert_eq!(s.validate(&json!({"spec": {"x": 0.3}})), []);
    assert_eq!(gofmt::float(f64::MIN_POSITIVE), "2.2250738585072014e-308");
    assert_eq!(gofmt::float(1e21), "1e+21");
    // Anything at all as a schema is refused or accepted, never a panic.
    for v in [json!(null), json!([]), json!("x"), json!({"type": 1}), json!({"properties": []}), json!({"items": [{}]})]
    {
        assert!(Structural::new(&v, BASE).is_err(), "{v}");
    }
}
