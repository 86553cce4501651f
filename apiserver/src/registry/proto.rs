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
