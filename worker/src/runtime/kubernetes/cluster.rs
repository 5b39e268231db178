//! The runtime's one door to the Kubernetes API: every handle is asked for
//! with the verb it will be used for, checked against [`PERMISSIONS`]
//! (`super::permissions`), and every call that changes the cluster during
//! a convergence is retried here while the API is briefly unavailable.

use super::permissions::{self, PERMISSIONS};
use crate::runtime::{Failure, Limits, RuntimeError, Stop};
use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource};
use std::future::Future;
use std::time::Duration;

/// A client whose API handles name the permission they are used with.
#[derive(Clone)]
pub(super) struct Cluster {
    client: Client,
}

impl Cluster {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// `K` in namespace `namespace`, to be used for `verb`.
    pub fn namespaced<K>(&self, namespace: &str, verb: &'static str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        require::<K>(None, verb);
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `K` in every namespace (or a kind without namespaces), for `verb`.
    pub fn everywhere<K>(&self, verb: &'static str) -> Api<K>
    where
        K: Resource<DynamicType = ()>,
    {
        require::<K>(None, verb);
        Api::all(self.client.clone())
    }

    /// `K` in `namespace` for `verb` on its `subresource` (`log` of pods).
    pub fn subresource<K>(
        &self,
        namespace: &str,
        subresource: &'static str,
        verb: &'static str,
    ) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        require::<K>(Some(subresource), verb);
        Api::namespaced(self.client.clone(), namespace)
    }

    /// `K` in `namespace`, to be watched (which lists first).
    pub fn watched<K>(&self, namespace: &str) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        require::<K>(None, "list");
        self.namespaced(namespace, "watch")
    }
}

/// Stops a call the permission list does not grant, in debug builds and tests.
fn require<K: Resource<DynamicType = ()>>(subresource: Option<&str>, verb: &str) {
    let group = K::group(&());
    let resource = match subresource {
        Some(sub) => format!("{}/{sub}", K::plural(&())),
        None => K::plural(&()).into_owned(),
    };
    debug_assert!(
        permissions::allows(&group, &resource, verb),
        "`{verb}` on `{resource}` of group `{group}` is not in PERMISSIONS: {PERMISSIONS:?}"
    );
}

/// Whether an API error may go away by itself: the API server or the
/// connection to it failing, or asking us to slow down.
pub(super) fn transient(error: &kube::Error) -> bool {
    match error {
        kube::Error::Api(status) => status.code >= 500 || status.code == 429 || status.code == 0,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// The API answered 404.
pub(super) fn not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The API answered 409 to a create: the object is there already.
pub(super) fn already_exists(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}

/// How much of an API error may be shown: a Secret's errors may quote its
/// data, so only their code and reason are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Says {
    Message,
    ReasonOnly,
}

/// An API error as people read it, after `what` was tried.
pub(super) fn describe(what: &str, error: &kube::Error, says: Says) -> String {
    match (error, says) {
        (kube::Error::Api(status), Says::Message) if !status.message.is_empty() => {
            format!("{what}: {} ({})", status.message, status.code)
        }
        (kube::Error::Api(status), _) => format!("{what}: {} ({})", status.reason, status.code),
        (_, Says::Message) => format!("{what}: {error}"),
        (_, Says::ReasonOnly) => format!("{what}: the Kubernetes API failed"),
    }
}

/// An error of a call made outside a convergence, for the caller to retry or not.
pub(super) fn runtime_error(what: &str, error: &kube::Error, says: Says) -> RuntimeError {
    let text = describe(what, error, says);
    if transient(error) {
        RuntimeError::Transient(text)
    } else {
        RuntimeError::Failed(text)
    }
}

const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(5);

/// Makes a call that changes the cluster, within `limits`: only while the
/// drive may act (its fence), again with doubling pauses while the error is
/// transient and the limits hold, and as `Failure::Runtime` when it will
/// not work.
pub(super) async fn retrying<T, Fut>(
    limits: &Limits<'_>,
    what: &str,
    says: Says,
    mut call: impl FnMut() -> Fut,
) -> Result<T, Stop>
where
    Fut: Future<Output = Result<T, kube::Error>>,
{
    let mut pause = FIRST_PAUSE;
    loop {
        limits.fence()?;
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if transient(&error) => {
                tracing::warn!(error = %describe(what, &error, says), "retrying a Kubernetes call");
                limits.check()?;
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
            Err(error) => {
                return Err(Stop::Failed(Failure::Runtime(describe(what, &error, says))));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Instance, Pace, Traffic};
    use kube::core::Status;
    use slipway_core::domain::{AppName, Manifest};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct NoTraffic;

    impl Traffic for NoTraffic {
        fn announce(&self, _app: &AppName, _manifest: &Manifest) {}
        fn admit(&self, _instance: &Instance) {}
        fn drain<'a>(
            &'a self,
            _instance: &'a Instance,
            _timeout: Duration,
        ) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
            Box::pin(async { 0 })
        }
    }

    fn limits(within: Duration) -> Limits<'static> {
        Limits {
            deadline: chrono::Utc::now() + chrono::Duration::from_std(within).unwrap(),
            expired: Failure::Deadline { seconds: 1 },
            guard: None,
            honour_cancel: true,
            steps: None,
            pace: Pace {
                tick: Duration::from_millis(50),
                stop_grace: Duration::from_secs(1),
                failure_intervals: 3,
            },
            traffic: &NoTraffic,
        }
    }

    /// Fails with `code` the first `failures` times, then answers 7.
    async fn flaky(calls: &AtomicUsize, failures: usize, code: u16) -> Result<u8, kube::Error> {
        if calls.fetch_add(1, Ordering::SeqCst) < failures {
            Err(api_error(code, "the API server is unavailable"))
        } else {
            Ok(7)
        }
    }

    /// A call the list does not grant stops in tests, before it is made.
    #[cfg(debug_assertions)]
    #[tokio::test]
    #[should_panic(expected = "`delete` on `pods` of group `` is not in PERMISSIONS")]
    async fn a_call_outside_the_permissions_stops() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let cluster = Cluster::new(Client::try_from(config).unwrap());
        let _pods: Api<k8s_openapi::api::core::v1::Pod> = cluster.namespaced("ns", "delete");
    }

    #[tokio::test]
    async fn calls_inside_the_permissions_pass() {
        let config = kube::Config::new("http://127.0.0.1:9".parse().unwrap());
        let cluster = Cluster::new(Client::try_from(config).unwrap());
        let _: Api<k8s_openapi::api::core::v1::Pod> = cluster.subresource("ns", "log", "get");
        let _: Api<k8s_openapi::api::apps::v1::ReplicaSet> = cluster.watched("ns");
        let _: Api<k8s_openapi::api::core::v1::Namespace> = cluster.everywhere("patch");
    }

    #[tokio::test]
    async fn transient_errors_are_retried_until_the_call_works() {
        let calls = AtomicUsize::new(0);
        let limits = limits(Duration::from_secs(10));
        let result = retrying(&limits, "applying Deployment web", Says::Message, || {
            flaky(&calls, 2, 503)
        });
        assert_eq!(result.await, Ok(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_lasting_error_fails_at_once_with_its_message() {
        let calls = AtomicUsize::new(0);
        let limits = limits(Duration::from_secs(10));
        let result = retrying(&limits, "applying Deployment web", Says::Message, || {
            flaky(&calls, 1, 422)
        });
        assert_eq!(
            result.await,
            Err(Stop::Failed(Failure::Runtime(
                "applying Deployment web: the API server is unavailable (422)".into()
            )))
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_end_at_the_deadline() {
        let calls = AtomicUsize::new(0);
        let limits = limits(Duration::from_millis(300));
        let result = retrying(&limits, "applying Deployment web", Says::Message, || {
            flaky(&calls, usize::MAX, 500)
        });
        assert_eq!(
            result.await,
            Err(Stop::Failed(Failure::Deadline { seconds: 1 }))
        );
        assert!(calls.load(Ordering::SeqCst) >= 2);
    }

    fn api_error(code: u16, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(
            Status::failure(message, "Invalid").with_code(code),
        ))
    }

    #[test]
    fn server_errors_and_throttling_are_transient_client_errors_are_not() {
        assert!(transient(&api_error(500, "etcd")));
        assert!(transient(&api_error(503, "starting")));
        assert!(transient(&api_error(429, "slow down")));
        assert!(!transient(&api_error(422, "invalid")));
        assert!(!transient(&api_error(403, "forbidden")));
        assert!(not_found(&api_error(404, "gone")));
        assert!(already_exists(&api_error(409, "exists")));
    }

    #[test]
    fn a_secret_error_shows_no_message() {
        let error = api_error(422, "data[KEY]: Invalid value: \"hunter2\"");
        let quiet = describe("creating Secret env-r", &error, Says::ReasonOnly);
        assert_eq!(quiet, "creating Secret env-r: Invalid (422)");
        let loud = describe("applying Deployment web", &error, Says::Message);
        assert!(loud.contains("hunter2"), "{loud}");
    }
}
