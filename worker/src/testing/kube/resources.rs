//! The kinds the stand-in serves, how their URLs name them, and the
//! `Status` objects it answers errors with.

use serde_json::{json, Value};

/// One served kind: its plural in URLs, `kind`, `apiVersion`, and whether
/// it lives in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    pub plural: &'static str,
    pub kind: &'static str,
    pub api_version: &'static str,
    pub namespaced: bool,
}

/// Every kind the stand-in serves.
pub const RESOURCES: &[Resource] = &[
    Resource {
        plural: "namespaces",
        kind: "Namespace",
        api_version: "v1",
        namespaced: false,
    },
    Resource {
        plural: "secrets",
        kind: "Secret",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        plural: "configmaps",
        kind: "ConfigMap",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        plural: "services",
        kind: "Service",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        plural: "pods",
        kind: "Pod",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        plural: "deployments",
        kind: "Deployment",
        api_version: "apps/v1",
        namespaced: true,
    },
    Resource {
        plural: "replicasets",
        kind: "ReplicaSet",
        api_version: "apps/v1",
        namespaced: true,
    },
];

impl Resource {
    /// The resource that `apiVersion` (`v1`, `apps/v1`) and `plural` name.
    pub fn by_plural(api_version: &str, plural: &str) -> Option<Resource> {
        RESOURCES
            .iter()
            .copied()
            .find(|r| r.api_version == api_version && r.plural == plural)
    }

    /// The resource of a `kind` (`Deployment`).
    pub fn by_kind(kind: &str) -> Option<Resource> {
        RESOURCES.iter().copied().find(|r| r.kind == kind)
    }

    /// The API group (empty for the core group), as `Status` details name it.
    pub fn group(&self) -> &'static str {
        self.api_version.split_once('/').map_or("", |(g, _)| g)
    }
}

/// An error the API server answers with: the HTTP code, the `Status`
/// reason, and a message worded like the real server's.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Box<(Resource, String)>>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        ApiError {
            code,
            reason,
            message,
            details: None,
        }
    }

    /// 404 for the object `name` of `resource`.
    pub fn not_found(resource: Resource, name: &str) -> Self {
        let message = format!("{} \"{name}\" not found", qualified(resource));
        ApiError {
            details: Some(Box::new((resource, name.to_owned()))),
            ..Self::new(404, "NotFound", message)
        }
    }

    /// 404 for a path that names nothing the stand-in serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    /// 409 for creating an object whose name is taken.
    pub fn already_exists(resource: Resource, name: &str) -> Self {
        let message = format!("{} \"{name}\" already exists", qualified(resource));
        ApiError {
            details: Some(Box::new((resource, name.to_owned()))),
            ..Self::new(409, "AlreadyExists", message)
        }
    }

    /// 409 for a write whose `metadata.resourceVersion` is not the stored one.
    pub fn conflict(resource: Resource, name: &str) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
             please apply your changes to the latest version and try again",
            qualified(resource)
        );
        ApiError {
            details: Some(Box::new((resource, name.to_owned()))),
            ..Self::new(409, "Conflict", message)
        }
    }

    /// 400 for a body or a query the stand-in cannot read.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into())
    }

    /// 422 for an object that lacks what every object needs.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message.into())
    }

    /// 405 for a verb the path does not take.
    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method ({method}) on the requested resource"),
        )
    }

    /// 415 for a patch type the stand-in does not model (JSON patch).
    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!("the body of the request was in an unknown format ({content_type})"),
        )
    }

    /// The `Status` object the API server answers with.
    pub fn status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((resource, name)) = self.details.as_deref() {
            status["details"] =
                json!({"name": name, "group": resource.group(), "kind": resource.plural});
        }
        status
    }
}

/// `deployments.apps` or `pods`, as error messages name a resource.
fn qualified(resource: Resource) -> String {
    match resource.group() {
        "" => resource.plural.to_owned(),
        group => format!("{}.{group}", resource.plural),
    }
}

/// The `Status` answered for a successful delete of `name`.
pub fn deleted_status(resource: Resource, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": resource.group(), "kind": resource.plural, "uid": uid},
    })
}
