//! Protobuf schemas (field numbers from upstream's `generated.proto`) of the kinds the
//! registry serves beyond the first core ones, for request bodies sent by typed
//! clients (kubectl's `create` generators among them).

use crate::protobuf::Kind::*;
use crate::protobuf::{Field, OBJECT_META};

pub const LEASE: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "holderIdentity", Str),
            (2, "leaseDurationSeconds", OptInt),
            (3, "acquireTime", Time),
            (4, "renewTime", Time),
            (5, "leaseTransitions", OptInt),
            (6, "strategy", Str),
            (7, "preferredHolder", Str),
        ]),
    ),
];

pub const PRIORITY_CLASS: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (2, "value", OptInt),
    (3, "globalDefault", Bool),
    (4, "description", Str),
    (5, "preemptionPolicy", Str),
];

pub const BINDING: &[Field] =
    &[(1, "metadata", Msg(OBJECT_META)), (2, "target", Msg(crate::protobuf::OBJECT_REFERENCE))];

pub const SCALE: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (2, "spec", Msg(&[(1, "replicas", OptInt)])),
    (3, "status", Msg(&[(1, "replicas", OptInt), (2, "selector", Str)])),
];

pub const LABEL_SELECTOR: &[Field] = &[
    (1, "matchLabels", MapStr),
    (2, "matchExpressions", RepMsg(&[(1, "key", Str), (2, "operator", Str), (3, "values", RepStr)])),
];

const KEY_REF: &[Field] =
    &[(1, "localObjectReference", Inline(&[(1, "name", Str)])), (2, "key", Str), (3, "optional", OptBool)];

const ENV_VAR: &[Field] = &[
    (1, "name", Str),
    (2, "value", Str),
    (
        3,
        "valueFrom",
        Msg(&[
            (1, "fieldRef", Msg(&[(1, "apiVersion", Str), (2, "fieldPath", Str)])),
            (2, "resourceFieldRef", Msg(&[(1, "containerName", Str), (2, "resource", Str), (3, "divisor", Quantity)])),
            (3, "configMapKeyRef", Msg(KEY_REF)),
            (4, "secretKeyRef", Msg(KEY_REF)),
        ]),
    ),
];

const RESOURCES: &[Field] = &[(1, "limits", MapQuantity), (2, "requests", MapQuantity)];

pub const CONTAINER: &[Field] = &[
    (1, "name", Str),
    (2, "image", Str),
    (3, "command", RepStr),
    (4, "args", RepStr),
    (5, "workingDir", Str),
    (
        6,
        "ports",
        RepMsg(&[
            (1, "name", Str),
            (2, "hostPort", Int),
            (3, "containerPort", OptInt),
            (4, "protocol", Str),
            (5, "hostIP", Str),
        ]),
    ),
    (7, "env", RepMsg(ENV_VAR)),
    (8, "resources", Msg(RESOURCES)),
    (9, "volumeMounts", RepMsg(&[(1, "name", Str), (2, "readOnly", Bool), (3, "mountPath", Str), (4, "subPath", Str)])),
    (13, "terminationMessagePath", Str),
    (14, "imagePullPolicy", Str),
    (16, "stdin", Bool),
    (17, "stdinOnce", Bool),
    (18, "tty", Bool),
    (20, "terminationMessagePolicy", Str),
    (24, "restartPolicy", Str),
];

pub const POD_SPEC: &[Field] = &[
    (2, "containers", RepMsg(CONTAINER)),
    (3, "restartPolicy", Str),
    (4, "terminationGracePeriodSeconds", OptInt),
    (5, "activeDeadlineSeconds", OptInt),
    (6, "dnsPolicy", Str),
    (7, "nodeSelector", MapStr),
    (8, "serviceAccountName", Str),
    (9, "serviceAccount", Str),
    (10, "nodeName", Str),
    (11, "hostNetwork", Bool),
    (12, "hostPID", Bool),
    (13, "hostIPC", Bool),
    (15, "imagePullSecrets", RepMsg(&[(1, "name", Str)])),
    (16, "hostname", Str),
    (17, "subdomain", Str),
    (19, "schedulerName", Str),
    (20, "initContainers", RepMsg(CONTAINER)),
    (21, "automountServiceAccountToken", OptBool),
    (
        22,
        "tolerations",
        RepMsg(&[
            (1, "key", Str),
            (2, "operator", Str),
            (3, "value", Str),
            (4, "effect", Str),
            (5, "tolerationSeconds", OptInt),
        ]),
    ),
    (24, "priorityClassName", Str),
    (25, "priority", OptInt),
    (29, "runtimeClassName", Str),
    (30, "enableServiceLinks", OptBool),
    (31, "preemptionPolicy", Str),
];

pub const POD_TEMPLATE_SPEC: &[Field] = &[(1, "metadata", Msg(OBJECT_META)), (2, "spec", Msg(POD_SPEC))];

pub const POD: &[Field] = &[(1, "metadata", Msg(OBJECT_META)), (2, "spec", Msg(POD_SPEC))];

pub const SERVICE: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (
                1,
                "ports",
                RepMsg(&[
                    (1, "name", Str),
                    (2, "protocol", Str),
                    (3, "port", OptInt),
                    (4, "targetPort", IntOrStr),
                    (5, "nodePort", Int),
                    (6, "appProtocol", Str),
                ]),
            ),
            (2, "selector", MapStr),
            (3, "clusterIP", Str),
            (4, "type", Str),
            (5, "externalIPs", RepStr),
            (7, "sessionAffinity", Str),
            (8, "loadBalancerIP", Str),
            (10, "externalName", Str),
            (11, "externalTrafficPolicy", Str),
            (13, "publishNotReadyAddresses", Bool),
            (17, "ipFamilyPolicy", Str),
            (18, "clusterIPs", RepStr),
            (19, "ipFamilies", RepStr),
            (20, "allocateLoadBalancerNodePorts", OptBool),
            (21, "loadBalancerClass", Str),
            (22, "internalTrafficPolicy", Str),
        ]),
    ),
];

pub const RESOURCE_QUOTA: &[Field] =
    &[(1, "metadata", Msg(OBJECT_META)), (2, "spec", Msg(&[(1, "hard", MapQuantity), (2, "scopes", RepStr)]))];

pub const DEPLOYMENT: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "replicas", OptInt),
            (2, "selector", Msg(LABEL_SELECTOR)),
            (3, "template", Msg(POD_TEMPLATE_SPEC)),
            (
                4,
                "strategy",
                Msg(&[
                    (1, "type", Str),
                    (2, "rollingUpdate", Msg(&[(1, "maxUnavailable", IntOrStr), (2, "maxSurge", IntOrStr)])),
                ]),
            ),
            (5, "minReadySeconds", Int),
            (6, "revisionHistoryLimit", OptInt),
            (7, "paused", Bool),
            (9, "progressDeadlineSeconds", OptInt),
        ]),
    ),
];

pub const JOB_SPEC: &[Field] = &[
    (1, "parallelism", OptInt),
    (2, "completions", OptInt),
    (3, "activeDeadlineSeconds", OptInt),
    (4, "selector", Msg(LABEL_SELECTOR)),
    (5, "manualSelector", OptBool),
    (6, "template", Msg(POD_TEMPLATE_SPEC)),
    (7, "backoffLimit", OptInt),
    (8, "ttlSecondsAfterFinished", OptInt),
    (9, "completionMode", Str),
    (10, "suspend", OptBool),
];

pub const JOB: &[Field] = &[(1, "metadata", Msg(OBJECT_META)), (2, "spec", Msg(JOB_SPEC))];

pub const CRON_JOB: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "schedule", Str),
            (2, "startingDeadlineSeconds", OptInt),
            (3, "concurrencyPolicy", Str),
            (4, "suspend", OptBool),
            (5, "jobTemplate", Msg(&[(1, "metadata", Msg(OBJECT_META)), (2, "spec", Msg(JOB_SPEC))])),
            (6, "successfulJobsHistoryLimit", OptInt),
            (7, "failedJobsHistoryLimit", OptInt),
            (8, "timeZone", Str),
        ]),
    ),
];

pub const EVICTION: &[Field] =
    &[(1, "metadata", Msg(OBJECT_META)), (2, "deleteOptions", Msg(crate::protobuf::DELETE_OPTIONS))];

pub const POD_DISRUPTION_BUDGET: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "minAvailable", IntOrStr),
            (2, "selector", Msg(LABEL_SELECTOR)),
            (3, "maxUnavailable", IntOrStr),
            (4, "unhealthyPodEvictionPolicy", Str),
        ]),
    ),
];

pub const HPA_V1: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "scaleTargetRef", Msg(&[(1, "kind", Str), (2, "name", Str), (3, "apiVersion", Str)])),
            (2, "minReplicas", OptInt),
            (3, "maxReplicas", OptInt),
            (4, "targetCPUUtilizationPercentage", OptInt),
        ]),
    ),
];

const CSR_CONDITION: &[Field] = &[
    (1, "type", Str),
    (2, "reason", Str),
    (3, "message", Str),
    (4, "lastUpdateTime", Time),
    (5, "lastTransitionTime", Time),
    (6, "status", Str),
];

pub const CSR: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (1, "request", Bytes),
            (2, "username", Str),
            (3, "uid", Str),
            (4, "groups", RepStr),
            (5, "usages", RepStr),
            (7, "signerName", Str),
            (8, "expirationSeconds", OptInt),
        ]),
    ),
    (3, "status", Msg(&[(1, "conditions", RepMsg(CSR_CONDITION)), (2, "certificate", Bytes)])),
];

const INGRESS_BACKEND: &[Field] = &[
    (4, "service", Msg(&[(1, "name", Str), (2, "port", Msg(&[(1, "name", Str), (2, "number", Int)]))])),
    (3, "resource", Msg(&[(1, "apiGroup", Str), (2, "kind", Str), (3, "name", Str)])),
];

pub const INGRESS: &[Field] = &[
    (1, "metadata", Msg(OBJECT_META)),
    (
        2,
        "spec",
        Msg(&[
            (4, "ingressClassName", Str),
            (1, "defaultBackend", Msg(INGRESS_BACKEND)),
            (2, "tls", RepMsg(&[(1, "hosts", RepStr), (2, "secretName", Str)])),
            (
                3,
                "rules",
                RepMsg(&[
                    (1, "host", Str),
                    (
                        2,
                        "ingressRuleValue",
                        Inline(&[(
                            1,
                            "http",
                            Msg(&[(
                                1,
                                "paths",
                                RepMsg(&[(1, "path", Str), (3, "pathType", Str), (2, "backend", Msg(INGRESS_BACKEND))]),
                            )]),
                        )]),
                    ),
                ]),
            ),
        ]),
    ),
];
